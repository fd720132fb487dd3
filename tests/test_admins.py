"""Admins: the settings, who sees and may use /stats /review /reload, what they answer (from
a real SqliteStore), reloading content (also under concurrent questions, and from the host
through the pid file), and a private deployment (allowed_chats)."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from telegram import CallbackQuery, Chat, Update, User
from telegram.ext import Application

from bot import admin, pidfile
from bot.cli import main
from bot.config import ConfigError, Settings, load_settings
from bot.content import ContentError, Problem
from bot.replies import ADMIN_COMMANDS, COMMANDS, FaqBot
from bot.store import SqliteStore
from bot.telegram_app import build_application, register_commands
from tests.test_telegram import (
    ALICE,
    BOB,
    GROUP,
    TOKEN,
    OfflineRequest,
    make_message,
    message_update,
)

ROOT = Path(__file__).resolve().parents[1]
REPORT = "siming-report.yaml"
OLD_NAME = "思明区政府办工作经验材料"
NEW_NAME = "思明区政府办重新加载的材料"
ADMIN = ALICE  # 1001
STRANGER = User(1003, "Carol", is_bot=False)
STRANGER_CHAT = Chat(1003, Chat.PRIVATE)
ALLOWED_GROUP = Chat(-7001, Chat.GROUP, title="内部群")


# --- settings -----------------------------------------------------------------------------


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"content: {ROOT / 'content'}\n{text}", encoding="utf-8")
    return path


@pytest.mark.parametrize(("yaml_text", "environ", "admins", "allowed"), [
    ("", {}, set(), set()),
    ("admins: [1001, 1002]\n", {}, {1001, 1002}, set()),
    ("admins: [1001]\n", {"FAQBOT_ADMINS": "7, 8"}, {7, 8}, set()),  # the environment wins
    ("allowed_chats: [1001, -7001]\n", {}, set(), {1001, -7001}),
    ("", {"FAQBOT_ALLOWED_CHATS": "-100123,5"}, set(), {-100123, 5}),
])
def test_admins_and_allowed_chats_come_from_config_or_environment(
    tmp_path: Path, yaml_text: str, environ: dict[str, str], admins: set[int], allowed: set[int]
) -> None:
    settings = load_settings(_config(tmp_path, yaml_text), environ=environ)
    assert (settings.admins, settings.allowed_chats) == (admins, allowed)


@pytest.mark.parametrize(("yaml_text", "environ", "shown"), [
    ("admins: 1001\n", {}, "'1001'"),
    ("admins: [alice]\n", {}, "'alice'"),
    ("admins: [true]\n", {}, "'True'"),
    ("admins: [-5001]\n", {}, "'-5001'"),  # a group is no admin
    ("admins: [1.5]\n", {}, "'1.5'"),
    ("", {"FAQBOT_ADMINS": "1001,x"}, "'x'"),
    ("allowed_chats: [0]\n", {}, "'0'"),
    ("allowed_chats: [99999999999999999999]\n", {}, "'99999999999999999999'"),
])
def test_bad_admins_are_one_line_naming_the_value(
    tmp_path: Path, yaml_text: str, environ: dict[str, str], shown: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(_config(tmp_path, yaml_text), environ=environ)
    message = str(raised.value)
    assert "\n" not in message and shown in message
    assert ("admins" in message) or ("allowed_chats" in message)


def test_faqbot_exits_2_with_one_line_on_bad_admins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAQBOT_ADMINS", "12,abc")
    assert main(["--config", str(_config(tmp_path, "")), "validate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "FAQBOT_ADMINS" in err and "Traceback" not in err


# --- the bot of these tests: its own content copy, store and admins ---------------------


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A copy of the real content that a test may change."""
    copy = tmp_path / "content"
    shutil.copytree(ROOT / "content", copy)
    return copy


@pytest.fixture
def admin_settings(tmp_path: Path, content: Path, faqbot_cache_dir: Path) -> Settings:
    loaded = load_settings(ROOT / "config.yaml", environ={
        "FAQBOT_CACHE_DIR": str(faqbot_cache_dir),
        "FAQBOT_FEEDBACK_DB": str(tmp_path / "use.sqlite3"),
    })
    return dataclasses.replace(loaded, content=content, admins=frozenset({ADMIN.id}),
                               telegram=dataclasses.replace(loaded.telegram, token=TOKEN))


@pytest.fixture
def store(admin_settings: Settings) -> Iterator[SqliteStore]:
    opened = SqliteStore(admin_settings.feedback_db)
    yield opened
    opened.close()


@pytest.fixture
def bot(admin_settings: Settings, store: SqliteStore) -> FaqBot:
    (_, index), = FaqBot.load_library(admin_settings)
    return FaqBot(admin_settings, index, store)


def _rename(content: Path, name: str) -> None:
    report = content / REPORT
    text = report.read_text(encoding="utf-8")
    report.write_text(re.sub(r"(?m)^  name: .*$", f"  name: {name}", text, count=1),
                      encoding="utf-8")


def _break(content: Path) -> int:
    """An unknown key in the report; the line it is on."""
    report = content / REPORT
    lines = report.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("  author:")) + 1
    lines.insert(at, "  bogus: 1\n")
    report.write_text("".join(lines), encoding="utf-8")
    return at + 1


# --- /stats and /review ---------------------------------------------------------------------


def _record(store: SqliteStore) -> int:
    """A day of use; the hour it was recorded in (UTC, as /stats counts without a zone)."""
    for question, band in [("海峡论坛", "answer"), ("区长是谁", "decline"),
                           ("区长是谁", "decline"), ("预算多少", "probable")]:
        store.record_question(question, band)
    store.record_rating("a", "s1", True)
    store.record_rating("b", "s2", False)
    store.record_rating("c", "s2", False)
    store.close()  # written
    return datetime.now(UTC).hour


def test_stats_reports_counts_shares_votes_hours_and_unanswered(bot: FaqBot,
                                                                store: SqliteStore) -> None:
    hour = _record(store)
    text = admin.stats(bot).plain()
    assert "今天 4 个，近 7 天 4 个" in text
    assert "回答 25%，不太确定 25%，未答 50%" in text
    assert "👍 1 · 👎 2" in text
    assert f"{hour:02d}:00（4）" in text or f"{(hour + 1) % 24:02d}:00（4）" in text
    unanswered = text.split(bot.settings.text("stats_unanswered"))[1]
    assert [line.strip() for line in unanswered.strip().splitlines()] == [
        "2×  区长是谁", "1×  预算多少"]


def test_review_reply_is_what_faqbot_review_prints(
    bot: FaqBot, store: SqliteStore, admin_settings: Settings, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    _record(store)
    reply = admin.review(bot, limit=20).plain()
    monkeypatch.setenv("FAQBOT_FEEDBACK_DB", str(admin_settings.feedback_db))
    assert main(["--config", str(ROOT / "config.yaml"), "review"]) == 0
    printed = capsys.readouterr().out
    assert reply.splitlines() == printed.splitlines()
    assert "     2×    0  区长是谁" in printed
    assert "  s2         2 / 0  " in printed


@pytest.mark.parametrize("command", [admin.stats, admin.review])
def test_without_recording_stats_and_review_say_so(admin_settings: Settings,
                                                   command: object) -> None:
    (_, index), = FaqBot.load_library(admin_settings)
    unrecorded = FaqBot(admin_settings, index)
    assert callable(command)
    assert command(unrecorded).plain() == admin_settings.text("recording_off")
    no_retention = dataclasses.replace(admin_settings, retention_days=0)
    assert command(FaqBot(no_retention, unrecorded.index)).plain() == no_retention.text(
        "recording_off")


# --- /reload --------------------------------------------------------------------------------


def test_reload_serves_the_changed_content(bot: FaqBot, content: Path) -> None:
    assert bot.report.name == OLD_NAME
    _rename(content, NEW_NAME)
    reply = admin.reload(bot, "test").plain()
    assert NEW_NAME in reply and "段" in reply
    assert bot.report.name == NEW_NAME
    assert NEW_NAME in bot.handle("/sections").plain()


def test_a_failed_reload_keeps_the_old_content_and_names_file_and_line(
    bot: FaqBot, content: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = bot.handle("海峡论坛是谁保障的").plain()
    _rename(content, NEW_NAME)
    line = _break(content)
    reply = admin.reload(bot, "test")
    text = reply.plain()
    assert text.startswith(bot.settings.text("reload_failed"))
    assert f"{content / REPORT}:{line}: unknown key 'bogus'" in text
    assert bot.report.name == OLD_NAME
    assert bot.handle("海峡论坛是谁保障的").plain() == before
    assert "content reload failed" in caplog.text and "Traceback" not in caplog.text


def test_reload_problems_are_clipped() -> None:
    error = ContentError([admin_problem(i) for i in range(admin.RELOAD_PROBLEMS + 5)])
    lines = admin.problem_lines(error)
    assert len(lines) == admin.RELOAD_PROBLEMS + 1 and lines[-1] == "… (+5)"
    assert all(len(line) <= admin.PROBLEM_CHARS for line in lines)


def admin_problem(number: int) -> Problem:
    return Problem("r.yaml", number, "x" * 500)


def test_an_unexpected_reload_error_is_one_line_and_the_old_content_stays(
    bot: FaqBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exploding(settings: Settings) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(FaqBot, "load_library", staticmethod(exploding))
    text = admin.reload(bot, "test").plain()
    assert "PermissionError" in text and bot.report.name == OLD_NAME


def test_reload_under_concurrent_questions(bot: FaqBot, content: Path) -> None:
    """Threads ask and page through the report while the content is reloaded back and forth:
    every reply comes whole from one content or the other, and nothing raises."""
    names = (OLD_NAME, NEW_NAME)
    errors: list[BaseException] = []
    seen: set[str] = set()
    done = threading.Event()

    def ask() -> None:
        try:
            while not done.is_set():
                for question in ("海峡论坛是谁保障的", "/sections", "/summary", "下一点呢"):
                    text = bot.handle(question, f"chat-{threading.get_ident()}").plain()
                    assert text
                heading = bot.handle("/sections").plain().splitlines()[0]
                assert any(name in heading for name in names), heading
                seen.add(next(name for name in names if name in heading))
        except BaseException as error:  # noqa: BLE001  (reported below)
            errors.append(error)

    askers = [threading.Thread(target=ask) for _ in range(4)]
    for thread in askers:
        thread.start()
    try:
        for round_ in range(6):
            _rename(content, names[(round_ + 1) % 2])
            bot.reload()
            time.sleep(0.05)
    finally:
        done.set()
        for thread in askers:
            thread.join(timeout=60)
    assert not errors, errors[0]
    assert seen == set(names)
    assert bot.report.name == OLD_NAME  # six reloads: back to the first name


def test_a_call_finishes_on_the_content_it_started_with(bot: FaqBot, content: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A reload in the middle of one answer does not change the report that answer reads."""
    _rename(content, NEW_NAME)
    original = FaqBot.search
    names: list[str] = []

    def search_then_reload(self: FaqBot, question: str) -> object:
        names.append(self.report.name)
        self.reload()  # as another thread would, midway
        names.append(self.report.name)
        return original(self, question)

    monkeypatch.setattr(FaqBot, "search", search_then_reload)
    bot.handle("海峡论坛是谁保障的")
    assert names == [OLD_NAME, OLD_NAME]
    assert bot.report.name == NEW_NAME  # the next call sees the new content


# --- the pid file and `faqbot reload` --------------------------------------------------------


def test_pid_file_is_owner_only_and_removed_afterwards(tmp_path: Path) -> None:
    with pidfile.written(tmp_path) as path:
        assert path.stat().st_mode & 0o777 == 0o600
        assert pidfile.read_pid(tmp_path) == os.getpid()
    assert not path.exists()


@pytest.mark.parametrize(("content", "mode", "message"), [
    (None, 0o600, "does not exist"),
    ("12x\n", 0o600, "does not hold a process id"),
    ("123\n", 0o622, "writable by others"),
])
def test_faqbot_reload_refuses_a_missing_or_untrusted_pid_file(
    tmp_path: Path, content: str | None, mode: int, message: str,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    if content is not None:
        path = tmp_path / pidfile.PID_FILE
        path.write_text(content)
        path.chmod(mode)
    monkeypatch.setenv("FAQBOT_CACHE_DIR", str(tmp_path))
    assert main(["--config", str(ROOT / "config.yaml"), "reload"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_faqbot_reload_refuses_a_symlinked_pid_file(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").write_text(f"{os.getpid()}\n")
    (tmp_path / pidfile.PID_FILE).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(pidfile.PidFileError):
        pidfile.read_pid(tmp_path)


def test_faqbot_reload_sends_sighup_to_the_pid_in_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a stand-in "bot" that records SIGHUP (its command line names bot, as the real one's)
    script = ("import signal,sys,time\n"
              "signal.signal(signal.SIGHUP, lambda *_: (print('hup', flush=True), sys.exit(0)))\n"
              "print('ready', flush=True)\ntime.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", script, "bot"], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        path = tmp_path / pidfile.PID_FILE
        path.write_text(f"{child.pid}\n")
        path.chmod(0o600)
        monkeypatch.setenv("FAQBOT_CACHE_DIR", str(tmp_path))
        assert main(["--config", str(ROOT / "config.yaml"), "reload"]) == 0
        assert f"pid {child.pid}" in capsys.readouterr().out
        assert child.stdout.readline() == "hup\n"
        assert child.wait(timeout=10) == 0
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


# --- Telegram: visibility, the admin commands, allowed_chats ----------------------------------


@pytest.fixture
def request_() -> OfflineRequest:
    return OfflineRequest()


@pytest_asyncio.fixture
async def app(admin_settings: Settings, bot: FaqBot, request_: OfflineRequest
              ) -> AsyncIterator[Application]:
    application = build_application(admin_settings, bot, request=request_)
    await application.initialize()
    yield application
    await application.shutdown()


async def test_admin_commands_are_only_in_the_admins_menu(app: Application,
                                                          request_: OfflineRequest) -> None:
    await register_commands(app)
    everyone, admins = request_.sent("setMyCommands")
    assert "scope" not in everyone or everyone["scope"]["type"] == "default"
    assert [c["command"] for c in everyone["commands"]] == [name for name, _ in COMMANDS]
    assert admins["scope"] == {"type": "chat", "chat_id": ADMIN.id}
    assert [c["command"] for c in admins["commands"]] == [
        name for name, _ in COMMANDS + ADMIN_COMMANDS]


@pytest.mark.parametrize("command", ["/stats", "/review", "/reload"])
async def test_a_non_admin_gets_the_unknown_command_reply(
    app: Application, bot: FaqBot, request_: OfflineRequest, command: str
) -> None:
    await app.process_update(message_update(make_message(app, command, chat=Chat(1002, "private"),
                                                         user=BOB)))
    [sent] = request_.sent()
    assert sent["text"] == bot.handle(command).html()
    assert bot.settings.text("unknown_command", command=command) == parse_plain(sent["text"])


def parse_plain(html_text: str) -> str:
    return re.sub(r"<[^>]+>", "", html_text)


async def test_admin_commands_in_a_group_are_ignored_even_from_an_admin(
    app: Application, request_: OfflineRequest
) -> None:
    await app.process_update(message_update(make_message(app, "/stats@report_faq_test_bot",
                                                         chat=GROUP, user=ADMIN)))
    assert request_.sent() == []


async def test_admin_gets_stats_and_review(app: Application, bot: FaqBot, store: SqliteStore,
                                           request_: OfflineRequest) -> None:
    _record(store)
    await app.process_update(message_update(make_message(app, "/stats", user=ADMIN)))
    await app.process_update(message_update(make_message(app, "/review", user=ADMIN)))
    stats_sent, review_sent = request_.sent()
    assert stats_sent["text"] == admin.stats(bot).html()
    assert "今天 4 个" in stats_sent["text"]
    assert review_sent["text"] == admin.review(bot).html()
    assert "区长是谁" in review_sent["text"]


async def test_admin_reload_success_and_failure(app: Application, bot: FaqBot, content: Path,
                                                request_: OfflineRequest) -> None:
    _rename(content, NEW_NAME)
    await app.process_update(message_update(make_message(app, "/reload", user=ADMIN)))
    line = _break(content)
    await app.process_update(message_update(make_message(app, "/reload", user=ADMIN)))
    done, failed = request_.sent()
    assert NEW_NAME in done["text"]
    assert f"{REPORT}:{line}: unknown key &#x27;bogus&#x27;" in failed["text"] or (
        f"{REPORT}:{line}: unknown key 'bogus'" in failed["text"])
    assert bot.report.name == NEW_NAME  # the broken file was not taken


@pytest.fixture
def private_settings(admin_settings: Settings) -> Settings:
    return dataclasses.replace(admin_settings,
                               allowed_chats=frozenset({BOB.id, ALLOWED_GROUP.id}))


@pytest_asyncio.fixture
async def private_app(private_settings: Settings, bot: FaqBot, request_: OfflineRequest
                      ) -> AsyncIterator[Application]:
    bot.settings = private_settings
    application = build_application(private_settings, bot, request=request_)
    await application.initialize()
    yield application
    await application.shutdown()


async def test_allowed_chats_refuse_others_once_and_serve_the_listed(
    private_app: Application, request_: OfflineRequest, private_settings: Settings
) -> None:
    app = private_app
    refusal = private_settings.text("not_allowed")
    for _ in range(2):  # one refusal, then silence
        await app.process_update(message_update(make_message(app, "海峡论坛", chat=STRANGER_CHAT,
                                                             user=STRANGER)))
    assert [m["text"] for m in request_.sent()] == [refusal]
    request_.calls.clear()
    await app.process_update(message_update(make_message(app, "海峡论坛",
                                                         chat=Chat(BOB.id, "private"), user=BOB)))
    await app.process_update(message_update(make_message(
        app, "@report_faq_test_bot 海峡论坛", chat=ALLOWED_GROUP, user=STRANGER)))
    await app.process_update(message_update(make_message(app, "海峡论坛", user=ADMIN)))
    answers = request_.sent()
    assert len(answers) == 3 and refusal not in [m["text"] for m in answers]


async def test_a_refused_button_press_gets_a_toast_only(
    private_app: Application, request_: OfflineRequest, private_settings: Settings
) -> None:
    query = CallbackQuery("77", STRANGER, "instance", data="toc")
    query.set_bot(private_app.bot)
    await private_app.process_update(Update(77, callback_query=query))
    toasts = request_.sent("answerCallbackQuery")
    assert [t.get("text") for t in toasts] == [private_settings.text("not_allowed")]
    assert request_.sent() == [] and request_.sent("editMessageText") == []


async def test_a_refused_group_hears_nothing_unless_it_addresses_the_bot(
    private_app: Application, request_: OfflineRequest
) -> None:
    await private_app.process_update(message_update(make_message(
        private_app, "大家好", chat=GROUP, user=STRANGER)))
    assert request_.sent() == []
    await private_app.process_update(message_update(make_message(
        private_app, "@report_faq_test_bot 海峡论坛", chat=GROUP, user=STRANGER)))
    assert len(request_.sent()) == 1



def test_an_unwritable_pid_file_only_warns(tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    occupied = tmp_path / "a-file"
    occupied.write_text("")
    with pidfile.written(occupied) as path:  # a file where the directory should be
        assert path is None
    assert "cannot write the pid file" in caplog.text
