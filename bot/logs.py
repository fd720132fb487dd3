"""Log lines: one per event, as text or JSON (``log_format``), secrets never, texts by choice.

An event line says what happened in ``key=value`` words (``question handled: outcome=answer
passage=s2.m1 latency_ms=12``) and carries the same fields as ``extra`` for the JSON format,
which writes one object per line. What users typed stays out unless ``log_message_text`` is
on; then it is escaped onto one line and clipped. Every formatted line passes through the
redactor (the bot token, the webhook secret), fields and tracebacks included.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

LOGGED_TEXT_CHARS = 200  # enough to recognise a question, not a pasted document
# The fields of an event (``extra=``) the JSON format writes; nothing else of a record.
EVENT_FIELDS = ("event", "outcome", "latency_ms", "passage_id", "chat_type", "text", "kind",
                "mode", "reason")

Redact = Callable[[str], str]


def message_text(text: str) -> str:
    """A user's text for a log line: one line (newlines, quotes and controls escaped as in
    JSON), clipped to ``LOGGED_TEXT_CHARS``."""
    clipped = text if len(text) <= LOGGED_TEXT_CHARS else text[: LOGGED_TEXT_CHARS - 1] + "…"
    return json.dumps(clipped, ensure_ascii=False)


def event_line(event: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    """The message and ``extra`` of an event, for
    ``message, extra = event_line(...); logger.info("%s", message, extra=extra)``.
    Fields that are None are left out.

    >>> event_line("question handled", outcome="answer", passage_id="s2.m1")[0]
    'question handled: outcome=answer passage_id=s2.m1'
    """
    present = {key: value for key, value in fields.items() if value is not None}
    words = " ".join(f"{key}={value}" for key, value in present.items())
    return (f"{event}: {words}" if words else event), {"event": event, **present}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the event fields, and an
    exception's traceback as one string; the whole line redacted."""

    def __init__(self, redact: Redact | None = None):
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in EVENT_FIELDS:
            if key in record.__dict__:
                line[key] = record.__dict__[key]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        text = json.dumps(line, ensure_ascii=False, default=str)
        return self.redact(text) if self.redact is not None else text


def use_format(log_format: str, redact: Redact, logger: logging.Logger | None = None) -> None:
    """JSON: every handler of ``logger`` (the root logger) writes redacted JSON lines. Text:
    the handlers keep their format (``bot.telegram_app.RedactSecrets`` redacts the records)."""
    if log_format != "json":
        return
    formatter = JsonFormatter(redact)
    for handler in (logger or logging.getLogger()).handlers:
        handler.setFormatter(formatter)
