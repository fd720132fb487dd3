"""All the bot keeps: questions it could not answer well and 👍/👎 on answers, in SQLite.

Nothing is learned automatically: `faqbot review` shows the maintainer which alternate
questions to add to the YAML, which stays the single source of truth.

Recording is best effort and never delays a reply: ``record_*`` only put the record on a
bounded queue (full: dropped and counted) and one writer thread writes it with a short busy
timeout. A broken database (locked, read-only, corrupt, not a file) costs only the records:
one warning per kind of failure per minute, then recording carries on. Reading (``review``)
is synchronous and raises StoreError, which the CLI prints as one line.

What is kept, and for how long (``retention_days``), is described in the README,
"Operating it safely".
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import queue
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.config import DEFAULT_RETENTION_DAYS

logger = logging.getLogger(__name__)

STORED_TEXT_CHARS = 300  # the matcher reads no more of a question (search.MAX_QUESTION_CHARS)
QUEUE_SIZE = 1000  # records waiting for the writer: minutes of a busy bot's declines
BUSY_TIMEOUT_SECONDS = 0.2  # a write waits this long for another process's lock, then gives up
REVIEW_TIMEOUT_SECONDS = 5.0  # a maintainer's `faqbot review` can wait for a writer
WARNING_INTERVAL_SECONDS = 60.0  # one warning per kind of failure per minute
PURGE_INTERVAL_SECONDS = 3600.0  # expired records are deleted hourly (and when the writer starts)
CLOSE_WAIT_SECONDS = 2.0  # close() waits this long for queued records, so shutdown stays quick
SECONDS_PER_DAY = 86400
# A conversation's context is read for minutes (config context_minutes); kept a day at most.
CONTEXT_KEEP_SECONDS = SECONDS_PER_DAY
MEMORY_CHATS = 100_000  # contexts kept in memory: the busiest bot's chats of a day
RATER_KEY_CHARS = 16  # 64 bits of the keyed hash: no collisions among a bot's users

_SCHEMA = """
CREATE TABLE IF NOT EXISTS unanswered (
    at REAL NOT NULL, question TEXT NOT NULL, best_id TEXT, score INTEGER, answered INTEGER
);
CREATE TABLE IF NOT EXISTS ratings (
    at REAL NOT NULL, passage_id TEXT NOT NULL, good INTEGER NOT NULL, question TEXT,
    rater TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contexts (
    chat TEXT PRIMARY KEY, passage_id TEXT NOT NULL, at REAL NOT NULL
);
"""
# Ratings recorded before raters were kept have rater NULL: SQLite counts NULLs as distinct,
# so they stay, and every new rating is one per rater and passage.
_ONE_RATING_PER_RATER = (
    "CREATE UNIQUE INDEX IF NOT EXISTS ratings_one_per_rater ON ratings (rater, passage_id)"
)
_UPSERT_RATING = (
    "INSERT INTO ratings (at, passage_id, good, question, rater) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (rater, passage_id) DO UPDATE SET "
    "at = excluded.at, good = excluded.good, question = excluded.question"
)


class StoreError(Exception):
    """The use log cannot be read; the message is one line for the user."""


@dataclass(frozen=True)
class Review:
    unanswered: list[tuple[str, int, int]]  # question, times asked, best score
    worst: list[tuple[str, int, int]]  # passage id, 👎, 👍


class Store(Protocol):
    """What the bot needs from wherever it keeps state (SQLite today)."""

    def record_question(self, question: str, best_id: str, score: int, answered: bool) -> None:
        """A declined or low-confidence question; never blocks, never raises."""

    def record_rating(self, user: str, passage_id: str, good: bool, question: str = "") -> None:
        """A user's 👍/👎 on a passage, replacing their earlier one; never blocks, never raises."""

    def review(self, limit: int = 20) -> Review:
        """The most asked unanswered questions and the worst-rated passages; StoreError."""

    def remember_context(self, chat_key: str, passage_id: str) -> None:
        """The passage last answered in a conversation (a chat, a user in a group), for its
        follow-ups; never raises."""

    def recall_context(self, chat_key: str, max_age_seconds: float) -> str | None:
        """The passage last answered in a conversation, if no older than ``max_age_seconds``;
        never raises (None when it cannot be read)."""

    def purge(self) -> None:
        """Delete what is older than the retention period (in the background)."""

    def close(self) -> None:
        """Write what is queued (waiting a bounded time), then stop."""


class ContextMemory:
    """Conversation contexts in this process's memory (the console without a use log,
    tests, a store that cannot write): the same two methods as a Store."""

    def __init__(self, max_chats: int = MEMORY_CHATS, clock: Callable[[], float] = time.time):
        self._contexts: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._max_chats = max_chats
        self._clock = clock

    def remember_context(self, chat_key: str, passage_id: str) -> None:
        with self._lock:
            self._contexts[chat_key] = (passage_id, self._clock())
            self._contexts.move_to_end(chat_key)
            while len(self._contexts) > self._max_chats:
                self._contexts.popitem(last=False)

    def recall_context(self, chat_key: str, max_age_seconds: float) -> str | None:
        with self._lock:
            kept = self._contexts.get(chat_key)
        if kept is None or self._clock() - kept[1] > max_age_seconds:
            return None
        return kept[0]


_Job = Callable[[sqlite3.Connection], object]


class SqliteStore:
    """The use log in one SQLite file (WAL mode), created 0600 on first write."""

    def __init__(self, path: Path, *, retention_days: int = DEFAULT_RETENTION_DAYS,
                 queue_size: int = QUEUE_SIZE):
        self.path = path
        self.retention_days = retention_days
        self.dropped = 0  # records lost because the queue was full
        self._queue: queue.Queue[_Job | None] = queue.Queue(queue_size)
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self._warned: dict[tuple[str, str], float] = {}
        self._warned_lock = threading.Lock()
        self._rater_key = b""
        # contexts are read and written at once (the next message needs them), on a
        # connection of their own; with nothing to be recorded (retention 0) or the file
        # unusable, they live in memory
        self._contexts_db: sqlite3.Connection | None = None
        self._contexts_lock = threading.Lock()
        self._contexts_memory = ContextMemory()

    # --- recording: queued, written by the writer thread --------------------------------

    def record_question(self, question: str, best_id: str, score: int, answered: bool) -> None:
        at, text = time.time(), question[:STORED_TEXT_CHARS]
        self._submit(lambda db: db.execute(
            "INSERT INTO unanswered VALUES (?, ?, ?, ?, ?)",
            (at, text, best_id, score, int(answered)),
        ))

    def record_rating(self, user: str, passage_id: str, good: bool, question: str = "") -> None:
        at, text = time.time(), question[:STORED_TEXT_CHARS]
        self._submit(lambda db: db.execute(
            _UPSERT_RATING, (at, passage_id, int(good), text, self._rater(user)),
        ))

    def purge(self) -> None:
        self._submit(self._purge, always=True)

    # --- conversation contexts: synchronous, shared by every process on the file --------

    def remember_context(self, chat_key: str, passage_id: str) -> None:
        self._contexts_memory.remember_context(chat_key, passage_id)
        self._on_contexts("INSERT INTO contexts (chat, passage_id, at) VALUES (?, ?, ?) "
                          "ON CONFLICT (chat) DO UPDATE SET passage_id = excluded.passage_id, "
                          "at = excluded.at", chat_key, passage_id, time.time())

    def recall_context(self, chat_key: str, max_age_seconds: float) -> str | None:
        rows = self._on_contexts("SELECT passage_id FROM contexts WHERE chat = ? AND at >= ?",
                                 chat_key, time.time() - max_age_seconds)
        if rows is None:  # the file cannot be read: this process's memory
            return self._contexts_memory.recall_context(chat_key, max_age_seconds)
        return str(rows[0][0]) if rows else None

    def _on_contexts(self, sql: str, chat_key: str, *values: object) -> list[tuple] | None:
        """Run one statement on the contexts (the chat key stored as its keyed hash: the
        file names no accounts); None when there is no file to use."""
        if self.retention_days <= 0:
            return None
        with self._contexts_lock:
            try:
                if self._contexts_db is None:
                    self._contexts_db = self._connect(check_same_thread=False)
                with self._contexts_db:
                    return self._contexts_db.execute(
                        sql, (self._rater(chat_key), *values)).fetchall()
            except (sqlite3.Error, OSError) as error:
                self._warn(type(error).__name__, str(error),
                           "use log %s: conversation contexts kept in memory (%s: %s)",
                           self.path, type(error).__name__, error)
                if self._contexts_db is not None:
                    self._contexts_db.close()
                    self._contexts_db = None
                return None

    def close(self, timeout: float = CLOSE_WAIT_SECONDS) -> None:
        with self._contexts_lock:
            if self._contexts_db is not None:
                self._contexts_db.close()
                self._contexts_db = None
        with self._writer_lock:
            writer, self._writer = self._writer, None
        if writer is None:
            return
        deadline = time.monotonic() + timeout
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            pass
        writer.join(max(0.0, deadline - time.monotonic()))
        if writer.is_alive():
            logger.warning("use log %s: gave up waiting for the writer; about %d records "
                           "not written", self.path, self._queue.qsize())

    def _submit(self, job: _Job, always: bool = False) -> None:
        """Queue a write; with retention 0 nothing is recorded (``always``: purges still run)."""
        if self.retention_days <= 0 and not always:
            return
        try:
            with self._writer_lock:
                if self._writer is None or not self._writer.is_alive():
                    self._writer = threading.Thread(
                        target=self._write_queued, name="faqbot-store", daemon=True)
                    self._writer.start()
            self._queue.put_nowait(job)
        except (queue.Full, RuntimeError):  # RuntimeError: no thread could be started
            self.dropped += 1
            self._warn("queue full", "", "use log %s: the writer is behind, %d records dropped "
                       "so far", self.path, self.dropped)

    def _write_queued(self) -> None:
        """The writer thread: one connection, reopened after a failure; purges hourly."""
        connection: sqlite3.Connection | None = None
        next_purge = 0.0
        while True:
            try:
                job = self._queue.get(timeout=PURGE_INTERVAL_SECONDS)
            except queue.Empty:
                job = self._purge
            try:
                if job is None:
                    break
                if connection is None:
                    connection = self._connect()
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
                    self._purge(connection)
                with connection:
                    job(connection)
            except (sqlite3.Error, OSError) as error:
                self._warn(type(error).__name__, str(error),
                           "cannot write the use log %s (%s: %s): records are lost until it "
                           "can be written (replies go out regardless; this warning at most "
                           "once a minute)", self.path, type(error).__name__, error)
                if connection is not None:
                    connection.close()
                    connection = None
            except Exception as error:  # a bug must not stop recording for good
                self._warn(type(error).__name__, str(error), "use log %s: record lost",
                           self.path, exc_info=True)
        if connection is not None:
            connection.close()

    def _connect(self, check_same_thread: bool = True) -> sqlite3.Connection:
        """Open (creating it private: it holds what people typed) and bring the schema up to
        date: files from before ratings were per user get the ``rater`` column."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS,
                                     check_same_thread=check_same_thread)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            # WAL makes NORMAL safe from corruption; a power cut may lose the last records only
            connection.execute("PRAGMA synchronous=NORMAL")
            with connection:
                connection.executescript(_SCHEMA)
                columns = {row[1] for row in connection.execute("PRAGMA table_info(ratings)")}
                if "rater" not in columns:
                    connection.execute("ALTER TABLE ratings ADD COLUMN rater TEXT")
                connection.execute(_ONE_RATING_PER_RATER)
                connection.execute("INSERT OR IGNORE INTO meta VALUES ('rater_key', ?)",
                                   (secrets.token_hex(16),))
            (key,) = connection.execute(
                "SELECT value FROM meta WHERE key = 'rater_key'").fetchone()
        except BaseException:
            connection.close()
            raise
        self._rater_key = key.encode()
        return connection

    def _rater(self, user: str) -> str:
        """A user id as kept: a hash keyed per database, so the file names no accounts."""
        digest = hmac.new(self._rater_key, user.encode(), hashlib.sha256).hexdigest()
        return digest[:RATER_KEY_CHARS]

    def _purge(self, connection: sqlite3.Connection) -> None:
        cutoff = self._cutoff()
        with connection:
            connection.execute("DELETE FROM unanswered WHERE at < ?", (cutoff,))
            connection.execute("DELETE FROM ratings WHERE at < ?", (cutoff,))
            connection.execute("DELETE FROM contexts WHERE at < ?",
                               (time.time() - CONTEXT_KEEP_SECONDS,))

    def _cutoff(self) -> float:
        return time.time() - max(self.retention_days, 0) * SECONDS_PER_DAY

    def _warn(self, kind: str, detail: str, message: str, *args: object,
              exc_info: bool = False) -> None:
        """Log at most one warning per kind of failure per WARNING_INTERVAL_SECONDS."""
        now = time.monotonic()
        with self._warned_lock:
            last = self._warned.get((kind, detail))
            if last is not None and now - last < WARNING_INTERVAL_SECONDS:
                return
            self._warned[(kind, detail)] = now
        logger.warning(message, *args, exc_info=exc_info)

    # --- reading: synchronous -----------------------------------------------------------

    def review(self, limit: int = 20) -> Review:
        if not self.path.exists():
            return Review([], [])
        try:
            connection = sqlite3.connect(self.path, timeout=REVIEW_TIMEOUT_SECONDS)
            try:
                return self._read(connection, limit)
            finally:
                connection.close()
        except (sqlite3.Error, OSError) as error:
            raise StoreError(f"{self.path}: cannot read the use log ({error})") from None

    def _read(self, connection: sqlite3.Connection, limit: int) -> Review:
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        cutoff = self._cutoff()  # expired rows may still be there: the bot purges hourly
        unanswered = connection.execute(
            "SELECT question, COUNT(*) AS n, MAX(COALESCE(score, 0)) FROM unanswered "
            "WHERE at >= ? GROUP BY question ORDER BY n DESC, question LIMIT ?",
            (cutoff, limit),
        ).fetchall() if "unanswered" in tables else []
        worst = connection.execute(
            "SELECT passage_id, SUM(1 - good) AS bad, SUM(good) AS good FROM ratings "
            "WHERE at >= ? GROUP BY passage_id HAVING bad > 0 "
            "ORDER BY bad - good DESC, bad DESC LIMIT ?",
            (cutoff, limit),
        ).fetchall() if "ratings" in tables else []
        return Review(unanswered, worst)
