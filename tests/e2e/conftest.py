"""End-to-end kit: the Bot API emulator on loopback and `python -m bot run` against it.

The bot runs as a real subprocess (``python -m bot --config <tmp> run``) with
TELEGRAM_BOT_TOKEN and TELEGRAM_API_BASE_URL pointing at the emulator, so everything
between the CLI and the HTTP requests is the production code. Expected replies come
from the core (FaqBot) in-process, over the same content.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from bot.config import load_settings
from bot.replies import FaqBot, Reply
from e2e.emulator import BotApiEmulator, parse_html

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content"
TOKEN = "5550001234:AAFakeE2eTokenMustNeverBeLogged_x9Q"
START_TIMEOUT = 90  # two slow cores: imports, index build, first requests
STOP_TIMEOUT = 30


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index cache for the session: the first bot builds it, the others load it."""
    return tmp_path_factory.mktemp("index-cache")


def write_config(directory: Path, *, content: Path = CONTENT, **telegram: Any) -> Path:
    """A config.yaml for a test bot (rate limiting off unless asked for)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.yaml"
    settings = {"content": str(content), "telegram": {"rate_limit": False, **telegram}}
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    return path


def core_for(config: Path, cache_dir: Path) -> FaqBot:
    """The core the subprocess runs, in-process: what every reply should be."""
    return FaqBot.from_settings(load_settings(config, environ={"FAQBOT_CACHE_DIR": str(cache_dir)}))


def bot_environment(emulator: BotApiEmulator, cache_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of the bot process: no real token, no proxies, loopback only."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "FAQBOT_")) and "proxy" not in k.lower()}
    env.update(
        TELEGRAM_BOT_TOKEN=emulator.token,
        TELEGRAM_API_BASE_URL=emulator.base_url,
        FAQBOT_CACHE_DIR=str(cache_dir),
        NO_PROXY="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class BotProcess:
    """`python -m bot --config CONFIG run` with its output captured to files."""

    def __init__(self, config: Path, env: dict[str, str], logs: Path):
        self.config = config
        self.env = env
        self.stdout_path = logs / "stdout.txt"
        self.stderr_path = logs / "stderr.txt"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "--config", str(self.config), "run"],
                cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            )

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    async def ready(self, emulator: BotApiEmulator, webhook: bool = False) -> None:
        """Wait until the bot polls (or has set its webhook); fail fast if it died."""
        def started() -> bool:
            if self.exited():
                raise AssertionError(f"the bot exited with {self.process.returncode}:\n"
                                     f"{self.stderr}")
            if webhook:
                return emulator.webhook is not None
            return bool(emulator.calls_of("getUpdates"))

        await emulator.wait_for(started, START_TIMEOUT, "the bot to start")

    async def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        """Wait (without blocking the emulator's loop) for the process to exit."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"the bot did not stop within {timeout}s")
            await asyncio.sleep(0.05)
        return self.process.returncode

    async def stop(self) -> int:
        """SIGTERM (a graceful stop: the bot still talks to the emulator), then wait."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        return await self.wait()


@dataclass
class Running:
    """A started emulator + bot process + the core that says what replies should be."""

    tg: BotApiEmulator
    process: BotProcess
    core: FaqBot


@contextlib.asynccontextmanager
async def running_bot(
    directory: Path, cache_dir: Path, *, content: Path = CONTENT, env: dict[str, str] | None = None,
    webhook: bool = False, wait: bool = True, emulator: BotApiEmulator | None = None,
    **telegram: Any,
) -> AsyncIterator[Running]:
    """Start an emulator and the bot against it; always stop both."""
    tg = emulator or BotApiEmulator(TOKEN)
    await tg.start()
    try:
        config = write_config(directory, content=content, **telegram)
        core = core_for(config, cache_dir)  # also warms the index cache for the subprocess
        process = BotProcess(config, bot_environment(tg, cache_dir, **(env or {})), directory)
        process.start()
        try:
            if wait:
                await process.ready(tg, webhook=webhook)
            yield Running(tg, process, core)
        finally:
            await process.stop()
    finally:
        await tg.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def bot(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> AsyncIterator[Running]:
    """The bot in long-polling mode against the real content, shared by a test module."""
    async with running_bot(tmp_path_factory.mktemp("bot"), cache_dir) as running:
        yield running


# --- assertions ---------------------------------------------------------------------------


def text_of(reply: Reply) -> str:
    """What a user sees of a reply: its HTML parsed as Telegram does."""
    return parse_html(reply.html())[0]


def buttons_of(message: dict[str, Any]) -> list[list[str]]:
    """The callback data of a message's inline keyboard, row by row (the share button,
    which opens inline mode and has none, is checked where it is tested)."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    callback_rows = [[b["callback_data"] for b in row if "callback_data" in b] for row in rows]
    return [row for row in callback_rows if row]


def reply_buttons(reply: Reply) -> list[list[str]]:
    return [[button.action for button in row] for row in reply.buttons if row]


def assert_shows(message: dict[str, Any], reply: Reply) -> None:
    """The Telegram message is exactly the core's reply: text, formatting and buttons."""
    text, entities = parse_html(reply.html())
    assert message["text"] == text
    assert message.get("entities", []) == entities
    assert buttons_of(message) == reply_buttons(reply)
