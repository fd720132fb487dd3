"""config.yaml + environment -> one typed Settings object.

Secrets never live in config.yaml: the bot token comes from TELEGRAM_BOT_TOKEN
and the webhook secret from TELEGRAM_WEBHOOK_SECRET.
"""

from __future__ import annotations

import ipaddress
import os
import re
import string
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bot import safe_yaml
from bot.errors import FaqbotError

DEFAULT_CONFIG = Path("config.yaml")
DEFAULT_RETENTION_DAYS = 90  # a quarter: long enough to see which questions recur
DEFAULT_CONTEXT_MINUTES = 10  # a follow-up reads the last answer this long: one conversation
MAX_CONTEXT_MINUTES = 1440  # a day: beyond it, 下一点呢 would follow an answer long forgotten
REPLY_SCRIPTS = ("auto", "simplified", "traditional")  # bot.script: follow the question or fix
MAX_RETENTION_DAYS = 3650  # ten years: anything larger is a typo
MAX_CONFIG_BYTES = 256 * 1024  # ours is 2 KB; room for long texts, none for a YAML bomb
# Allowed range of every number of the settings, and why (config.yaml repeats them).
NUMBER_RANGES: dict[str, tuple[int, int]] = {
    "match.answer_threshold": (0, 100),  # confidences are 0-100
    "match.suggest_threshold": (0, 100),
    "match.probable_threshold": (0, 100),
    "match.related": (0, 5),  # buttons in one row under an answer: 5 still fit a phone
    "match.related_threshold": (0, 100),
    "telegram.webhook_port": (1, 65535),  # TCP ports
    "telegram.health_port": (0, 65535),  # 0: no health server in polling mode
    # 0: no limit; beyond 1000 a per-user limit would not limit anything
    "telegram.user_messages": (0, 1000),
    # longer windows would mute a user for hours after one burst
    "telegram.user_seconds": (1, 3600),
}
MAX_TELEGRAM_ID = 2**52  # Telegram ids fit in 52 bits (its Bot API documentation says so)
_MODES = ("polling", "webhook")
LOG_FORMATS = ("text", "json")
# Path segments of letters, digits and . _ ~ - (RFC 3986 unreserved), not . or ..: nothing
# to escape or to be read as a query, fragment or another route.
_SEGMENT = r"(?!\.{1,2}(?:/|$))[A-Za-z0-9._~-]{1,100}"
_WEBHOOK_PATH = re.compile(rf"/?{_SEGMENT}(?:/{_SEGMENT}){{0,9}}")


class ConfigError(FaqbotError):
    """The configuration cannot be used; the message is one line for the user."""

    def format_message(self) -> str:
        return f"faqbot: {self}"


@dataclass(frozen=True)
class MatchSettings:
    """Confidence thresholds (0-100) for answering and for suggesting passages."""

    answer_threshold: int = 50
    suggest_threshold: int = 20
    probable_threshold: int = 25  # below answer_threshold, down to this: answered with a hedge
    related: int = 3
    related_threshold: int = 40  # a related passage shown under an answer scores at least this


@dataclass(frozen=True)
class TelegramSettings:
    token: str = field(default="", repr=False)
    mode: str = "polling"  # polling | webhook
    base_url: str = ""  # custom Bot API server, e.g. http://127.0.0.1:8081/bot
    webhook_listen: str = "127.0.0.1"  # behind a reverse proxy; 0.0.0.0 listens on every address
    webhook_port: int = 8443
    webhook_url: str = ""
    webhook_path: str = "telegram"
    webhook_secret: str = field(default="", repr=False)
    rate_limit: bool = True
    user_messages: int = 10  # each user may send this many messages (0: no limit) ...
    user_seconds: int = 10  # ... per this many seconds; one polite notice per burst beyond
    # polling mode: /healthz, /readyz and /metrics on this port (0: none; the webhook
    # server serves them in webhook mode), on this address
    health_port: int = 0
    health_listen: str = "127.0.0.1"


@dataclass(frozen=True)
class Settings:
    content: Path
    cache_dir: Path
    feedback_db: Path
    match: MatchSettings
    telegram: TelegramSettings
    texts: dict[str, str]
    config_file: Path | None = None
    retention_days: int = DEFAULT_RETENTION_DAYS  # use log records older than this are deleted
    log_format: str = "text"  # text | json (one object per line)
    log_message_text: bool = False  # log what users typed (escaped, clipped); off: lengths only
    context_minutes: int = DEFAULT_CONTEXT_MINUTES  # follow-ups read the last answer this long
    reply_script: str = "auto"  # auto (the question's script) | simplified | traditional
    # postgresql://user@host/db: keep all state there instead of feedback_db (may hold a
    # password: never shown, see redact_database_url)
    database_url: str = field(default="", repr=False)
    admins: frozenset[int] = frozenset()  # Telegram user ids allowed /stats, /review, /reload
    # chats (user and group ids) a private deployment serves, admins always; empty: everyone
    allowed_chats: frozenset[int] = frozenset()

    def text(self, key: str, **values: Any) -> str:
        """A user-facing string from config.yaml, formatted with ``values``."""
        template = self.texts.get(key, DEFAULT_TEXTS.get(key, key))
        if not values and _placeholders(template):
            return template  # the template itself, for callers that look into it
        return template.format(**values)  # also for texts without placeholders: {{ is {


DEFAULT_TEXTS: dict[str, str] = {
    "welcome": "您好！我是《{report}》问答机器人。\n直接用中文提问即可，例如：“{example}”",
    "help": "直接发送问题即可，也可以使用命令：",
    "decline": "抱歉，报告中没有找到能回答这个问题的内容。",
    "decline_suggest": "您是不是想问：",
    "uncertain": "不太确定，以下内容可能相关：",
    "probable": "可能是这一段（不太确定）：",
    "probable_runner_up": "也可能是：{title}",
    "decline_question": "报告里关于“{topic}”是怎么说的？",
    "related": "相关内容：",
    "source": "出处：{path}",
    "source_in_report": "出处：《{report}》 {path}",
    "choose_report": "几份报告都能回答这个问题，请选择报告：",
    "choose_report_item": "《{report}》：{title}",
    "reports_welcome": "可以问这{count}份报告，提问时会在各报告中查找；"
                       "发送 /reports 选择默认报告。",
    "reports_list": "本机器人可以回答这几份报告的问题（提问时会在各报告中查找）：",
    "reports_default": "当前默认报告：《{report}》。“作者是谁”“第二部分讲什么”这类问题先回答它。",
    "reports_choose": "点按钮或发送“/reports 2”设为默认报告。",
    "reports_set": "已将《{report}》设为默认报告：“作者是谁”“第二部分讲什么”这类问题先回答它。",
    "reports_unknown": "没有这份报告：{report}。共{count}份报告，发送 /reports 查看。",
    "missing": "原文此处缺失：{what}在来源中已丢失，报告只保留了{kept}。",
    "missing_title": "{measure}（原文缺失）",
    "nothing_kept": "无",
    "no_section": "报告没有第{number}部分，共有{count}个部分。",
    "no_measure": "报告第{section}部分只有{count}点，没有第{number}点。",
    "no_slogan": "没有找到与“{word}”相关的口号。",
    "empty": "请输入您的问题。",
    "unknown_command": "未知命令：{command}。发送 /help 查看可用命令。",
    "feedback_thanks": "谢谢您的反馈！",
    "too_fast": "您发送得太快了，请稍等片刻再提问。",
    "error": "抱歉，刚才出了点问题，请稍后再试，或发送 /help 查看用法。",
    "issued": "本文件由{issuer}发布，未署个人作者。",
    "issued_on": "本文件由{issuer}于{date}发布，未署个人作者。",
    "dated": "本文件的日期是{date}，文中没有写明发布单位和作者。",
    "no_author": "抱歉，这份报告没有署名，文中也没有写明发布单位，无法回答作者是谁。",
    "stale_button": "按钮已失效，请重新提问",
    "non_text": "我只能读文字：请直接用中文打字提问，例如“{example}”。",
    "group_start": "在群里这样问我：发送“@{bot} 问题”（如“@{bot} {example}”），"
                   "或回复我的任意一条消息；命令请带上我的名字，如 /sections@{bot}。"
                   "群里的其他消息我不会回复。",
    "description": "《{report}》问答机器人：直接用中文提问，我从报告原文中找出答案并注明出处。"
                   "也可以查看目录、口号，或在任意聊天中输入 @{bot} 关键词 分享段落。",
    "short_description": "用中文提问，从《{report}》原文中找答案并注明出处。",
    "inline_open": "打开机器人提问",
    "share": "📤 分享",
    "smalltalk_greeting": "您好！我是《{report}》问答机器人，关于报告内容的问题都可以问我。",
    "smalltalk_thanks": "不客气！还想了解什么，随时问我。",
    "smalltalk_goodbye": "再见！需要时随时来问。",
    "smalltalk_identity": "我是《{report}》的问答机器人：您用中文提问，"
                          "我从报告原文中找出答案并注明出处。",
    "smalltalk_abilities": "直接打字提问就行：报告讲了什么、某一部分或某一点的内容、谁写的，"
                           "我都从原文中回答；也可以查看目录和口号。答完后还可以问“详细说说”"
                           "“下一点呢”“出处在哪”。",
    "smalltalk_praise": "谢谢夸奖！很高兴能帮上忙。",
    "smalltalk_complaint": "抱歉没能答好。换个说法再问一次试试，或者从下面的问题开始；"
                           "也可以点回答下的 👎 告诉我们。",
    "smalltalk_insult": "我会继续努力。关于报告的问题，我很乐意回答。",
    "smalltalk_examples": "可以这样问：",
    "follow_up_source": "这段出自《{report}》：{path}。",
    "follow_up_first": "这已经是报告的第一段了。",
    "follow_up_last": "这已经是报告的最后一段了。",
    "follow_up_no_context": "请先提一个问题，我再接着讲（比如问完后说“详细说说”“下一点呢”）。",
    "follow_up_no_section": "这一段是报告的{title}，不属于某一部分。",
    "lang_set": "好的，之后的回复使用{script}。",
    "lang_usage": "用法：/lang 繁（繁体）、/lang 简（简体）或 /lang auto（跟随提问的字体）。",
    "not_allowed": "抱歉，这个机器人只为指定的用户和群组服务。",
    "recording_off": "没有记录使用情况（retention_days 为 0 或未启用记录），无法统计。",
    "store_unavailable": "暂时读不到使用记录：{error}",
    "stats_title": "📊 使用统计",
    "stats_questions": "提问：今天 {today} 个，近 {days} 天 {week} 个",
    "stats_shares": "回答 {answered}，不太确定 {hedged}，未答 {declined}",
    "stats_votes": "评价：👍 {good} · 👎 {bad}",
    "stats_hours": "最忙的时段：{hours}",
    "stats_unanswered": "未答最多的问题：",
    "review_unanswered": "未答或低置信度的问题（{where}）：",
    "review_worst": "评价最差的回答（👎 / 👍）：",
    "review_none": "（无）",
    "review_hint": "把常见的问法加到 YAML 的 questions: 里，再运行 faqbot validate。",
    "reload_done": "已重新加载：《{report}》，{passages} 段。",
    "reload_failed": "内容有误，仍在使用原来的内容：",
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
        if f"{name}.{key}" in NUMBER_RANGES:
            low, high = NUMBER_RANGES[f"{name}.{key}"]
            if not low <= value <= high:
                raise ConfigError(f"{source}: '{name}.{key}' must be {low} to {high}, not {value}")
        typed[key] = value
    return typed


def _placeholders(template: str) -> set[str]:
    """The {names} of a text; ValueError for braces that are not plain {name} placeholders
    (a format spec, conversion, attribute or index would let a text crash the bot or blow
    up every reply: {path:>999999999}, {path.__class__}, {path[0]})."""
    names = set()
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            raise ValueError(f"{{{name}{'!' + conversion if conversion else ''}"
                             f"{':' + spec if spec else ''}}}")
        names.add(name)
    return names


def _check_template(path: Path, name: str, template: str) -> None:
    """A text of config.yaml must be a known one, using only its own {placeholders}."""
    if name not in DEFAULT_TEXTS:
        raise ConfigError(f"{path}: unknown text 'texts.{name}'")
    allowed = _placeholders(DEFAULT_TEXTS[name])
    try:
        unknown = sorted(_placeholders(template) - allowed)
    except ValueError as error:
        detail = str(error)
        if detail.startswith("{"):
            raise ConfigError(
                f"{path}: 'texts.{name}' uses {detail[:40]}; only plain placeholders like "
                "{path} are allowed (write {{ and }} for braces)"
            ) from None
        raise ConfigError(f"{path}: 'texts.{name}' has unbalanced braces") from None
    if unknown:
        known = ", ".join(f"{{{a}}}" for a in sorted(allowed)) or "none"
        raise ConfigError(
            f"{path}: 'texts.{name}' uses {{{unknown[0]}}}; its placeholders are: {known}"
        )


def _check_url(source: str, name: str, value: str) -> None:
    """An http(s) URL with a host (or empty: not set)."""
    if not value:
        return
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        parts = None
    if (
        parts is None or parts.scheme not in ("http", "https") or not parts.hostname
        or any(c.isspace() or not c.isprintable() for c in value)
    ):
        raise ConfigError(f"{source}: {name} must be an http(s) URL, not {value[:60]!r}")


_DATABASE_SCHEMES = ("postgresql", "postgres")


def redact_database_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.netloc.rpartition("@")[2]
        netloc = f"{parts.username or ''}:***@{host}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "(a database URL that cannot be read)"


def check_database_url(source: str, value: str) -> None:
    """A postgresql:// URL libpq can read (or empty: not set); the message never shows the
    password."""
    if not value:
        return
    shown = redact_database_url(value)[:80]
    try:
        parts = urlsplit(value)
        for host in parts.netloc.rpartition("@")[2].split(","):  # libpq allows h1:p1,h2:p2
            urlsplit(f"//{host}").port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        parts = None
    if (
        parts is None or parts.scheme not in _DATABASE_SCHEMES
        or any(c.isspace() or not c.isprintable() for c in value)
    ):
        raise ConfigError(f"{source}: database_url must be a postgresql:// URL "
                          f"(postgresql://user@host:5432/dbname), not {shown!r}")
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        raise ConfigError(f"{source}: database_url needs psycopg: pip install "
                          "'psycopg[binary]' 'psycopg-pool'") from None
    try:
        conninfo_to_dict(value)
    except Exception as error:  # noqa: BLE001  (psycopg.ProgrammingError: libpq's own check)
        reason = " ".join(str(error).replace(value, shown).split())[:120]
        raise ConfigError(f"{source}: database_url {shown!r} cannot be used: {reason}") from None


def _check_telegram(source: str, telegram: TelegramSettings) -> None:
    if telegram.mode not in _MODES:
        raise ConfigError(f"{source}: telegram.mode must be 'polling' or 'webhook'")
    _check_url(source, "telegram.base_url", telegram.base_url)
    _check_url(source, "telegram.webhook_url", telegram.webhook_url)
    if not _WEBHOOK_PATH.fullmatch(telegram.webhook_path):
        raise ConfigError(
            f"{source}: telegram.webhook_path must be path segments of A-Z a-z 0-9 . _ ~ -"
            f", not {telegram.webhook_path[:60]!r}"
        )
    for name, address in (("webhook_listen", telegram.webhook_listen),
                          ("health_listen", telegram.health_listen)):
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ConfigError(
                f"{source}: telegram.{name} must be an IP address such as 127.0.0.1"
                f", not {address[:60]!r}"
            ) from None


def _read_config(path: Path) -> dict[str, Any]:
    """The mapping in a config file, read with the limits of bot.safe_yaml."""
    if not path.exists():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        node = safe_yaml.load_node(path, MAX_CONFIG_BYTES)
        loaded = safe_yaml.construct(path, node) if node is not None else None
    except safe_yaml.YamlFileError as error:
        line = f":{error.line}" if error.line else ""
        raise ConfigError(f"{path}{line}: {error.message}") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping")
    return loaded or {}


def _telegram_ids(path: Path, key: str, from_env: str | None, raw: Any, *,
                  users_only: bool = False) -> frozenset[int]:
    """A list of Telegram ids (users positive, groups negative) from config.yaml, or from
    the environment as "1,2" (which wins when set)."""
    env_name = f"FAQBOT_{key.upper()}"
    kind = "user ids (positive" if users_only else "ids (users positive, groups negative"
    problem = (f"'{key}' (or {env_name}) must be a list of Telegram {kind} whole numbers, "
               f"e.g. [123456789]), not")
    if from_env is not None and from_env.strip():
        values: list[Any] = []
        for item in from_env.split(","):
            try:
                values.append(int(item.strip()))
            except ValueError:
                raise ConfigError(f"{path}: {problem} {item.strip()[:40]!r}") from None
    elif raw is None:
        return frozenset()
    elif isinstance(raw, list):
        values = raw
    else:
        raise ConfigError(f"{path}: {problem} {str(raw)[:40]!r}")
    for value in values:
        if (not isinstance(value, int) or isinstance(value, bool) or value == 0
                or abs(value) > MAX_TELEGRAM_ID or (users_only and value < 0)):
            raise ConfigError(f"{path}: {problem} {str(value)[:40]!r}")
    return frozenset(values)


def load_settings(path: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read config.yaml (or $FAQBOT_CONFIG) and the environment into Settings."""
    env = os.environ if environ is None else environ
    path = path or Path(env.get("FAQBOT_CONFIG", DEFAULT_CONFIG))
    raw: dict[str, Any] = {}
    explicit = "FAQBOT_CONFIG" in env or path != DEFAULT_CONFIG
    if explicit or os.path.lexists(path):  # the default config.yaml may be absent
        raw = _read_config(path)
    base = path.parent if path.is_file() else Path.cwd()
    allowed = {"content", "cache_dir", "feedback_db", "retention_days", "match", "telegram",
               "texts", "log_format", "log_message_text",
               "context_minutes", "reply_script", "database_url", "admins", "allowed_chats"}
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{path}: unknown setting '{key}'")

    def location(key: str, default: str, env_name: str) -> Path:
        value = env.get(env_name) or raw.get(key, default)
        if not isinstance(value, str) or not value.strip() or "\0" in value:
            raise ConfigError(f"{path}: '{key}' must be a path")
        return (base / value) if not Path(value).is_absolute() else Path(value)

    match = MatchSettings(**_section(raw, "match", MatchSettings, str(path)))
    if not 0 <= match.suggest_threshold <= match.answer_threshold <= 100:
        raise ConfigError(f"{path}: need 0 <= suggest_threshold <= answer_threshold <= 100")
    if match.probable_threshold > match.answer_threshold:
        raise ConfigError(f"{path}: need probable_threshold <= answer_threshold")
    telegram_values = _section(raw, "telegram", TelegramSettings, str(path))
    if env.get("TELEGRAM_API_BASE_URL"):
        telegram_values["base_url"] = env["TELEGRAM_API_BASE_URL"]
    telegram = TelegramSettings(
        token=env.get("TELEGRAM_BOT_TOKEN", "").strip(),
        webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET", "").strip(),
        **telegram_values,
    )
    _check_telegram(str(path), telegram)
    retention_days = raw.get("retention_days", DEFAULT_RETENTION_DAYS)
    if (not isinstance(retention_days, int) or isinstance(retention_days, bool)
            or not 0 <= retention_days <= MAX_RETENTION_DAYS):
        raise ConfigError(f"{path}: 'retention_days' must be a whole number of days from 0 "
                          f"(record nothing) to {MAX_RETENTION_DAYS}")
    log_format = env.get("FAQBOT_LOG_FORMAT") or raw.get("log_format", "text")
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"{path}: 'log_format' (or FAQBOT_LOG_FORMAT) must be 'text' or "
                          f"'json', not {str(log_format)[:60]!r}")
    log_message_text = raw.get("log_message_text", False)
    if not isinstance(log_message_text, bool):
        raise ConfigError(f"{path}: 'log_message_text' must be true or false")
    context_minutes = raw.get("context_minutes", DEFAULT_CONTEXT_MINUTES)
    if (not isinstance(context_minutes, int) or isinstance(context_minutes, bool)
            or not 1 <= context_minutes <= MAX_CONTEXT_MINUTES):
        raise ConfigError(f"{path}: 'context_minutes' must be a whole number of minutes from 1 "
                          f"to {MAX_CONTEXT_MINUTES}")
    reply_script = raw.get("reply_script", "auto")
    if reply_script not in REPLY_SCRIPTS:
        raise ConfigError(f"{path}: 'reply_script' must be one of {', '.join(REPLY_SCRIPTS)}")
    database_url = env.get("FAQBOT_DATABASE_URL") or raw.get("database_url") or ""
    if not isinstance(database_url, str):
        raise ConfigError(f"{path}: 'database_url' must be text (a postgresql:// URL)")
    database_url = database_url.strip()
    check_database_url(str(path), database_url)
    admins = _telegram_ids(path, "admins", env.get("FAQBOT_ADMINS"), raw.get("admins"),
                          users_only=True)
    allowed_chats = _telegram_ids(path, "allowed_chats", env.get("FAQBOT_ALLOWED_CHATS"),
                                  raw.get("allowed_chats"))
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
        retention_days=retention_days,
        log_format=log_format,
        log_message_text=log_message_text,
        context_minutes=context_minutes,
        reply_script=reply_script,
        database_url=database_url,
        admins=admins,
        allowed_chats=allowed_chats,
    )
