"""config.yaml + environment -> one typed Settings object.

Secrets never live in config.yaml: the bot token comes from TELEGRAM_BOT_TOKEN
and the webhook secret from TELEGRAM_WEBHOOK_SECRET.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CONFIG = Path("config.yaml")


class ConfigError(Exception):
    """The configuration cannot be used; the message is one line for the user."""


@dataclass(frozen=True)
class MatchSettings:
    """Confidence thresholds (0-100) for answering and for suggesting passages."""

    answer_threshold: int = 50
    suggest_threshold: int = 20
    related: int = 3
    related_threshold: int = 40  # a related passage shown under an answer scores at least this


@dataclass(frozen=True)
class TelegramSettings:
    token: str = field(default="", repr=False)
    mode: str = "polling"  # polling | webhook
    base_url: str = ""  # custom Bot API server, e.g. http://127.0.0.1:8081/bot
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_url: str = ""
    webhook_path: str = "telegram"
    webhook_secret: str = field(default="", repr=False)
    rate_limit: bool = True


@dataclass(frozen=True)
class Settings:
    content: Path
    cache_dir: Path
    feedback_db: Path
    match: MatchSettings
    telegram: TelegramSettings
    texts: dict[str, str]
    config_file: Path | None = None

    def text(self, key: str, **values: Any) -> str:
        """A user-facing string from config.yaml, formatted with ``values``."""
        template = self.texts.get(key, DEFAULT_TEXTS.get(key, key))
        return template.format(**values) if values else template


DEFAULT_TEXTS: dict[str, str] = {
    "welcome": "您好！我是《{report}》问答机器人。\n直接用中文提问即可，例如：“{example}”",
    "help": "直接发送问题即可，也可以使用命令：",
    "decline": "抱歉，报告中没有找到能回答这个问题的内容。",
    "decline_suggest": "您是不是想问：",
    "uncertain": "不太确定，以下内容可能相关：",
    "related": "相关内容：",
    "source": "出处：{path}",
    "missing": "原文此处缺失：{what}在来源中已丢失，报告只保留了{kept}。",
    "no_section": "报告没有第{number}部分，共有{count}个部分。",
    "no_slogan": "没有找到与“{word}”相关的口号。",
    "empty": "请输入您的问题。",
    "unknown_command": "未知命令：{command}。发送 /help 查看可用命令。",
    "feedback_thanks": "谢谢您的反馈！",
    "issued": "本文件由{issuer}发布，未署个人作者。",
    "issued_on": "本文件由{issuer}于{date}发布，未署个人作者。",
    "dated": "本文件的日期是{date}，文中没有写明发布单位和作者。",
    "no_author": "抱歉，这份报告没有署名，文中也没有写明发布单位，无法回答作者是谁。",
}


def _section(raw: dict[str, Any], name: str, cls: type, source: str) -> Any:
    values = raw.get(name) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: '{name}' must be a mapping")
    known = {f.name: f for f in fields(cls)}
    for key in values:
        if key not in known or key in ("token", "webhook_secret"):
            raise ConfigError(f"{source}: unknown setting '{name}.{key}'")
    typed = {}
    for key, value in values.items():
        default = known[key].default
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{source}: '{name}.{key}' must be true or false")
        if isinstance(default, int) and not isinstance(default, bool):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"{source}: '{name}.{key}' must be a whole number")
        if isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"{source}: '{name}.{key}' must be text")
        typed[key] = value
    return typed


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _check_template(path: Path, name: str, template: str) -> None:
    """A text of config.yaml must be a known one, using only its own {placeholders}."""
    if name not in DEFAULT_TEXTS:
        raise ConfigError(f"{path}: unknown text 'texts.{name}'")
    allowed = _placeholders(DEFAULT_TEXTS[name])
    try:
        unknown = sorted(_placeholders(template) - allowed)
    except ValueError:
        raise ConfigError(f"{path}: 'texts.{name}' has unbalanced braces") from None
    if unknown:
        known = ", ".join(f"{{{a}}}" for a in sorted(allowed)) or "none"
        raise ConfigError(
            f"{path}: 'texts.{name}' uses {{{unknown[0]}}}; its placeholders are: {known}"
        )


def load_settings(path: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read config.yaml (or $FAQBOT_CONFIG) and the environment into Settings."""
    env = os.environ if environ is None else environ
    path = path or Path(env.get("FAQBOT_CONFIG", DEFAULT_CONFIG))
    raw: dict[str, Any] = {}
    if path.is_file():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: cannot read ({error.__class__.__name__})") from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            raise ConfigError(f"{path}{line}: invalid YAML") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the configuration must be a mapping")
        raw = loaded or {}
    elif "FAQBOT_CONFIG" in env or path != DEFAULT_CONFIG:
        raise ConfigError(f"{path}: configuration file not found")
    base = path.parent if path.is_file() else Path.cwd()
    allowed = {"content", "cache_dir", "feedback_db", "match", "telegram", "texts"}
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{path}: unknown setting '{key}'")

    def location(key: str, default: str, env_name: str) -> Path:
        value = env.get(env_name) or raw.get(key, default)
        if not isinstance(value, str):
            raise ConfigError(f"{path}: '{key}' must be a path")
        return (base / value) if not Path(value).is_absolute() else Path(value)

    match = MatchSettings(**_section(raw, "match", MatchSettings, str(path)))
    if not 0 <= match.suggest_threshold <= match.answer_threshold <= 100:
        raise ConfigError(f"{path}: need 0 <= suggest_threshold <= answer_threshold <= 100")
    telegram_values = _section(raw, "telegram", TelegramSettings, str(path))
    if env.get("TELEGRAM_API_BASE_URL"):
        telegram_values["base_url"] = env["TELEGRAM_API_BASE_URL"]
    telegram = TelegramSettings(
        token=env.get("TELEGRAM_BOT_TOKEN", "").strip(),
        webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET", "").strip(),
        **telegram_values,
    )
    if telegram.mode not in ("polling", "webhook"):
        raise ConfigError(f"{path}: telegram.mode must be 'polling' or 'webhook'")
    texts = raw.get("texts") or {}
    if not isinstance(texts, dict) or not all(isinstance(v, str) for v in texts.values()):
        raise ConfigError(f"{path}: 'texts' must map names to text")
    for name, template in texts.items():
        _check_template(path, name, template)
    return Settings(
        content=location("content", "content", "FAQBOT_CONTENT"),
        cache_dir=location("cache_dir", "data/cache", "FAQBOT_CACHE_DIR"),
        feedback_db=location("feedback_db", "data/faqbot.sqlite3", "FAQBOT_FEEDBACK_DB"),
        match=match,
        telegram=telegram,
        texts={**DEFAULT_TEXTS, **texts},
        config_file=path if path.is_file() else None,
    )
