"""Keeping a busy bot fair, quiet and stoppable: plain asyncio, no Telegram types.

- ``ChatQueues``: work of one chat runs one at a time, in order; work of different chats
  runs concurrently, at most ``slots`` at once. Only the head of a chat's queue takes a slot,
  and it can give the slot back while it waits on something of its own (``slot_released``),
  so one busy chat cannot starve the others. Each chat's backlog is capped, and ``close``
  cancels whatever is left after a grace period.
- ``UserRateLimit``: a token bucket per user (N messages per M seconds) that says when to
  send the one polite notice of a burst; with a store, a window counted in the store, so
  every process sharing it enforces one limit.
- ``LogThrottle``: one log line per kind of trouble per interval; repeats are counted and
  summarised once.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.store import StoreError

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
LOG_INTERVAL_SECONDS = 30.0  # a 15 s outage: one line per kind, and one summary
FORGET_AT_BUCKETS = 10_000  # user buckets kept before full ones are forgotten

# The semaphore whose slot the current task holds (set while a chat's head runs).
_held_slot: ContextVar[asyncio.Semaphore | None] = ContextVar("held_slot", default=None)


@contextlib.asynccontextmanager
async def slot_released() -> AsyncIterator[None]:
    """Give back the current task's slot of ``ChatQueues`` while waiting (on a chat's own
    rate limit or back-off), and take one again after: other chats run meanwhile."""
    slot = _held_slot.get()
    if slot is None:
        yield
        return
    slot.release()
    _held_slot.set(None)
    try:
        yield
    finally:
        await slot.acquire()  # if cancelled here, the slot is not held: nothing to give back
        _held_slot.set(slot)


class ChatQueues:
    """Runs awaitables keyed by chat: in order within a chat, concurrently across chats.

    ``slots`` bounds how many run at once; a chat's queued work waits without a slot.
    Beyond ``backlog`` waiting items a chat's new work is refused (closed, never run): a
    flooded group cannot queue hours of work. After ``close`` nothing new starts once the
    grace period is over, and what still runs or waits is cancelled.
    """

    def __init__(self, slots: int, backlog: int, throttle: LogThrottle | None = None):
        if slots < 1 or backlog < 0:
            raise ValueError("need slots >= 1 and backlog >= 0")
        self.slots = slots
        self.backlog = backlog
        self._slot = asyncio.Semaphore(slots)
        self._tails: dict[Hashable, asyncio.Event] = {}  # each chat's last queued item
        self._waiting: dict[Hashable, int] = {}  # items queued behind a chat's running one
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._throttle = throttle or LogThrottle(logger)

    def waiting(self, key: Hashable) -> int:
        """How many items of a chat wait behind the one running."""
        return self._waiting.get(key, 0)

    async def run(self, key: Hashable | None, work: Awaitable[Any]) -> bool:
        """Run ``work`` in its chat's turn (``key`` None: no chat, no order); False if it was
        refused because the chat's backlog is full or the queues are closed."""
        if self._closed:
            discard(work)
            return False
        previous = self._tails.get(key) if key is not None else None
        if previous is not None and self._waiting.get(key, 0) >= self.backlog:
            discard(work)
            self._throttle.log(logging.WARNING, f"backlog full in chat {key}",
                               "%d updates wait already; newer ones are dropped", self.backlog)
            return False
        done = asyncio.Event()
        if key is not None:
            self._tails[key] = done
            if previous is not None:
                self._waiting[key] = self._waiting.get(key, 0) + 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            if previous is not None:
                try:
                    await previous.wait()  # no slot held while the chat's earlier work runs
                finally:
                    self._waiting[key] -= 1
                    if not self._waiting[key]:
                        del self._waiting[key]
            await self._slot.acquire()
            token = _held_slot.set(self._slot)
            try:
                await work
            finally:
                if _held_slot.get() is self._slot:  # not if cancelled while taking it back
                    self._slot.release()
                _held_slot.reset(token)
        finally:
            discard(work)  # cancelled before it started: never leave it un-awaited
            if task is not None:
                self._tasks.discard(task)
            done.set()
            if key is not None and self._tails.get(key) is done:
                del self._tails[key]
        return True

    async def close(self, grace: float) -> None:
        """Refuse new work, give what is queued or running ``grace`` seconds, then cancel it."""
        self._closed = True
        pending = {task for task in self._tasks if task is not asyncio.current_task()}
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=grace)
        if late:
            logger.warning("stopping: %d updates still queued or running after %.0f s are "
                           "cancelled", len(late), grace)
            for task in late:
                task.cancel()
            await asyncio.wait(late)


def discard(work: Awaitable[Any]) -> None:
    """Drop work that will not run (a coroutine never awaited would warn)."""
    if inspect.iscoroutine(work):
        work.close()  # no effect on one that has finished


# --- incoming rate per user ---------------------------------------------------------


class Verdict(enum.StrEnum):
    ALLOW = "allow"
    NOTIFY = "notify"  # the first refusal of a burst: tell the user, once
    DROP = "drop"


@dataclass
class _Bucket:
    tokens: float
    at: float
    notified: bool = False


class RateCounter(Protocol):
    """What a shared limit needs of bot.store.Store."""

    def hit_rate(self, user_key: str, window_seconds: float) -> int: ...


@dataclass
class UserRateLimit:
    """A token bucket per user: ``messages`` at once, refilled at ``messages`` per
    ``seconds``. A burst ends when the bucket is full again; its first refusal is NOTIFY.

    With a ``store`` the limit is shared by every process using it: a user may send
    ``messages`` per sliding window of ``seconds``, counted there (refused messages count
    too, so a flood stays refused until it pauses). Each process notifies once per burst.
    If the store cannot be read the in-memory bucket decides (one log line per interval).
    """

    messages: int
    seconds: float
    clock: Clock = time.monotonic
    store: RateCounter | None = None
    _buckets: dict[Hashable, _Bucket] = field(default_factory=dict)
    _forgot_at: float = float("-inf")
    _notified: set[Hashable] = field(default_factory=set)  # shared limit: bursts told once
    _throttle: LogThrottle = field(default_factory=lambda: LogThrottle(logger))

    def __len__(self) -> int:
        """Users whose recent messages are remembered."""
        return len(self._buckets)

    def check(self, user: Hashable) -> Verdict:
        if self.messages <= 0:  # switched off
            return Verdict.ALLOW
        if self.store is not None:
            try:
                sent = self.store.hit_rate(str(user), self.seconds)
            except StoreError as error:
                self._throttle.log(logging.WARNING, "shared rate limit unavailable",
                                   "%s; limiting per process meanwhile", error)
            else:
                return self._shared_verdict(user, sent)
        now = self.clock()
        bucket = self._buckets.get(user)
        if bucket is None:
            bucket = self._buckets[user] = _Bucket(float(self.messages), now)
        rate = self.messages / self.seconds
        bucket.tokens = min(float(self.messages), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= self.messages:
            bucket.notified = False  # quiet long enough: a new burst
        self._forget_full(user, now, rate)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return Verdict.ALLOW
        if bucket.notified:
            return Verdict.DROP
        bucket.notified = True
        return Verdict.NOTIFY

    def _shared_verdict(self, user: Hashable, sent: int) -> Verdict:
        """``sent``: the user's messages in the window, this one included."""
        if sent <= self.messages:
            self._notified.discard(user)  # within the limit again: a later burst is new
            return Verdict.ALLOW
        if user in self._notified:
            return Verdict.DROP
        if len(self._notified) >= FORGET_AT_BUCKETS:
            self._notified.clear()  # at worst one more notice to a flooding user
        self._notified.add(user)
        return Verdict.NOTIFY

    def _forget_full(self, current: Hashable, now: float, rate: float) -> None:
        """Buckets that have refilled say nothing a new one would not: drop them now and
        then (at most once per ``seconds``), so a million one-message users do not stay in
        memory."""
        if len(self._buckets) < FORGET_AT_BUCKETS or now - self._forgot_at < self.seconds:
            return
        self._forgot_at = now
        full = [user for user, b in self._buckets.items()
                if user != current and b.tokens + (now - b.at) * rate >= self.messages]
        for user in full:
            del self._buckets[user]



# --- quiet logs during trouble -------------------------------------------------------------


@dataclass
class _Window:
    started: float
    level: int
    repeats: int = 0


class LogThrottle:
    """One log line per kind of trouble per ``interval`` seconds.

    The first occurrence of a kind is logged; repeats within the interval are counted and
    summarised in one line when it ends, so an outage gives a few lines, not thousands.
    """

    def __init__(self, target: logging.Logger, interval: float = LOG_INTERVAL_SECONDS,
                 clock: Clock = time.monotonic):
        self.target = target
        self.interval = interval
        self.clock = clock
        self._windows: dict[str, _Window] = {}

    def log(self, level: int, kind: str, message: str, *args: Any, **kwargs: Any) -> bool:
        """Log ``kind: message`` unless ``kind`` was logged within the interval (then only
        count it); True if a line was written. ``kwargs`` go to the logger (``exc_info``)."""
        now = self.clock()
        window = self._windows.get(kind)
        if window is not None and now - window.started < self.interval:
            window.repeats += 1
            return False
        if window is not None:
            self._summarise(kind, window)
        window = self._windows[kind] = _Window(now, level)
        self.target.log(level, "%s: " + message, kind, *args, **kwargs)
        with contextlib.suppress(RuntimeError):  # no running loop: summarised on the next one
            asyncio.get_running_loop().call_later(self.interval, self._summarise, kind, window)
        return True

    def _summarise(self, kind: str, window: _Window) -> None:
        if self._windows.get(kind) is not window:
            return  # summarised already
        del self._windows[kind]
        if window.repeats:
            self.target.log(window.level, "%s: %d more in the last %.0f s", kind,
                            window.repeats, self.clock() - window.started)

    def flush(self) -> None:
        """Summarise every open window now (at shutdown)."""
        for kind, window in list(self._windows.items()):
            self._summarise(kind, window)

