"""Everything the bot keeps, behind one small interface, in SQLite or PostgreSQL.

- the use log: every question with its outcome (band ``answer``, ``probable`` or
  ``decline``), best passage, score and time; `faqbot review` and /stats read it;
- ratings: one 👍/👎 per rater and passage, a changed vote replaces the earlier one;
- chat context: the last passage a chat saw, for follow-up questions;
- rate counters: recent messages per user, so several processes share one limit.

Nothing is learned automatically: `faqbot review` shows the maintainer which alternate
questions to add to the YAML, which stays the single source of truth.

SQLite (one local file) is the default; PostgreSQL (``database_url``) lets several bot
processes share all of it. Recording is best effort and never delays a reply: ``record_*``
and ``remember_context`` only put the record on a bounded queue (full: dropped and counted)
and one writer thread writes batches of them. A broken or unreachable database costs only
the records: one warning per kind of failure per minute, then recording carries on. Reads
(``review``, ``stats``, ``recall_context``, ``hit_rate``) are synchronous, wait briefly and
raise StoreError, which callers turn into one line or a fallback.

What is kept, and for how long (``retention_days``), is described in the README,
"Operating it safely" and "PostgreSQL store".
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import queue
import re
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bot.config import DEFAULT_RETENTION_DAYS, Settings, redact_database_url

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

logger = logging.getLogger(__name__)

STORED_TEXT_CHARS = 300  # the matcher reads no more of a question (search.MAX_QUESTION_CHARS)
QUEUE_SIZE = 1000  # records waiting for the writer: minutes of a busy bot's questions
WRITE_BATCH = 200  # records written in one transaction: one commit instead of 200
BUSY_TIMEOUT_SECONDS = 0.2  # a write waits this long for another process's lock, then gives up
REVIEW_TIMEOUT_SECONDS = 5.0  # a maintainer's `faqbot review` or /stats can wait for a writer
READ_WAIT_SECONDS = 0.25  # a read on the reply path (context, rate counter) waits at most this
WRITE_WAIT_SECONDS = 2.0  # the writer waits this long for a PostgreSQL connection per batch
CONNECT_TIMEOUT_SECONDS = 2  # libpq's connect_timeout (whole seconds)
STATEMENT_TIMEOUT_MS = 5000  # no statement of ours takes long; a stuck one is cancelled
DOWN_BACKOFF_SECONDS = 10.0  # after a failed read, reads fail at once for this long
POOL_SIZE = 4  # the writer, the reply path and a maintainer's read, with one to spare
WARNING_INTERVAL_SECONDS = 60.0  # one warning per kind of failure per minute
PURGE_INTERVAL_SECONDS = 3600.0  # expired records are deleted hourly (and when the writer starts)
CLOSE_WAIT_SECONDS = 2.0  # close() waits this long for queued records, so shutdown stays quick
SECONDS_PER_DAY = 86400
SECONDS_PER_HOUR = 3600
STATS_DAYS = 7  # /stats: today and this many days
BUSIEST_HOURS = 3  # /stats lists this many hours of the day
TOP_UNANSWERED = 5  # ... and this many unanswered questions
CONTEXT_KEEP_SECONDS = SECONDS_PER_DAY  # a follow-up a day later is a new question
# a chat context is written and read on the reply path, past the writer's short batches (a busy
# writer holds SQLite's lock for milliseconds; a first write creates the schema)
CONTEXT_WAIT_SECONDS = 1.0
MEMORY_CHATS = 100_000  # contexts kept in memory: the busiest bot's chats of a day
RATE_KEEP_SECONDS = 3600  # the longest rate window (telegram.user_seconds is at most 3600)
RATER_KEY_CHARS = 16  # 64 bits of the keyed hash: no collisions among a bot's users
BANDS = ("answer", "probable", "decline")  # the outcomes of a question (search Band values)
UNANSWERED_BANDS = ("probable", "decline")  # what review and /stats list as not answered

# One schema for both back ends: `at` is Unix time in seconds; users and chats are kept as
# a hash keyed per database (meta.rater_key), so the store names no accounts.
_TABLES = """
CREATE TABLE IF NOT EXISTS questions (
    at {real} NOT NULL, question TEXT {text} NOT NULL, band TEXT {text} NOT NULL,
    best_id TEXT {text}, score INTEGER
);
CREATE INDEX IF NOT EXISTS questions_at ON questions (at);
CREATE TABLE IF NOT EXISTS ratings (
    at {real} NOT NULL, passage_id TEXT {text} NOT NULL, good INTEGER NOT NULL,
    question TEXT {text}, rater TEXT {text}
);
CREATE TABLE IF NOT EXISTS contexts (
    chat TEXT {text} PRIMARY KEY, passage_id TEXT {text} NOT NULL, at {real} NOT NULL
);
CREATE TABLE IF NOT EXISTS rate_events (user_key TEXT {text} NOT NULL, at {real} NOT NULL);
CREATE INDEX IF NOT EXISTS rate_events_user ON rate_events (user_key, at);
"""
_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
# Ratings recorded before raters were kept have rater NULL: both databases count NULLs as
# distinct, so they stay, and every new rating is one per rater and passage.
_ONE_RATING_PER_RATER = (
    "CREATE UNIQUE INDEX IF NOT EXISTS ratings_one_per_rater ON ratings (rater, passage_id)"
)
_UPSERT_RATING = (
    "INSERT INTO ratings (at, passage_id, good, question, rater) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (rater, passage_id) DO UPDATE SET "
    "at = excluded.at, good = excluded.good, question = excluded.question"
)
_UPSERT_CONTEXT = (
    "INSERT INTO contexts (chat, passage_id, at) VALUES (?, ?, ?) "
    "ON CONFLICT (chat) DO UPDATE SET passage_id = excluded.passage_id, at = excluded.at"
)
SCHEMA_VERSION = 1  # meta.schema_version; each back end has one migration step per version


class StoreError(Exception):
    """The store cannot be read; the message is one line for the user."""


@dataclass(frozen=True)
class Review:
    unanswered: list[tuple[str, int, int]]  # question, times asked, best score
    worst: list[tuple[str, int, int]]  # passage id, 👎, 👍


@dataclass(frozen=True)
class Stats:
    """The use of the last days, for an admin's /stats."""

    today: int  # questions since midnight (in the timezone of ``now``)
    week: int  # questions in the last STATS_DAYS days
    answered: float  # shares of the week's questions, 0-1
    hedged: float
    declined: float
    good: int  # 👍 and 👎 given in the last STATS_DAYS days
    bad: int
    busiest_hours: list[tuple[int, int]]  # hour of the day (timezone of ``now``), questions
    top_unanswered: list[tuple[str, int]]  # question, times asked this week


class Store(Protocol):
    """What the bot needs from wherever it keeps state (SqliteStore, PostgresStore)."""

    def record_question(self, question: str, band: str, *, best_id: str = "",
                        score: int = 0) -> None:
        """A question and its outcome (a BANDS value); never blocks, never raises."""

    def record_rating(self, user: str, passage_id: str, good: bool, question: str = "") -> None:
        """A user's 👍/👎 on a passage, replacing their earlier one; never blocks, never raises."""

    def remember_context(self, chat_key: str, passage_id: str) -> None:
        """The passage a chat was last shown; never blocks, never raises."""

    def recall_context(self, chat_key: str, max_age_seconds: float) -> str | None:
        """The chat's last passage, None if absent or older than ``max_age_seconds``;
        StoreError."""

    def hit_rate(self, user_key: str, window_seconds: float) -> int:
        """Count one message of a user; how many they sent in the last ``window_seconds``
        (this one included); StoreError."""

    def review(self, limit: int = 20) -> Review:
        """The most asked unanswered questions and the worst-rated passages; StoreError."""

    def stats(self, now: datetime | None = None) -> Stats:
        """Questions and ratings of today and the last days; StoreError."""

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


def open_store(settings: Settings) -> SqliteStore | PostgresStore:
    """The store the settings ask for: PostgreSQL when ``database_url`` is set, else the
    SQLite file ``feedback_db``."""
    if settings.database_url:
        return PostgresStore(settings.database_url, retention_days=settings.retention_days)
    return SqliteStore(settings.feedback_db, retention_days=settings.retention_days)


_Job = Callable[[Any], object]
_STOP = object()


class _QueuedStore:
    """What both back ends share: the queue, the writer thread, rate-limited warnings and
    every query (written with ``?`` placeholders; PostgreSQL's are rewritten)."""

    where = ""  # the database, for messages (never a password)
    _failures: tuple[type[BaseException], ...] = (OSError,)
    _hour_sql = ""  # the hour of the day of `at` shifted by a number of seconds (one ?)

    def __init__(self, *, retention_days: int, queue_size: int,
                 clock: Callable[[], float]):
        self.retention_days = retention_days
        self.clock = clock
        self.dropped = 0  # records lost because the queue was full
        self._queue: queue.Queue[object] = queue.Queue(queue_size)
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self._warned: dict[tuple[str, str], float] = {}
        self._warned_lock = threading.Lock()
        self._rater_key = b""
        self._memory = ContextMemory(clock=clock)  # contexts when the store cannot keep them

    # --- what the back ends provide -------------------------------------------------------

    def _writing(self) -> contextlib.AbstractContextManager[Any]:
        """A connection in a transaction for the writer thread (committed on leaving)."""
        raise NotImplementedError

    def _reading(self, create: bool, wait: float) -> contextlib.AbstractContextManager[Any]:
        """A connection in a transaction for a read (waiting at most ``wait`` for it); None
        when there is nothing to read and ``create`` is False. Raises one of ``_failures``."""
        raise NotImplementedError

    def _writer_stopped(self) -> None:
        """The writer thread ends: release what it held."""

    def _sql(self, statement: str) -> str:
        return statement

    def _connection_lost(self, error: BaseException) -> bool:
        """The connection broke (not the database): worth one more try on a new one."""
        return False

    def _run(self, db: Any, statement: str, params: Sequence[object] = ()) -> Any:
        return db.execute(self._sql(statement), params)

    # --- recording: queued, written by the writer thread ---------------------------------

    def record_question(self, question: str, band: str, *, best_id: str = "",
                        score: int = 0) -> None:
        band = getattr(band, "value", band)  # a Band enum member: its value
        if band not in BANDS:  # a caller's bug: costs this record, never the reply
            self._warn("band", band, "store %s: question not recorded: band %r is not one "
                       "of %s", self.where, band[:40], ", ".join(BANDS))
            return
        at, text = self.clock(), question[:STORED_TEXT_CHARS]
        self._submit(lambda db: self._run(
            db, "INSERT INTO questions (at, question, band, best_id, score) "
                "VALUES (?, ?, ?, ?, ?)", (at, text, band, best_id, score)))

    def record_rating(self, user: str, passage_id: str, good: bool, question: str = "") -> None:
        at, text = self.clock(), question[:STORED_TEXT_CHARS]
        self._submit(lambda db: self._run(
            db, _UPSERT_RATING, (at, passage_id, int(good), text, self._hashed(user))))

    def remember_context(self, chat_key: str, passage_id: str) -> None:
        # Written at once, not queued: the chat's next message (a follow-up, seconds later,
        # perhaps to another replica) must find it. Kept in this process's memory too, which
        # serves when nothing may be recorded (retention 0) or the store cannot be written.
        self._memory.remember_context(chat_key, passage_id)
        if self.retention_days <= 0:
            return
        at = self.clock()
        try:
            self._read("the chat context", lambda db: self._run(
                db, _UPSERT_CONTEXT, (self._hashed(chat_key), passage_id, at)), None,
                create=True, wait=CONTEXT_WAIT_SECONDS)
        except StoreError as error:
            # no warning of its own: the same store's records fail too, and say so once
            logger.debug("%s; the chat context is kept in memory only", error)

    def purge(self) -> None:
        self._submit(self._purge, always=True)

    def close(self, timeout: float = CLOSE_WAIT_SECONDS) -> None:
        with self._writer_lock:
            writer, self._writer = self._writer, None
        if writer is None:
            return
        deadline = time.monotonic() + timeout
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            pass
        writer.join(max(0.0, deadline - time.monotonic()))
        if writer.is_alive():
            logger.warning("store %s: gave up waiting for the writer; about %d records "
                           "not written", self.where, self._queue.qsize())

    def _submit(self, job: _Job, always: bool = False) -> None:
        """Queue a write; with retention 0 the use log keeps nothing (``always``: context
        and purges, which are not the use log, still go)."""
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
            self._warn("queue full", "", "store %s: the writer is behind, %d records dropped "
                       "so far", self.where, self.dropped)

    def _write_queued(self) -> None:
        """The writer thread: batches of queued jobs, one transaction each; purges hourly."""
        next_purge = 0.0
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=PURGE_INTERVAL_SECONDS)
            except queue.Empty:
                first = self._purge
            batch: list[_Job] = []
            item = first
            while True:
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)  # type: ignore[arg-type]
                if len(batch) >= WRITE_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if not batch:
                continue
            try:
                try:
                    self._write_batch(batch, purge=time.monotonic() >= next_purge)
                except self._failures as error:
                    if not self._connection_lost(error):
                        raise
                    self._write_batch(batch, purge=False)  # once more, on a new connection
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
            except self._failures as error:
                self._warn(type(error).__name__, str(error),
                           "cannot write to the store %s (%s: %s): records are lost until it "
                           "can be written (replies go out regardless; this warning at most "
                           "once a minute)", self.where, type(error).__name__,
                           _one_line(error))
            except Exception as error:  # a bug must not stop recording for good
                self._warn(type(error).__name__, str(error), "store %s: records lost",
                           self.where, exc_info=True)
        self._writer_stopped()

    def _write_batch(self, batch: list[_Job], purge: bool) -> None:
        with self._writing() as db:
            if purge:
                self._purge(db)
            for job in batch:
                job(db)

    def _hashed(self, user: str) -> str:
        """A user or chat id as kept: a hash keyed per database, so the store names no
        accounts."""
        digest = hmac.new(self._rater_key, user.encode(), hashlib.sha256).hexdigest()
        return digest[:RATER_KEY_CHARS]

    def _load_key(self, db: Any) -> None:
        self._run(db, "INSERT INTO meta (key, value) VALUES ('rater_key', ?) "
                      "ON CONFLICT (key) DO NOTHING", (secrets.token_hex(16),))
        (key,) = self._run(db, "SELECT value FROM meta WHERE key = 'rater_key'").fetchone()
        self._rater_key = key.encode()

    def _purge(self, db: Any) -> None:
        now = self.clock()
        cutoff = self._cutoff()
        self._run(db, "DELETE FROM questions WHERE at < ?", (cutoff,))
        self._run(db, "DELETE FROM ratings WHERE at < ?", (cutoff,))
        self._run(db, "DELETE FROM contexts WHERE at < ?", (now - CONTEXT_KEEP_SECONDS,))
        self._run(db, "DELETE FROM rate_events WHERE at < ?", (now - RATE_KEEP_SECONDS,))

    def _cutoff(self) -> float:
        return self.clock() - max(self.retention_days, 0) * SECONDS_PER_DAY

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

    # --- reading: synchronous -------------------------------------------------------------

    def _read(self, what: str, read: Callable[[Any], Any], empty: Any,
              create: bool = False, wait: float = READ_WAIT_SECONDS) -> Any:
        """``read`` on a connection; ``empty`` when there is no database yet."""
        for attempt in (1, 2):
            try:
                with self._reading(create, wait) as db:
                    return empty if db is None else read(db)
            except self._failures as error:
                if attempt == 1 and self._connection_lost(error):
                    continue  # e.g. the server restarted: a new connection will do
                raise StoreError(
                    f"{self.where}: cannot read {what} ({_one_line(error)})") from None
        raise AssertionError("unreachable")

    def recall_context(self, chat_key: str, max_age_seconds: float) -> str | None:
        def read(db: Any) -> str | None:
            row = self._run(db, "SELECT passage_id FROM contexts WHERE chat = ? AND at >= ?",
                            (self._hashed(chat_key), self.clock() - max_age_seconds)).fetchone()
            return row[0] if row is not None else None
        if self.retention_days <= 0:
            return self._memory.recall_context(chat_key, max_age_seconds)
        try:
            result: str | None = self._read("the chat context", read, None,
                                            wait=CONTEXT_WAIT_SECONDS)
        except StoreError:  # warned when written; this process's memory still serves
            return self._memory.recall_context(chat_key, max_age_seconds)
        return result

    def hit_rate(self, user_key: str, window_seconds: float) -> int:
        def count(db: Any) -> int:
            now, key = self.clock(), self._hashed(user_key)
            self._run(db, "DELETE FROM rate_events WHERE user_key = ? AND at < ?",
                      (key, now - window_seconds))
            self._run(db, "INSERT INTO rate_events (user_key, at) VALUES (?, ?)", (key, now))
            (n,) = self._run(db, "SELECT COUNT(*) FROM rate_events WHERE user_key = ? "
                                 "AND at >= ?", (key, now - window_seconds)).fetchone()
            return int(n)
        result: int = self._read("the rate counters", count, 0, create=True)
        return result

    def review(self, limit: int = 20) -> Review:
        def read(db: Any) -> Review:
            cutoff = self._cutoff()  # expired rows may still be there: the bot purges hourly
            unanswered = self._run(
                db, "SELECT question, COUNT(*), MAX(COALESCE(score, 0)) FROM questions "
                    "WHERE at >= ? AND band <> 'answer' GROUP BY question "
                    "ORDER BY COUNT(*) DESC, question LIMIT ?", (cutoff, limit)).fetchall()
            worst = self._run(
                db, "SELECT passage_id, SUM(1 - good), SUM(good) FROM ratings WHERE at >= ? "
                    "GROUP BY passage_id HAVING SUM(1 - good) > 0 "
                    "ORDER BY SUM(1 - good) - SUM(good) DESC, SUM(1 - good) DESC, passage_id "
                    "LIMIT ?", (cutoff, limit)).fetchall()
            return Review([(q, int(n), int(s)) for q, n, s in unanswered],
                          [(p, int(b), int(g)) for p, b, g in worst])
        result: Review = self._read("the use log", read, Review([], []),
                                    wait=REVIEW_TIMEOUT_SECONDS)
        return result

    def stats(self, now: datetime | None = None) -> Stats:
        now = now or datetime.now(UTC)
        if now.tzinfo is None:
            now = now.astimezone()  # naive: the machine's local time, for days and hours alike
        offset = (now.utcoffset() or timedelta(0)).total_seconds()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        week_start = now.timestamp() - STATS_DAYS * SECONDS_PER_DAY
        cutoff = max(week_start, self._cutoff())

        def read(db: Any) -> Stats:
            bands = dict(self._run(
                db, "SELECT band, COUNT(*) FROM questions WHERE at >= ? GROUP BY band",
                (cutoff,)).fetchall())
            (today,) = self._run(db, "SELECT COUNT(*) FROM questions WHERE at >= ?",
                                 (max(midnight, cutoff),)).fetchone()
            votes = dict(self._run(
                db, "SELECT good, COUNT(*) FROM ratings WHERE at >= ? GROUP BY good",
                (cutoff,)).fetchall())
            hours = self._run(
                db, f"SELECT {self._hour_sql} AS hour, COUNT(*) FROM questions WHERE at >= ? "
                    "GROUP BY hour ORDER BY COUNT(*) DESC, hour LIMIT ?",
                (offset, cutoff, BUSIEST_HOURS)).fetchall()
            top = self._run(
                db, "SELECT question, COUNT(*) FROM questions WHERE at >= ? "
                    "AND band <> 'answer' GROUP BY question "
                    "ORDER BY COUNT(*) DESC, question LIMIT ?",
                (cutoff, TOP_UNANSWERED)).fetchall()
            week = sum(int(n) for n in bands.values())

            def share(band: str) -> float:
                return int(bands.get(band, 0)) / week if week else 0.0
            return Stats(int(today), week, share("answer"), share("probable"),
                         share("decline"), int(votes.get(1, 0)), int(votes.get(0, 0)),
                         [(int(h), int(n)) for h, n in hours],
                         [(q, int(n)) for q, n in top])
        empty = Stats(0, 0, 0.0, 0.0, 0.0, 0, 0, [], [])
        result: Stats = self._read("the use log", read, empty, wait=REVIEW_TIMEOUT_SECONDS)
        return result


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


# --- SQLite ----------------------------------------------------------------------------------


class SqliteStore(_QueuedStore):
    """All state in one SQLite file (WAL mode), created 0600 on first write."""

    _failures = (sqlite3.Error, OSError)
    _hour_sql = "CAST((at + ?) / 3600 AS INTEGER) % 24"  # `at` is positive: CAST truncates

    def __init__(self, path: Path, *, retention_days: int = DEFAULT_RETENTION_DAYS,
                 queue_size: int = QUEUE_SIZE, clock: Callable[[], float] = time.time):
        super().__init__(retention_days=retention_days, queue_size=queue_size, clock=clock)
        self.path = path
        self.where = str(path)
        self._connection: sqlite3.Connection | None = None  # the writer's
        # One connection for every read, kept open: opening one per message (and closing
        # the last one, which checkpoints the WAL) costs milliseconds on the reply path.
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        self._migrated = False

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        if self._connection is None:
            self._connection = self._connect(BUSY_TIMEOUT_SECONDS)
        try:
            with self._connection:
                yield self._connection
        except BaseException:
            self._connection.close()  # reopened for the next batch
            self._connection = None
            raise

    def _writer_stopped(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    @contextlib.contextmanager
    def _reading(self, create: bool, wait: float) -> Iterator[sqlite3.Connection | None]:
        if not create and not self.path.exists():
            yield None  # reading creates nothing
            return
        with self._reader_lock:
            if self._reader is None:
                self._reader = self._connect(wait, shared=True)
            connection = self._reader
            try:
                connection.execute(f"PRAGMA busy_timeout = {round(wait * 1000)}")
                with connection:
                    yield connection
            except BaseException:
                connection.close()  # reopened by the next read
                self._reader = None
                raise

    def close(self, timeout: float = CLOSE_WAIT_SECONDS) -> None:
        """Write what is queued, then close the reading connection (reopened when needed)."""
        super().close(timeout)
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def _connect(self, timeout: float, shared: bool = False) -> sqlite3.Connection:
        """Open (creating it private: it holds what people typed) and bring the schema up to
        date (once per store)."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        # shared: used by one thread at a time (under _reader_lock), whichever it is
        connection = sqlite3.connect(self.path, timeout=timeout, check_same_thread=not shared)
        try:
            if not self._migrated:
                connection.execute("PRAGMA journal_mode=WAL")
                with connection:
                    self._migrate(connection)
                self._migrated = True
            # WAL makes NORMAL safe from corruption; a power cut may lose the last records only
            connection.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            connection.close()
            raise
        return connection

    def _migrate(self, connection: sqlite3.Connection) -> None:
        """Bring any earlier layout to SCHEMA_VERSION: files from before versions were kept
        have ``unanswered`` (declined and low-confidence questions only) and ratings maybe
        without ``rater``."""
        connection.execute(_META)
        row = connection.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row is not None else 0
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than this bot's ({SCHEMA_VERSION})")
        if version < 1:
            tables = {r[0] for r in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            connection.executescript(_TABLES.format(real="REAL", text=""))
            if "unanswered" in tables:  # only questions not answered well were kept then
                connection.execute(
                    "INSERT INTO questions (at, question, band, best_id, score) "
                    "SELECT at, question, CASE WHEN answered THEN 'probable' ELSE 'decline' "
                    "END, best_id, score FROM unanswered")
                connection.execute("DROP TABLE unanswered")
            columns = {r[1] for r in connection.execute("PRAGMA table_info(ratings)")}
            if "rater" not in columns:
                connection.execute("ALTER TABLE ratings ADD COLUMN rater TEXT")
            connection.execute(_ONE_RATING_PER_RATER)
        connection.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))
        self._load_key(connection)


# --- PostgreSQL ------------------------------------------------------------------------------

_PG_MIGRATIONS: tuple[str, ...] = (  # step n brings version n-1 to n
    _TABLES.format(real="DOUBLE PRECISION", text='COLLATE "C"') + _ONE_RATING_PER_RATER,
)
assert len(_PG_MIGRATIONS) == SCHEMA_VERSION
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class _QuietPoolLog(logging.Filter):
    """psycopg_pool warns, over several lines, at every attempt to reach a database that is
    down; our own warning already says records are lost: let one line through a minute."""

    def __init__(self) -> None:
        super().__init__()
        self._last = float("-inf")
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        now = time.monotonic()
        with self._lock:
            if now - self._last < WARNING_INTERVAL_SECONDS:
                return False
            self._last = now
        record.msg, record.args = " ".join(record.getMessage().split()), ()
        return True


_POOL_LOG_FILTER = _QuietPoolLog()


class PostgresStore(_QueuedStore):
    """All state in a PostgreSQL database, shared by every bot process that uses it.

    A small connection pool (psycopg_pool) serves the writer thread and the reads; the
    schema is created or migrated by whichever process gets there first (an advisory lock
    keeps two from doing it at once). ``schema`` puts the tables in a schema of their own
    (created if missing), e.g. one per test.
    """

    _hour_sql = "CAST(floor((at + ?) / 3600) AS INTEGER) % 24"

    def __init__(self, url: str, *, retention_days: int = DEFAULT_RETENTION_DAYS,
                 queue_size: int = QUEUE_SIZE, clock: Callable[[], float] = time.time,
                 schema: str = ""):
        import psycopg
        import psycopg_pool

        super().__init__(retention_days=retention_days, queue_size=queue_size, clock=clock)
        if schema and not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"schema must be a plain lower-case name, not {schema!r}")
        self.url = url
        self.schema = schema
        self.where = redact_database_url(url) + (f" (schema {schema})" if schema else "")
        self._failures = (psycopg.Error, psycopg_pool.PoolTimeout, OSError)
        self._migrated = False
        self._migrate_lock = threading.Lock()
        self._down_until = 0.0  # reads fail at once until then (monotonic)
        from psycopg.conninfo import conninfo_to_dict

        options = f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"
        given = conninfo_to_dict(url).get("options")  # the URL's own options=... still apply
        if given:
            options = f"{given} {options}"
        if schema:
            options += f" -c search_path={schema}"
        self._connect_options = {"connect_timeout": CONNECT_TIMEOUT_SECONDS,
                                 "options": options, "application_name": "faqbot"}
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] | None = None
        self._pool_lock = threading.Lock()
        logging.getLogger("psycopg.pool").addFilter(_POOL_LOG_FILTER)  # once: it is one object

    def _sql(self, statement: str) -> str:
        return statement.replace("%", "%%").replace("?", "%s")

    def _connection_lost(self, error: BaseException) -> bool:
        import psycopg
        import psycopg_pool

        # not PoolTimeout (an OperationalError too: no connection at all) nor a statement
        # timeout (QueryCanceled): trying again would only wait again
        return isinstance(error, psycopg.OperationalError) and not isinstance(
            error, psycopg_pool.PoolTimeout | psycopg.errors.QueryCanceled)

    def _open_pool(self) -> psycopg_pool.ConnectionPool[psycopg.Connection[Any]]:
        """The pool, opened on first use without waiting: a database that is down at start
        costs records, not the start."""
        import psycopg_pool

        with self._pool_lock:
            if self._pool is None:
                self._pool = psycopg_pool.ConnectionPool(
                    self.url, min_size=1, max_size=POOL_SIZE, open=False, name="faqbot-store",
                    timeout=READ_WAIT_SECONDS, reconnect_timeout=WARNING_INTERVAL_SECONDS,
                    kwargs=self._connect_options)
                self._pool.open(wait=False)
            return self._pool

    @contextlib.contextmanager
    def _connection(self, wait: float) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in a transaction (committed on leaving), schema up to date."""
        pool = self._open_pool()
        try:
            with pool.connection(timeout=wait) as connection:
                if not self._migrated:
                    self._migrate(connection)
                yield connection
        except self._failures as error:
            if self._connection_lost(error):
                pool.check()  # the others may be broken too (a restart): replace them now
            raise

    @contextlib.contextmanager
    def _writing(self) -> Iterator[psycopg.Connection[Any]]:
        with self._connection(WRITE_WAIT_SECONDS) as connection, connection.pipeline():
            yield connection  # pipeline mode: a batch's statements share round trips

    @contextlib.contextmanager
    def _reading(self, create: bool, wait: float) -> Iterator[Any]:
        import psycopg_pool

        if time.monotonic() < self._down_until:
            raise psycopg_pool.PoolTimeout("the database did not answer a moment ago")
        try:
            with self._connection(wait) as connection, connection.pipeline():
                yield connection  # pipeline mode: hit_rate's statements share round trips
        except self._failures as error:
            if not self._connection_lost(error):  # lost: the caller tries a new one
                self._down_until = time.monotonic() + DOWN_BACKOFF_SECONDS
            raise

    def _migrate(self, connection: psycopg.Connection[Any]) -> None:
        with self._migrate_lock, connection.transaction():
            # one migrating process at a time; the lock ends with the transaction
            connection.execute("SELECT pg_advisory_xact_lock(hashtext('faqbot-schema'))")
            if self.schema:
                connection.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
            connection.execute(_META)
            row = connection.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row is not None else 0
            if version > SCHEMA_VERSION:
                import psycopg

                raise psycopg.DataError(
                    f"schema version {version} is newer than this bot's ({SCHEMA_VERSION})")
            for step in _PG_MIGRATIONS[version:]:
                connection.execute(step)
            self._run(connection, "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                                  "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                      (str(SCHEMA_VERSION),))
            self._load_key(connection)
        self._migrated = True

    def _run(self, db: Any, statement: str, params: Sequence[object] = ()) -> Any:
        return db.execute(self._sql(statement), params)

    def close(self, timeout: float = CLOSE_WAIT_SECONDS) -> None:
        """Write what is queued, then close the pool (it reopens on the next use)."""
        super().close(timeout)
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close(timeout=timeout)
        self._migrated = False
