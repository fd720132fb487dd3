"""The PostgreSQL store beyond what both back ends share (tests/test_store.py): chosen by
``database_url``, validated without showing the password, and a database that is down or
restarts never costs a reply."""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import bench
from bot.cli import chat, main
from bot.config import ConfigError, Settings, load_settings
from bot.flow import UserRateLimit, Verdict
from bot.replies import FaqBot
from bot.store import SCHEMA_VERSION, PostgresStore, SqliteStore, StoreError, open_store
from tests import pgserver
from tests.storekit import PostgresBackend

ROOT = Path(__file__).resolve().parents[1]
DECLINED = "今天天气怎么样"
ANSWERED = "信息联络点有多少个"
PASSWORD = "s3cret-pw"
# Nothing listens on a socket in a directory that does not exist: "connection refused" at once.
DOWN_URL = f"postgresql://faqbot:{PASSWORD}@/faqbot?host=/nonexistent/faqbot-pg-down"
FLUSH_SECONDS = 30.0


@pytest.fixture
def pg(postgres_url: str) -> Iterator[PostgresBackend]:
    backend = PostgresBackend(postgres_url)
    yield backend
    backend.drop()


def _in_schema(url: str, schema: str) -> str:
    """The URL with libpq options that put the tables in ``schema`` (as a user could)."""
    return f"{url}&options=-csearch_path%3D{schema}"


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


# --- choosing and configuring it ---------------------------------------------------------------


def test_database_url_chooses_postgresql_from_config_or_environment(
    tmp_path: Path, postgres_url: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"database_url: '{DOWN_URL}'\n", encoding="utf-8")
    from_file = load_settings(config, environ={})
    assert from_file.database_url == DOWN_URL
    assert PASSWORD not in repr(from_file)
    assert load_settings(config, environ={"FAQBOT_DATABASE_URL": postgres_url}).database_url == (
        postgres_url)
    chosen = open_store(from_file)
    assert isinstance(chosen, PostgresStore) and PASSWORD not in chosen.where
    assert "***" in chosen.where
    assert isinstance(open_store(dataclasses.replace(from_file, database_url="")), SqliteStore)


@pytest.mark.parametrize("url", [
    "postgresql://faqbot@db1.example:5432,db2.example:5433/faqbot?target_session_attrs=read-write",
    "postgres://faqbot@[::1]:5432/faqbot",
    "postgresql:///faqbot?host=/run/postgresql",
])
def test_database_urls_libpq_reads_are_accepted(url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("retention_days: 30\n", encoding="utf-8")
    assert load_settings(config, environ={"FAQBOT_DATABASE_URL": url}).database_url == url


@pytest.mark.parametrize("url", [
    f"mysql://root:{PASSWORD}@localhost/db",
    f"postgresql://u:{PASSWORD}@db1:5432,db2:70000/db",
    f"postgresql://u:{PASSWORD}@host:99999/db",
    f"postgresql://u:{PASSWORD}@host/db?nonsense=1",
    f"postgresql://u:{PASSWORD}@host/db name",
    "localhost:5432",
])
def test_a_bad_database_url_is_one_line_and_exit_2_without_the_password(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("retention_days: 30\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(config, environ={"FAQBOT_DATABASE_URL": url})
    assert str(raised.value).startswith(f"{config}: database_url")
    assert PASSWORD not in str(raised.value)
    monkeypatch.setenv("FAQBOT_DATABASE_URL", url)
    monkeypatch.chdir(ROOT)
    assert main(["review"]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith("faqbot: ") and "database_url" in line
    assert PASSWORD not in captured.out + captured.err
    assert "Traceback" not in captured.err


def test_the_bot_records_in_postgresql_when_database_url_is_set(
    settings: Settings, pg: PostgresBackend, postgres_url: str
) -> None:
    pg.rows(f"CREATE SCHEMA {pg.schema}")
    configured = dataclasses.replace(settings, database_url=_in_schema(postgres_url, pg.schema))
    bot = FaqBot.from_settings(configured, record=True)
    try:
        assert isinstance(bot.store, PostgresStore)
        assert not bot.ask(DECLINED).answered
    finally:
        bot.close()
    assert pg.rows("SELECT question, band FROM questions") == [(DECLINED, "decline")]


def test_review_command_reads_postgresql(
    pg: PostgresBackend, postgres_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = pg.make()
    store.record_question("区长是谁", "decline")
    store.record_rating("console", "s2.m3", False)
    store.close()
    monkeypatch.setenv("FAQBOT_DATABASE_URL", _in_schema(postgres_url, pg.schema))
    monkeypatch.chdir(ROOT)
    assert main(["review"]) == 0
    out = capsys.readouterr().out
    assert "区长是谁" in out and "s2.m3" in out and "postgresql://" in out


# --- schema -------------------------------------------------------------------------------------


def test_processes_starting_together_create_the_schema_once(pg: PostgresBackend) -> None:
    stores = [pg.make() for _ in range(4)]
    counts: list[int] = []
    errors: list[BaseException] = []

    def first_use(store: PostgresStore) -> None:
        try:
            counts.append(store.hit_rate("telegram:1", 60))
        except BaseException as error:  # noqa: BLE001  (reported by the assertion below)
            errors.append(error)

    threads = [threading.Thread(target=first_use, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(FLUSH_SECONDS)
    # concurrent first uses may count alike (each sees its own event before the others
    # commit), but none is lost: the next use counts all four and itself
    assert not errors and len(counts) == 4 and all(1 <= n <= 4 for n in counts), counts
    assert stores[0].hit_rate("telegram:1", 60) == 5
    for store in stores:
        store.close()
    assert pg.rows("SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)]
    assert len(pg.rows("SELECT value FROM meta WHERE key = 'rater_key'")) == 1


# --- a database that is down or restarts --------------------------------------------------------


def test_a_database_that_is_down_costs_the_records_not_the_replies(
    faq_bot: FaqBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    store = PostgresStore(DOWN_URL)
    bot = FaqBot(faq_bot.settings, faq_bot.index, store)
    session = f"{DECLINED}\n{ANSWERED}\n:bad\n{DECLINED}\n:good\n{DECLINED}\n/help\n"
    out = io.StringIO()
    started = time.monotonic()
    assert chat(bot, io.StringIO(session), out, interactive=False) == 0
    elapsed = time.monotonic() - started
    time.sleep(3)  # the writer's first batch gives up after WRITE_WAIT_SECONDS
    store.close(FLUSH_SECONDS)
    replies = out.getvalue()
    assert replies.count(faq_bot.settings.text("decline")) == 3
    assert replies.count(faq_bot.settings.text("feedback_thanks")) == 2
    assert faq_bot.help().plain() in replies
    assert elapsed < 2.0, f"seven replies took {elapsed:.2f} s"
    warnings = _warnings(caplog)
    ours = [r.getMessage() for r in warnings if r.name == "bot.store"]
    assert len(ours) == 1 and "records are lost" in ours[0], ours
    assert len([r for r in warnings if r.name == "psycopg.pool"]) <= 1
    assert all("\n" not in r.getMessage() and PASSWORD not in r.getMessage()
               for r in warnings)


def test_reads_from_a_database_that_is_down_raise_store_error_quickly() -> None:
    store = PostgresStore(DOWN_URL)
    try:
        timings = []
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(StoreError) as raised:
                store.hit_rate("telegram:1", 600)
            timings.append(time.monotonic() - started)
            assert PASSWORD not in str(raised.value) and "\n" not in str(raised.value)
        # a chat context is no record to fail on: this process's memory serves it
        store.remember_context("telegram:1", "s2.m3")
        assert store.recall_context("telegram:1", 600) == "s2.m3"
    finally:
        store.close()
    assert timings[0] < 5.0 and max(timings[1:]) < 0.05, timings  # then at once, for a while


def test_the_rate_limit_falls_back_to_memory_when_the_database_is_down() -> None:
    store = PostgresStore(DOWN_URL)
    try:
        limit = UserRateLimit(2, 60, store=store)
        assert [limit.check(7) for _ in range(4)] == [
            Verdict.ALLOW, Verdict.ALLOW, Verdict.NOTIFY, Verdict.DROP]
    finally:
        store.close()


def test_a_database_restart_costs_no_read_and_no_record(pg: PostgresBackend) -> None:
    store = pg.make()
    try:
        store.remember_context("telegram:5", "s1")
        store.close()
        assert store.recall_context("telegram:5", 600) == "s1"
        # every connection of the pool is cut, as a restart of the server would
        pg.rows("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'faqbot' AND pid <> pg_backend_pid()")
        assert store.recall_context("telegram:5", 600) == "s1"
        store.record_question(DECLINED, "decline")
    finally:
        store.close(FLUSH_SECONDS)
    assert pg.rows("SELECT question FROM questions") == [(DECLINED,)]


def test_the_password_is_never_in_the_store_description() -> None:
    store = PostgresStore(f"postgresql://bot:{PASSWORD}@db.example:5432/faqbot")
    assert store.where == "postgresql://bot:***@db.example:5432/faqbot"


# --- faqbot bench: the store row ----------------------------------------------------------------


def test_bench_times_recording_in_both_back_ends_and_drops_its_schema(
    postgres_url: str, pg: PostgresBackend
) -> None:
    rows, notes = bench.store_rows(postgres_url, 200)
    measured = {row.metric: row.bot for row in rows}
    for backend in ("SQLite", "PostgreSQL"):
        assert 0 < measured[f"store: record a question, caller, {backend} (µs)"] < 1e5
        assert 0 < measured[f"store: record a question, written, {backend} (µs)"] < 1e6
        assert 0 < measured[f"store: rate counter per message, {backend}, p50 (µs)"] < 1e6
    assert "200 questions per back end" in notes[0]
    assert pg.rows("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'faqbot_bench_%'") == []
    assert "store: record a question, written, PostgreSQL" in bench.format_text(
        bench.BenchResult(rows, (), notes))


def test_bench_without_a_database_says_postgresql_was_not_measured() -> None:
    rows, notes = bench.store_rows("", 50)
    assert [row.metric for row in rows if "PostgreSQL" in row.metric] == []
    assert len(rows) == 3
    assert notes == ("store, PostgreSQL: not measured: no database_url "
                     "(faqbot bench --database-url postgresql://…)",)


def test_bench_with_a_bad_database_url_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["bench", "--quick", "--database-url", f"mysql://u:{PASSWORD}@h/db"]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert "--database-url" in line and PASSWORD not in line


# --- the throwaway server -----------------------------------------------------------------------


def test_without_postgresql_its_tests_fail_and_say_why_never_skip(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text("def test_needs_postgres(postgres_url):\n    assert postgres_url\n",
                     encoding="utf-8")
    env = {**os.environ, pgserver.BIN_DIRS_VARIABLE: str(tmp_path / "no-postgres-here")}
    env.pop(pgserver.URL_VARIABLE, None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "--rootdir", str(tmp_path), str(probe)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "could not start" in output and "initdb not found" in output
    assert "skipped" not in output


def test_review_of_a_database_that_is_down_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAQBOT_DATABASE_URL", DOWN_URL)
    monkeypatch.chdir(ROOT)
    assert main(["review"]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith("faqbot: postgresql://faqbot:***@") and "cannot read" in line
    assert PASSWORD not in captured.out + captured.err
