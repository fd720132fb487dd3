"""The use log: unanswered questions and ratings go to SQLite; `faqbot review` reads them.

Recording is best effort: a locked, read-only, corrupt or missing database costs the records
(one warning), never a reply, and never blocks the caller.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import sqlite3
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from bot.cli import chat, main, visible
from bot.config import ConfigError, Settings, load_settings
from bot.replies import FaqBot
from bot.store import STORED_TEXT_CHARS, SqliteStore

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


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "sub" / "feedback.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
def recording_bot(faq_bot: FaqBot, store: SqliteStore) -> FaqBot:
    return FaqBot(faq_bot.settings, faq_bot.index, store)


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
            store.record_question(f"{DECLINED}{n}", "", 0, False)
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
            store.record_question(f"{DECLINED}{n}", "", 0, False)
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
    store.record_question("锁着的时候", "", 0, False)
    store.close(FLUSH_SECONDS)
    holder.rollback()
    holder.close()
    store.record_question("解锁以后", "", 0, False)
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


# --- what is kept ---------------------------------------------------------------------------


def test_database_is_created_private_on_first_write_in_wal_mode(store: SqliteStore) -> None:
    assert not store.path.exists()
    store.review()  # reading creates nothing
    assert not store.path.exists()
    store.record_rating("console", "s2.m2", True)
    store.close()
    assert store.path.exists()
    assert rows(store.path, "PRAGMA journal_mode") == [("wal",)]
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700


def test_declined_questions_are_recorded_and_answered_confident_ones_are_not(
    recording_bot: FaqBot, store: SqliteStore
) -> None:
    assert not recording_bot.ask(DECLINED).answered
    assert recording_bot.ask("第二部分讲了什么").answered
    store.close()
    questions = [q for q, _, _ in store.review().unanswered]
    assert questions == [DECLINED]


def test_stored_text_is_capped(store: SqliteStore) -> None:
    store.record_question("问" * 5000, "", 0, False)
    store.record_rating("console", "s1", False, "答" * 5000)
    store.close()
    [(question,)] = rows(store.path, "SELECT question FROM unanswered")
    [(rated,)] = rows(store.path, "SELECT question FROM ratings")
    assert (question, rated) == ("问" * STORED_TEXT_CHARS, "答" * STORED_TEXT_CHARS)


def test_review_orders_unanswered_by_frequency(store: SqliteStore) -> None:
    for question, times in (("区长是谁", 1), ("预算多少", 3), ("电话多少", 2)):
        for _ in range(times):
            store.record_question(question, "", 0, False)
    store.close()
    assert [(q, n) for q, n, _ in store.review().unanswered] == [
        ("预算多少", 3), ("电话多少", 2), ("区长是谁", 1),
    ]


def test_review_lists_worst_rated_answers_first(store: SqliteStore) -> None:
    ratings = (("s1", "u1", False), ("s1", "u2", False), ("s2", "u1", False), ("s2", "u2", True),
               ("s3", "u1", True))
    for passage_id, user, good in ratings:
        store.record_rating(user, passage_id, good)
    store.close()
    assert store.review().worst == [("s1", 2, 0), ("s2", 1, 1)]


def test_one_rating_per_user_and_answer_the_last_one_counts(store: SqliteStore) -> None:
    store.record_rating("telegram:1001", "s1", True, "第一次")
    store.record_rating("telegram:1001", "s1", False, "改主意了")
    store.record_rating("telegram:1002", "s1", False)
    store.record_rating("telegram:1001", "s2", False)
    store.close()
    assert store.review().worst == [("s1", 2, 0), ("s2", 1, 0)]
    kept = rows(store.path, "SELECT passage_id, good, question, rater FROM ratings ORDER BY at")
    assert [(p, g, q) for p, g, q, _ in kept] == [("s1", 0, "改主意了"), ("s1", 0, ""),
                                                 ("s2", 0, "")]
    raters = {r for *_, r in kept}
    assert len(raters) == 2 and not any("1001" in r or "1002" in r for r in raters)


def test_an_old_database_is_migrated_and_keeps_its_ratings(tmp_path: Path) -> None:
    path = _old_layout(tmp_path / "old.sqlite3")
    store = SqliteStore(path)
    for good in (True, False):  # one user changing their vote: one rating
        store.record_rating("console", "s1", good)
    store.record_question(DECLINED, "", 0, False)
    store.close()
    assert store.review().worst == [("s1", 2, 0)]  # the old rating and the new one
    assert [q for q, _, _ in store.review().unanswered] == [DECLINED]


def test_feedback_button_action_records_a_rating(
    recording_bot: FaqBot, store: SqliteStore
) -> None:
    reply = recording_bot.ask("海峡论坛的服务保障")
    actions = [b.action for row in reply.buttons for b in row]
    assert f"fb:bad:{reply.passage_id}" in actions
    thanks = recording_bot.action(f"fb:bad:{reply.passage_id}")
    assert thanks.plain() == recording_bot.settings.text("feedback_thanks")
    store.close()
    assert store.review().worst == [(reply.passage_id, 1, 0)]


def test_console_good_and_bad_rate_the_last_answer_once(
    recording_bot: FaqBot, store: SqliteStore
) -> None:
    out = io.StringIO()
    chat(recording_bot, io.StringIO(f"{ANSWERED}\n:good\n:bad\n:bad\n"), out, interactive=False)
    store.close()
    passage_id = recording_bot.ask(ANSWERED).passage_id
    assert store.review().worst == [(passage_id, 1, 0)]


# --- retention ------------------------------------------------------------------------------


def _age(path: Path, days: float) -> None:
    """Make every row ``days`` older, as if it had been recorded then."""
    with closing(sqlite3.connect(path)) as connection, connection:
        for table in ("unanswered", "ratings"):
            connection.execute(f"UPDATE {table} SET at = at - ?", (days * DAY,))


def test_purge_deletes_what_is_older_than_the_retention(tmp_path: Path) -> None:
    path = tmp_path / "faqbot.sqlite3"
    store = SqliteStore(path, retention_days=90)
    store.record_question("旧问题", "", 0, False)
    store.record_rating("console", "s1", False)
    store.close()
    _age(path, 91)
    store.record_question("新问题", "", 0, False)
    store.record_rating("console", "s2", False)
    store.close()
    store.purge()
    store.close()
    assert rows(path, "SELECT question FROM unanswered") == [("新问题",)]
    assert rows(path, "SELECT passage_id FROM ratings") == [("s2",)]


def _count_questions(path: Path) -> int | None:
    """Rows in unanswered; None while the writer has not made the table yet."""
    try:
        return rows(path, "SELECT COUNT(*) FROM unanswered")[0][0]
    except sqlite3.OperationalError:
        return None


def test_the_writer_purges_periodically_while_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.store.PURGE_INTERVAL_SECONDS", 0.05)
    path = tmp_path / "faqbot.sqlite3"
    store = SqliteStore(path, retention_days=90)
    store.record_question("旧问题", "", 0, False)
    try:
        deadline = time.monotonic() + FLUSH_SECONDS
        while _count_questions(path) != 1:
            assert time.monotonic() < deadline, "the record was never written"
            time.sleep(0.01)
        _age(path, 91)  # the writer is idle now: only its periodic purge can delete the row
        while _count_questions(path) != 0:
            assert time.monotonic() < deadline, "the expired row was never purged"
            time.sleep(0.01)
        store.record_question("新问题", "", 0, False)  # and the writer still writes
    finally:
        store.close(FLUSH_SECONDS)
    assert rows(path, "SELECT question FROM unanswered") == [("新问题",)]


def test_review_leaves_out_expired_rows_before_they_are_purged(tmp_path: Path) -> None:
    path = tmp_path / "faqbot.sqlite3"
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.executescript(OLD_SCHEMA)
        connection.executemany("INSERT INTO unanswered VALUES (?, ?, '', 0, 0)",
                               [(time.time() - 10 * DAY, "上周"), (time.time() - 40 * DAY, "上月")])
    assert [q for q, _, _ in SqliteStore(path, retention_days=30).review().unanswered] == ["上周"]


def test_the_bot_applies_the_retention_when_it_starts(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "faqbot.sqlite3"
    old = SqliteStore(path)
    old.record_question("一年前", "", 0, False)
    old.close()
    _age(path, 365)
    bot = FaqBot.from_settings(dataclasses.replace(settings, feedback_db=path), record=True)
    bot.close()
    assert rows(path, "SELECT COUNT(*) FROM unanswered") == [(0,)]


def test_retention_zero_records_nothing(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "faqbot.sqlite3", retention_days=0)
    store.record_question(DECLINED, "", 0, False)
    store.record_rating("console", "s1", False)
    store.close()
    assert not store.path.exists()


@pytest.mark.parametrize(("value", "expected"), [
    (None, 90), (0, 0), (30, 30), (3650, 3650), (-1, None), (3651, None), ("90", None),
    (True, None), (1.5, None),
])
def test_retention_days_setting_is_range_checked(tmp_path: Path, value: object,
                                                 expected: int | None) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("" if value is None else f"retention_days: {value!r}\n".replace("'", '"'))
    if expected is None:
        with pytest.raises(ConfigError, match="retention_days"):
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
    store.record_question("区长是谁", "", 0, False)
    store.record_question("\x1b]0;pwned\x07\x1b[2J\u202e谁", "", 0, False)
    store.record_rating("console", "s2.m3", False)
    store.close()
    assert main(["review"]) == 0
    out = capsys.readouterr().out
    assert "区长是谁" in out and "s2.m3" in out
    assert "\\x1b]0;pwned\\x07\\x1b[2J\\u202e谁" in out
    assert not any(ch in out for ch in "\x1b\x07\u202e")
