"""Liveness: when the bot last heard from Telegram (a poll, a webhook delivery, a check).

One small object that the adapters write and anyone can read (a /healthz page, the core,
a supervisor): a bot that no longer receives updates is dead even if its process runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
