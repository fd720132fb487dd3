"""Prometheus metrics: every metric of the bot is defined here, in one private registry.

The adapters update them (``bot.telegram_app``) and serve them (``GET /metrics``); the core
knows nothing of them. Each ``Metrics`` has its own ``CollectorRegistry``, not the process
default: tests run many bots in one process, and a registry per bot keeps their counts apart.

Exposed (``faqbot_`` prefix; counters get ``_total``):
    faqbot_questions_total{outcome}       messages and presses handled, by ``Outcome``
    faqbot_handling_seconds{outcome}      from the handler's start until the reply is sent
    faqbot_errors_total{kind}             by ``ErrorKind``
    faqbot_store_seconds{operation}       each call to the store, by method name
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

from bot.replies import Reply

# The classic text format, which every Prometheus version reads; our metric names are plain,
# so generate_latest writes exactly it (newer clients announce 1.0.0 for UTF-8 names).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Handling a message is matching (milliseconds) plus sending the reply to Telegram (tens to
# hundreds of milliseconds, seconds when retried): 5 ms to 30 s (the send retry limit).
HANDLING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A store call is a queue put (SQLite's writer thread: microseconds) or a round trip to a
# database server (milliseconds): 50 µs to 5 s.
STORE_BUCKETS = (0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)


class Outcome(StrEnum):
    """What became of a message or a button press."""

    ANSWER = "answer"  # a question answered with confidence
    PROBABLE = "probable"  # answered, hedged: the passage probably says it
    DECLINE = "decline"  # not in the report: declined, perhaps with suggestions
    SMALL_TALK = "small_talk"  # a free-text message that needed no search (empty, greetings)
    COMMAND = "command"  # /start, /help, /sections, ..., and unknown commands
    BUTTON = "button"  # a button press: browsing or 👍/👎
    INLINE = "inline"  # @bot query in any chat
    NON_TEXT = "non_text"  # a sticker, photo, voice note...: a hint how to ask


class ErrorKind(StrEnum):
    HANDLER = "handler"  # a bug: a handler raised (the user got an apology)
    NETWORK = "network"  # Telegram unreachable or flooding us while handling an update
    POLLING = "polling"  # getUpdates failed (retried)
    WEBHOOK = "webhook"  # a webhook delivery that is no update (refused with 400)
    STORE = "store"  # a store call raised


_BANDS = {outcome.value: outcome for outcome in (Outcome.ANSWER, Outcome.PROBABLE,
                                                  Outcome.DECLINE)}


def outcome_of(reply: Reply) -> Outcome:
    """The outcome of a free-text question from its reply: the search result's ``band``
    (answer, probable, decline) when it has one, else its ``answered``; no search at all
    (an empty message, small talk) is ``SMALL_TALK``."""
    result = reply.result
    if result is None:
        return Outcome.SMALL_TALK
    band = getattr(result, "band", None)
    if band is not None:
        name = str(getattr(band, "name", band)).lower()
        if name in _BANDS:
            return _BANDS[name]
    return Outcome.ANSWER if getattr(result, "answered", reply.answered) else Outcome.DECLINE


class Metrics:
    """The bot's metrics in a registry of their own; every label value starts at zero, so a
    dashboard sees each series before the first event."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry if registry is not None else CollectorRegistry()
        self.questions = Counter(
            "faqbot_questions", "Messages and button presses handled, by outcome.",
            ["outcome"], registry=self.registry)
        self.handling_seconds = Histogram(
            "faqbot_handling_seconds", "Time to handle a message or press, reply sent.",
            ["outcome"], buckets=HANDLING_BUCKETS, registry=self.registry)
        self.errors = Counter(
            "faqbot_errors", "Errors, by kind.", ["kind"], registry=self.registry)
        self.store_seconds = Histogram(
            "faqbot_store_seconds", "Time of each store call, by operation.",
            ["operation"], buckets=STORE_BUCKETS, registry=self.registry)
        for outcome in Outcome:
            self.questions.labels(outcome.value)
            self.handling_seconds.labels(outcome.value)
        for kind in ErrorKind:
            self.errors.labels(kind.value)

    def handled(self, outcome: Outcome, seconds: float) -> None:
        self.questions.labels(outcome.value).inc()
        self.handling_seconds.labels(outcome.value).observe(seconds)

    def error(self, kind: ErrorKind) -> None:
        self.errors.labels(kind.value).inc()

    def count(self, outcome: Outcome) -> float:
        """How many were handled with this outcome so far (for tests and bench)."""
        value = self.registry.get_sample_value("faqbot_questions_total",
                                               {"outcome": outcome.value})
        return value or 0.0

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format (serve it as ``CONTENT_TYPE``)."""
        return generate_latest(self.registry)


class TimedStore:
    """A store whose every public method call is timed into ``store_seconds`` (a failure
    also counts as an ``ErrorKind.STORE`` error and is raised as before). Works for plain
    and for async methods (the await is timed), whatever methods the store has."""

    def __init__(self, store: Any, metrics: Metrics):
        self.inner = store
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if name.startswith("_") or not callable(value):
            return value
        return self._timed(name, value)

    def _timed(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        histogram = self._metrics.store_seconds.labels(name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = method(*args, **kwargs)
            except Exception:
                self._metrics.error(ErrorKind.STORE)
                histogram.observe(time.perf_counter() - started)
                raise
            if inspect.isawaitable(result):
                return self._awaited(result, histogram, started)
            histogram.observe(time.perf_counter() - started)
            return result

        timed.__name__ = name
        return timed

    async def _awaited(self, result: Awaitable[Any], histogram: Any, started: float) -> Any:
        try:
            return await result
        except Exception:
            self._metrics.error(ErrorKind.STORE)
            raise
        finally:
            histogram.observe(time.perf_counter() - started)


def unwrapped(store: Any) -> Any:
    """The store inside a ``TimedStore`` (or the store itself)."""
    return store.inner if isinstance(store, TimedStore) else store
