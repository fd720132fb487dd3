"""Liveness and readiness: /healthz and /readyz.

Liveness: when the bot last heard from Telegram (a poll, a webhook delivery, a check). One
small object that the adapters write and anyone can read (a /healthz page, the core, a
supervisor): a bot that no longer receives updates is dead even if its process runs.
Readiness: whether it can answer now (serving, content loaded, store reachable): a load
balancer sends updates only to ready replicas.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

# Polling: a long poll returns at least every 10 s (python-telegram-bot's timeout) and
# network errors are retried within 30 s; webhook mode checks getWebhookInfo every 30 s.
# Three missed rounds mean nothing reaches the bot any more.
STALE_AFTER_SECONDS = 90.0


@dataclass
class Liveness:
    """The time of the last successful poll or webhook delivery (or webhook check)."""

    stale_after: float = STALE_AFTER_SECONDS
    last_ok: float | None = None  # time.time() of the last success; None before the first
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def mark_ok(self) -> None:
        """Telegram was reached and updates can arrive: record it."""
        self.last_ok = self.clock()

    def age(self) -> float | None:
        """Seconds since the last success, or None when there was none."""
        return None if self.last_ok is None else max(0.0, self.clock() - self.last_ok)

    def alive(self) -> bool:
        age = self.age()
        return age is not None and age <= self.stale_after

    def report(self) -> dict[str, Any]:
        """{"last_update_ok": ISO time or None, "age_seconds": seconds or None}."""
        age = self.age()
        last = (datetime.fromtimestamp(self.last_ok, UTC).isoformat(timespec="seconds")
                if self.last_ok is not None else None)
        return {"last_update_ok": last, "age_seconds": None if age is None else round(age, 1)}


# Readiness checks run off the event loop and are given this long: a store that takes
# longer to answer a ping is as good as unreachable for a bot that must reply in seconds.
READY_CHECK_SECONDS = 2.0
ONE_LINE_CHARS = 200  # a reason is one short line: an exception's text may be long

Check = Callable[[], "str | None | Awaitable[str | None]"]


class ReadyState(StrEnum):
    STARTING = "starting"  # content loaded, not yet connected to Telegram
    SERVING = "serving"
    STOPPING = "stopping"  # a signal came: a load balancer should send updates elsewhere


def one_line(text: str) -> str:
    """``text`` on one line, clipped: a reason for a status page or a log line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= ONE_LINE_CHARS else flat[: ONE_LINE_CHARS - 1] + "…"


@dataclass
class Readiness:
    """Whether the bot can take updates now: it is serving and every check passes.

    A check returns None when fine, else a one-line reason (it may be a coroutine
    function). ``reason()`` runs them in order and gives the first reason, or None.
    """

    checks: list[Check] = field(default_factory=list)
    state: ReadyState = ReadyState.STARTING
    timeout: float = READY_CHECK_SECONDS

    async def reason(self) -> str | None:
        if self.state is not ReadyState.SERVING:
            return f"not serving: {self.state.value}"
        for check in self.checks:
            try:
                outcome = await asyncio.wait_for(_run_check(check), self.timeout)
            except TimeoutError:
                return f"{_name(check)} check: no answer within {self.timeout:g} s"
            except Exception as error:  # noqa: BLE001  (a failing check is the answer)
                return one_line(f"{_name(check)} check failed: "
                                f"{error.__class__.__name__}: {error}")
            if outcome:
                return one_line(outcome)
        return None


async def _run_check(check: Check) -> str | None:
    """A plain check runs in a thread (a store's ping may block); a coroutine is awaited."""
    if inspect.iscoroutinefunction(check):
        return await check()
    outcome = await asyncio.to_thread(check)
    if inspect.isawaitable(outcome):
        return await outcome
    return outcome


def _name(check: Check) -> str:
    """What a check checks: its function's name (``store``, ``content``)."""
    return getattr(check, "__name__", "readiness").replace("_", " ")


def content_check(bot: Any) -> Check:
    """The content is loaded and its index built: ``bot.index`` has passages (read at every
    call: a reload may swap the index)."""

    def content() -> str | None:
        index = getattr(bot, "index", None)
        if index is None or not getattr(index, "passages", None):
            return "content not loaded: the index has no passages"
        return None

    return content


def store_check(bot: Any) -> Check:
    """The store answers its ``ping()``: a plain one runs in a thread (it may block), an
    async one on the loop (its connections belong there). A store without ``ping`` counts
    as reachable, and so does no store (nothing is recorded then). A ping that returns
    False or raises is a reason (read at every call: the store may be replaced)."""

    async def store() -> str | None:
        ping = getattr(getattr(bot, "store", None), "ping", None)
        if ping is None:
            return None
        if inspect.iscoroutinefunction(ping):
            answer = await ping()
        else:
            answer = await asyncio.to_thread(ping)
        if inspect.isawaitable(answer):
            answer = await answer
        return None if answer is not False else "store unreachable: ping failed"

    return store
