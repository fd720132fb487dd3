"""The store: the use log, ratings, chat context and rate counters; `faqbot review` reads it.

The tests of what is kept run against both back ends (``backend``: SQLite and the session's
throwaway PostgreSQL). Recording is best effort: a locked, read-only, corrupt or missing
SQLite file costs the records (one warning), never a reply, and never blocks the caller;
tests/test_store_postgres.py does the same for a PostgreSQL server that is down.
"""

from __future__ import annotations

import dataclasses
import enum
import io
import logging
import os
import sqlite3
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.cli import chat, main, visible
from bot.config import ConfigError, Settings, load_settings
from bot.flow import UserRateLimit, Verdict
from bot.replies import FaqBot
from bot.store import SCHEMA_VERSION, STORED_TEXT_CHARS, Review, SqliteStore, Store, StoreError
from tests.storekit import BACKENDS, Backend, PostgresBackend, SqliteBackend

ROOT = Path(__file__).resolve().parents[1]
DECLINED = "今天天气怎么样"
ANSWERED = "信息联络点有多少个"
DAY = 86400
PROMPT_SECONDS = 0.05  # a record_* call only queues: far below this even on a busy machine
FLUSH_SECONDS = 30.0  # close() waits at most this for the writer in tests (a loaded machine)
# The layout before ratings were per user: existing files must keep working.
OLD_SCHEMA = """
CREATE TABLE unanswered (
    at REAL NOT NULL, question TEXT NOT NULL, best_id TEXT, score INTEGER, answered INTEGER
);
CREATE TABLE ratings (at REAL NOT NULL, passage_id TEXT NOT NULL, good INTEGER NOT NULL,
                      question TEXT);
"""


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each back end in turn: a fresh SQLite file, or a fresh schema in the test server."""
    made: Backend
    if request.param == "sqlite":
        made = SqliteBackend(tmp_path / "sub" / "feedback.sqlite3")
    else:
        made = PostgresBackend(request.getfixturevalue("postgres_url"))
    yield made
    made.drop()


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    opened = backend.make()
    yield opened
    opened.close()


@pytest.fixture
def recording_bot(faq_bot: FaqBot, store: Store) -> FaqBot:
    return FaqBot(faq_bot.settings, faq_bot.index, store)


class FakeClock:
    """Unix time that tests move by hand."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def rows(path: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as connection:
        return connection.execute(sql).fetchall()


def store_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "bot.store" and r.levelno == logging.WARNING]


# --- broken databases ---------------------------------------------------------------------


def _old_layout(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.executescript(OLD_SCHEMA)
        connection.execute("INSERT INTO ratings VALUES (?, 's1', 0, '旧的问题')", (time.time(),))
    return path


def _read_only(path: Path) -> None:
    """The file cannot be opened for writing, also by root (immutable), as on a read-only
    mount."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        return
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("cannot make a file read-only for root here (chattr +i failed)")


@pytest.fixture(params=["locked", "read-only", "directory", "under a file", "corrupt"])
def broken_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A database path the store cannot write to, in each way a deployment can break it."""
    path = tmp_path / "faqbot.sqlite3"
    kind = request.param
    if kind == "locked":  # another process in the middle of a long write
        holder = sqlite3.connect(_old_layout(path), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        yield path
        holder.rollback()
        holder.close()
        return
    if kind == "read-only":
        _old_layout(path)
        _read_only(path)
        yield path
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        return
    if kind == "directory":  # e.g. a volume mounted at the file's path
        path.mkdir()
    elif kind == "under a file":
        (tmp_path / "data").write_text("a file where the directory should be")
        path = tmp_path / "data" / "faqbot.sqlite3"
    else:
        path.write_bytes(b"\x00garbage, not SQLite\xff" * 200)
    yield path


def test_a_broken_database_costs_the_records_not_the_replies(
    faq_bot: FaqBot, broken_db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqliteStore(broken_db)
    bot = FaqBot(faq_bot.settings, faq_bot.index, store)
    session = f"{DECLINED}\n{ANSWERED}\n:bad\n{DECLINED}\n:good\n{DECLINED}\n/help\n"
    out = io.StringIO()
    caplog.set_level(logging.WARNING, logger="bot.store")
    started = time.monotonic()
    assert chat(bot, io.StringIO(session), out, interactive=False) == 0
    elapsed = time.monotonic() - started
    assert not bot.handle(DECLINED).answered
    store.close(FLUSH_SECONDS)
    replies = out.getvalue()
    assert replies.count(faq_bot.settings.text("decline")) == 3
    assert replies.count(faq_bot.settings.text("feedback_thanks")) == 2
    assert faq_bot.help().plain() in replies  # the chat went on to the last line
    assert elapsed < 2.0, f"seven replies took {elapsed:.2f} s"  # today ~10 ms
    [warning] = store_warnings(caplog)
    assert str(broken_db) in warning


def test_recording_never_waits_for_a_locked_database(tmp_path: Path) -> None:
    path = _old_layout(tmp_path / "faqbot.sqlite3")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    store = SqliteStore(path)
    slowest = 0.0
    try:
        for n in range(20):
            started = time.perf_counter()
            store.record_question(f"{DECLINED}{n}", "decline")
            store.record_rating(f"telegram:{n}", "s1", False, DECLINED)
            slowest = max(slowest, time.perf_counter() - started)
    finally:
        holder.rollback()
        holder.close()
        store.close(FLUSH_SECONDS)
    assert slowest < PROMPT_SECONDS, f"a record_* call took {slowest * 1000:.0f} ms"


def test_a_full_queue_drops_and_counts_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _old_layout(tmp_path / "faqbot.sqlite3")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    store = SqliteStore(path, queue_size=2)
    caplog.set_level(logging.WARNING, logger="bot.store")
    try:
        for n in range(50):
            store.record_question(f"{DECLINED}{n}", "decline")
    finally:
        holder.rollback()
        holder.close()
        store.close(FLUSH_SECONDS)
    assert 45 <= store.dropped <= 48  # the writer holds one, the queue two
    assert len([w for w in store_warnings(caplog) if "dropped" in w]) == 1


def test_recording_resumes_once_the_database_is_writable_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _old_layout(tmp_path / "faqbot.sqlite3")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    store = SqliteStore(path)
    store.record_question("锁着的时候", "decline")
    store.close(FLUSH_SECONDS)
    holder.rollback()
    holder.close()
    store.record_question("解锁以后", "decline")
    store.close(FLUSH_SECONDS)
    assert [q for q, _, _ in store.review().unanswered] == ["解锁以后"]


@pytest.mark.parametrize("kind", ["corrupt", "directory"])
def test_review_of_an_unreadable_database_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:
    database = tmp_path / "review.sqlite3"
    if kind == "corrupt":
        database.write_bytes(b"\x00garbage, not SQLite\xff" * 200)
    else:
        database.mkdir()
    monkeypatch.setenv("FAQBOT_FEEDBACK_DB", str(database))
    monkeypatch.chdir(ROOT)
    assert main(["review"]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith("faqbot: ") and str(database) in line and "cannot read" in line
    assert "Traceback" not in captured.out + captured.err


# --- what is kept (both back ends) -----------------------------------------------------------


def test_sqlite_file_is_created_private_on_first_write_in_wal_mode(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "sub" / "feedback.sqlite3")
    assert not store.path.exists()
    store.review()  # reading creates nothing
    store.stats()
    assert store.recall_context("telegram:1", 60) is None
    assert not store.path.exists()
    store.record_rating("console", "s2.m2", True)
    store.close()
    assert store.path.exists()
    assert rows(store.path, "PRAGMA journal_mode") == [("wal",)]
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700


def test_every_question_is_recorded_with_its_band(
    recording_bot: FaqBot, store: Store, backend: Backend
) -> None:
    declined = recording_bot.ask(DECLINED)
    answered = recording_bot.ask("第二部分讲了什么")
    assert not declined.answered and answered.answered
    store.close()
    kept = backend.rows("SELECT question, band, best_id, score FROM questions ORDER BY at")
    assert [(q, b) for q, b, _, _ in kept] == [(DECLINED, "decline"),
                                               ("第二部分讲了什么", "answer")]
    assert kept[1][2:] == ("s2", 100)
    assert [q for q, _, _ in store.review().unanswered] == [DECLINED]  # answered: not listed


def test_a_band_may_be_given_as_a_string_enum(store: Store, backend: Backend) -> None:
    class Band(enum.StrEnum):  # as bot.search.results may define it
        PROBABLE = "probable"

    store.record_question("问题", Band.PROBABLE)
    store.close()
    assert backend.rows("SELECT band FROM questions") == [("probable",)]


def test_an_unknown_band_is_not_recorded_and_warned_about(
    store: Store, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.store")
    store.record_question("问题", "maybe")
    store.record_question("问题", "probable")
    store.close()
    assert backend.rows("SELECT band FROM questions") == [("probable",)]
    [warning] = store_warnings(caplog)
    assert "maybe" in warning


def test_stored_text_is_capped(store: Store, backend: Backend) -> None:
    store.record_question("问" * 5000, "decline")
    store.record_rating("console", "s1", False, "答" * 5000)
    store.close()
    [(question,)] = backend.rows("SELECT question FROM questions")
    [(rated,)] = backend.rows("SELECT question FROM ratings")
    assert (question, rated) == ("问" * STORED_TEXT_CHARS, "答" * STORED_TEXT_CHARS)


def test_review_orders_unanswered_by_frequency(store: Store) -> None:
    for question, times in (("区长是谁", 1), ("预算多少", 3), ("电话多少", 2)):
        for _ in range(times):
            store.record_question(question, "decline")
    store.record_question("电话多少", "probable", best_id="s1", score=60)
    for _ in range(5):
        store.record_question("第二部分讲了什么", "answer", best_id="s2", score=100)
    store.close()
    # ties in code point order, the same in both back ends (电 U+7535 before 预 U+9884)
    assert store.review().unanswered == [("电话多少", 3, 60), ("预算多少", 3, 0),
                                         ("区长是谁", 1, 0)]
    assert store.review(limit=1).unanswered == [("电话多少", 3, 60)]


def test_review_lists_worst_rated_answers_first(store: Store) -> None:
    ratings = (("s1", "u1", False), ("s1", "u2", False), ("s2", "u1", False), ("s2", "u2", True),
               ("s3", "u1", True))
    for passage_id, user, good in ratings:
        store.record_rating(user, passage_id, good)
    store.close()
    assert store.review().worst == [("s1", 2, 0), ("s2", 1, 1)]


def test_one_rating_per_user_and_answer_the_last_one_counts(
    store: Store, backend: Backend
) -> None:
    store.record_rating("telegram:1001", "s1", True, "第一次")
    store.record_rating("telegram:1001", "s1", False, "改主意了")
    store.record_rating("telegram:1002", "s1", False)
    store.record_rating("telegram:1001", "s2", False)
    store.close()
    assert store.review().worst == [("s1", 2, 0), ("s2", 1, 0)]
    kept = backend.rows("SELECT passage_id, good, question, rater FROM ratings ORDER BY at")
    assert [(p, g, q) for p, g, q, _ in kept] == [("s1", 0, "改主意了"), ("s1", 0, ""),
                                                 ("s2", 0, "")]
    raters = {r for *_, r in kept}
    assert len(raters) == 2 and not any("1001" in r or "1002" in r for r in raters)


def test_feedback_button_action_records_a_rating(recording_bot: FaqBot, store: Store) -> None:
    reply = recording_bot.ask("海峡论坛的服务保障")
    actions = [b.action for row in reply.buttons for b in row]
    assert f"fb:bad:{reply.passage_id}" in actions
    thanks = recording_bot.action(f"fb:bad:{reply.passage_id}")
    assert thanks.plain() == recording_bot.settings.text("feedback_thanks")
    store.close()
    assert store.review().worst == [(reply.passage_id, 1, 0)]


def test_console_good_and_bad_rate_the_last_answer_once(
    recording_bot: FaqBot, store: Store
) -> None:
    out = io.StringIO()
    chat(recording_bot, io.StringIO(f"{ANSWERED}\n:good\n:bad\n:bad\n"), out, interactive=False)
    store.close()
    passage_id = recording_bot.ask(ANSWERED).passage_id
    assert store.review().worst == [(passage_id, 1, 0)]


def test_an_old_sqlite_file_is_migrated_and_keeps_its_questions_and_ratings(
    tmp_path: Path
) -> None:
    path = _old_layout(tmp_path / "old.sqlite3")
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.executemany("INSERT INTO unanswered VALUES (?, ?, 's1', ?, ?)", [
            (time.time(), "区长是谁", 0, 0), (time.time(), "预算多少", 60, 1)])
    store = SqliteStore(path)
    for good in (True, False):  # one user changing their vote: one rating
        store.record_rating("console", "s1", good)
    store.record_question(DECLINED, "decline")
    store.close()
    assert store.review().worst == [("s1", 2, 0)]  # the old rating and the new one
    assert rows(path, "SELECT question, band, score FROM questions ORDER BY question") == [
        ("今天天气怎么样", "decline", 0), ("区长是谁", "decline", 0), ("预算多少", "probable", 60)]
    assert "unanswered" not in {name for (name,) in rows(
        path, "SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_the_schema_version_is_kept_in_meta(store: Store, backend: Backend) -> None:
    store.record_question(DECLINED, "decline")
    store.close()
    assert backend.rows("SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)]


def test_a_schema_newer_than_the_bot_costs_the_records_and_fails_reads(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    first = backend.make()
    first.record_question(DECLINED, "decline")
    first.close()
    backend.rows("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                 (str(SCHEMA_VERSION + 1),))
    caplog.set_level(logging.WARNING, logger="bot.store")
    later = backend.make()  # a new process: it checks the schema again
    later.record_question("新问题", "decline")
    later.close()
    assert backend.rows("SELECT question FROM questions") == [(DECLINED,)]
    [warning] = store_warnings(caplog)
    assert "newer than this bot" in warning
    with pytest.raises(StoreError, match="newer than this bot"):
        later.review()


# --- chat context and rate counters: shared by every process on one database ----------------


def test_context_is_the_last_passage_until_it_is_too_old(backend: Backend) -> None:
    clock = FakeClock(1_700_000_000.0)
    store = backend.make(clock=clock)
    try:
        assert store.recall_context("telegram:7", 600) is None
        store.remember_context("telegram:7", "s1")
        store.remember_context("telegram:7", "s2.m3")
        store.remember_context("telegram:8", "s3")
        store.close()
        assert store.recall_context("telegram:7", 600) == "s2.m3"
        assert store.recall_context("telegram:9", 600) is None
        clock.now += 601
        assert store.recall_context("telegram:7", 600) is None
        assert store.recall_context("telegram:7", 3600) == "s2.m3"
    finally:
        store.close()
    chats = backend.rows("SELECT chat FROM contexts")
    assert len(chats) == 2 and not any("telegram" in c for (c,) in chats)  # hashed


def test_context_written_by_one_process_is_read_by_another(backend: Backend) -> None:
    asked_here, followed_up_there = backend.make(), backend.make()
    try:
        asked_here.remember_context("telegram:-100123", "s2.m1")
        asked_here.close()
        assert followed_up_there.recall_context("telegram:-100123", 600) == "s2.m1"
    finally:
        asked_here.close()
        followed_up_there.close()


def test_context_is_kept_with_retention_zero(backend: Backend) -> None:
    """Retention 0 keeps no use log; follow-ups still work (context is not the use log)."""
    store = backend.make(retention_days=0)
    try:
        store.record_question(DECLINED, "decline")
        store.remember_context("console", "s1")
        store.close()
        assert store.recall_context("console", 600) == "s1"
        assert store.review().unanswered == []
    finally:
        store.close()


def test_hit_rate_counts_a_users_messages_in_the_window(backend: Backend) -> None:
    clock = FakeClock(1_700_000_000.0)
    store = backend.make(clock=clock)
    try:
        assert [store.hit_rate("telegram:1", 10) for _ in range(3)] == [1, 2, 3]
        assert store.hit_rate("telegram:2", 10) == 1  # another user
        clock.now += 5
        assert store.hit_rate("telegram:1", 10) == 4
        clock.now += 6  # the first three are out of the window now
        assert store.hit_rate("telegram:1", 10) == 2
    finally:
        store.close()
    assert not any("telegram" in k for (k,) in backend.rows("SELECT user_key FROM rate_events"))


def test_a_rate_limit_on_a_store_is_shared_by_two_processes(backend: Backend) -> None:
    first, second = backend.make(), backend.make()
    try:
        limits = (UserRateLimit(3, 60, store=first), UserRateLimit(3, 60, store=second))
        verdicts = [limits[n % 2].check(4242) for n in range(6)]
    finally:
        first.close()
        second.close()
    # three allowed in all; each process tells the user once, then stays quiet
    assert verdicts == [Verdict.ALLOW, Verdict.ALLOW, Verdict.ALLOW,
                        Verdict.NOTIFY, Verdict.NOTIFY, Verdict.DROP]


def test_a_shared_limit_lets_a_user_in_again_after_a_quiet_window(backend: Backend) -> None:
    clock = FakeClock(1_700_000_000.0)
    store = backend.make(clock=clock)
    try:
        limit = UserRateLimit(2, 10, store=store)
        burst = [limit.check("telegram:9") for _ in range(4)]
        clock.now += 11  # quiet for longer than the window
        after = [limit.check("telegram:9") for _ in range(3)]
    finally:
        store.close()
    assert burst == [Verdict.ALLOW, Verdict.ALLOW, Verdict.NOTIFY, Verdict.DROP]
    assert after == [Verdict.ALLOW, Verdict.ALLOW, Verdict.NOTIFY]  # a new burst: told again


# --- stats ----------------------------------------------------------------------------------


def test_stats_counts_today_the_week_shares_votes_hours_and_unanswered(
    backend: Backend
) -> None:
    beijing = timezone(timedelta(hours=8))
    now = datetime(2026, 3, 10, 15, 30, tzinfo=beijing)
    clock = FakeClock(0.0)
    store = backend.make(clock=clock)

    def at(day: int, hour: int) -> float:
        return datetime(2026, 3, day, hour, 5, tzinfo=beijing).timestamp()

    asked = [  # (day, hour, question, band)
        (10, 9, "海峡论坛", "answer"), (10, 9, "区长是谁", "decline"),
        (10, 14, "预算多少", "probable"), (9, 9, "预算多少", "decline"),
        (8, 20, "区长是谁", "decline"), (5, 20, "第二部分", "answer"),
        (3, 9, "上周", "answer"),  # 3 March 09:05 is older than seven days: left out
        (1, 9, "很久以前", "decline"),
    ]
    for day, hour, question, band in asked:
        clock.now = at(day, hour)
        store.record_question(question, band)
    for day, user, good in ((10, "a", True), (9, "b", True), (9, "c", False), (1, "d", False)):
        clock.now = at(day, 12)
        store.record_rating(user, "s1", good)
    store.close()
    clock.now = now.timestamp()
    try:
        stats = store.stats(now)
    finally:
        store.close()
    assert (stats.today, stats.week) == (3, 6)
    assert (stats.answered, stats.hedged, stats.declined) == pytest.approx((2 / 6, 1 / 6, 3 / 6))
    assert (stats.good, stats.bad) == (2, 1)
    assert stats.busiest_hours == [(9, 3), (20, 2), (14, 1)]  # Beijing hours
    assert stats.top_unanswered == [("区长是谁", 2), ("预算多少", 2)]


def test_stats_of_an_empty_store_are_zero(store: Store) -> None:
    stats = store.stats()
    assert (stats.today, stats.week, stats.answered, stats.good, stats.bad) == (0, 0, 0.0, 0, 0)
    assert stats.busiest_hours == [] and stats.top_unanswered == []


# --- retention ------------------------------------------------------------------------------


def _age(backend: Backend, days: float) -> None:
    """Make every row ``days`` older, as if it had been recorded then."""
    for table in ("questions", "ratings"):
        backend.rows(f"UPDATE {table} SET at = at - ?", (days * DAY,))


def test_purge_deletes_what_is_older_than_the_retention(backend: Backend) -> None:
    store = backend.make(retention_days=90)
    store.record_question("旧问题", "decline")
    store.record_rating("console", "s1", False)
    store.close()
    _age(backend, 91)
    store.record_question("新问题", "decline")
    store.record_rating("console", "s2", False)
    store.close()
    store.purge()
    store.close()
    assert backend.rows("SELECT question FROM questions") == [("新问题",)]
    assert backend.rows("SELECT passage_id FROM ratings") == [("s2",)]


def test_purge_forgets_old_context_and_rate_events(backend: Backend) -> None:
    clock = FakeClock(1_700_000_000.0)
    store = backend.make(clock=clock)
    store.remember_context("console", "s1")
    store.hit_rate("console", 10)
    store.close()
    clock.now += 2 * DAY
    store.purge()
    store.close()
    assert backend.rows("SELECT COUNT(*) FROM contexts") == [(0,)]
    assert backend.rows("SELECT COUNT(*) FROM rate_events") == [(0,)]


def _count_questions(path: Path) -> int | None:
    """Rows in questions; None while the writer has not made the table yet."""
    try:
        return rows(path, "SELECT COUNT(*) FROM questions")[0][0]
    except sqlite3.OperationalError:
        return None


def test_the_writer_purges_periodically_while_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.store.PURGE_INTERVAL_SECONDS", 0.05)
    backend = SqliteBackend(tmp_path / "faqbot.sqlite3")
    store = backend.make(retention_days=90)
    store.record_question("旧问题", "decline")
    try:
        deadline = time.monotonic() + FLUSH_SECONDS
        while _count_questions(backend.path) != 1:
            assert time.monotonic() < deadline, "the record was never written"
            time.sleep(0.01)
        _age(backend, 91)  # the writer is idle now: only its periodic purge can delete the row
        while _count_questions(backend.path) != 0:
            assert time.monotonic() < deadline, "the expired row was never purged"
            time.sleep(0.01)
        store.record_question("新问题", "decline")  # and the writer still writes
    finally:
        store.close(FLUSH_SECONDS)
    assert backend.rows("SELECT question FROM questions") == [("新问题",)]


def test_review_leaves_out_expired_rows_before_they_are_purged(backend: Backend) -> None:
    clock = FakeClock(1_700_000_000.0)
    store = backend.make(retention_days=30, clock=clock)
    for days_ago, question in ((10, "上周"), (40, "上月")):
        clock.now = 1_700_000_000.0 - days_ago * DAY
        store.record_question(question, "decline")
    store.close()  # no purge ran after the records (it ran before them, at the start)
    clock.now = 1_700_000_000.0
    assert [q for q, _, _ in store.review().unanswered] == ["上周"]


def test_the_bot_applies_the_retention_when_it_starts(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "faqbot.sqlite3"
    old = SqliteStore(path)
    old.record_question("一年前", "decline")
    old.close()
    _age(SqliteBackend(path), 365)
    bot = FaqBot.from_settings(dataclasses.replace(settings, feedback_db=path), record=True)
    bot.close()
    assert rows(path, "SELECT COUNT(*) FROM questions") == [(0,)]


def test_retention_zero_records_nothing(backend: Backend) -> None:
    store = backend.make(retention_days=0)
    store.record_question(DECLINED, "decline")
    store.record_rating("console", "s1", False)
    store.close()
    if isinstance(backend, SqliteBackend):
        assert not backend.path.exists()
    else:
        assert store.review() == Review([], [])  # the tables exist (review made them), empty
        assert backend.rows("SELECT COUNT(*) FROM questions") == [(0,)]


@pytest.mark.parametrize(("value", "expected"), [
    (None, 90), (0, 0), (30, 30), (3650, 3650), (-1, None), (3651, None), ("90", None),
    (True, None), (1.5, None),
])
def test_retention_days_setting_is_range_checked(tmp_path: Path, value: object,
                                                 expected: int | None) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("" if value is None else f"retention_days: {value!r}\n".replace("'", '"'))
    if expected is None:
        with pytest.raises(ConfigError, match="'retention_days' must be a whole number"):
            load_settings(config, environ={})
    else:
        assert load_settings(config, environ={}).retention_days == expected


# --- review output ---------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "shown"), [
    ("\x1b[2J清屏", "\\x1b[2J清屏"),
    ("\x9b31m", "\\x9b31m"),  # C1 CSI
    ("abc\u202eexe.txt", "abc\\u202eexe.txt"),
    ("\u2066隔离\u2069", "\\u2066隔离\\u2069"),
    ("两行\n文字\r", "两行\\n文字\\r"),
    ("全角　空格，标点？😀", "全角　空格，标点？😀"),
])
def test_visible_escapes_control_and_format_characters(typed: str, shown: str) -> None:
    assert visible(typed) == shown


def test_review_command_prints_both_lists_with_escapes_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "review.sqlite3"
    monkeypatch.setenv("FAQBOT_FEEDBACK_DB", str(database))
    monkeypatch.chdir(ROOT)
    store = SqliteStore(database)
    store.record_question("区长是谁", "decline")
    store.record_question("\x1b]0;pwned\x07\x1b[2J\u202e谁", "decline")
    store.record_rating("console", "s2.m3", False)
    store.close()
    assert main(["review"]) == 0
    out = capsys.readouterr().out
    assert "区长是谁" in out and "s2.m3" in out
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\u202e谁" in out
    assert not any(ch in out for ch in "\x1b\x07\u202e")
