"""Learning from use: unanswered questions and ratings go to SQLite; `faqbot review` reads them."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest

from bot.cli import chat, main
from bot.feedback import FeedbackStore
from bot.replies import FaqBot


@pytest.fixture
def store(tmp_path: Path) -> FeedbackStore:
    return FeedbackStore(tmp_path / "sub" / "feedback.sqlite3")


@pytest.fixture
def recording_bot(faq_bot: FaqBot, store: FeedbackStore) -> FaqBot:
    return FaqBot(faq_bot.settings, faq_bot.index, store)


def test_database_is_created_on_first_use_in_wal_mode(store: FeedbackStore) -> None:
    assert not store.path.exists()
    store.record_rating("s2.m2", True)
    assert store.path.exists()
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_declined_questions_are_recorded_and_answered_confident_ones_are_not(
    recording_bot: FaqBot, store: FeedbackStore
) -> None:
    assert not recording_bot.ask("今天天气怎么样").answered
    assert recording_bot.ask("第二部分讲了什么").answered
    questions = [q for q, _, _ in store.review().unanswered]
    assert questions == ["今天天气怎么样"]


def test_review_orders_unanswered_by_frequency(store: FeedbackStore) -> None:
    for question, times in (("区长是谁", 1), ("预算多少", 3), ("电话多少", 2)):
        for _ in range(times):
            store.record_question(question, "", 0, False)
    assert [(q, n) for q, n, _ in store.review().unanswered] == [
        ("预算多少", 3), ("电话多少", 2), ("区长是谁", 1),
    ]


def test_review_lists_worst_rated_answers_first(store: FeedbackStore) -> None:
    ratings = (("s1", False), ("s1", False), ("s2", False), ("s2", True), ("s3", True))
    for passage_id, good in ratings:
        store.record_rating(passage_id, good)
    assert store.review().worst == [("s1", 2, 0), ("s2", 1, 1)]


def test_feedback_button_action_records_a_rating(
    recording_bot: FaqBot, store: FeedbackStore
) -> None:
    reply = recording_bot.ask("海峡论坛的服务保障")
    actions = [b.action for row in reply.buttons for b in row]
    assert f"fb:bad:{reply.passage_id}" in actions
    thanks = recording_bot.action(f"fb:bad:{reply.passage_id}")
    assert thanks.plain() == recording_bot.settings.text("feedback_thanks")
    assert store.review().worst == [(reply.passage_id, 1, 0)]


def test_console_good_and_bad_rate_the_last_answer(
    recording_bot: FaqBot, store: FeedbackStore
) -> None:
    out = io.StringIO()
    chat(recording_bot, io.StringIO("信息联络点有多少个\n:bad\n:bad\n"), out, interactive=False)
    passage_id = recording_bot.ask("信息联络点有多少个").passage_id
    assert store.review().worst == [(passage_id, 2, 0)]


def test_review_command_prints_both_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "review.sqlite3"
    monkeypatch.setenv("FAQBOT_FEEDBACK_DB", str(database))
    store = FeedbackStore(database)
    store.record_question("区长是谁", "", 0, False)
    store.record_rating("s2.m3", False)
    store.close()
    assert main(["review"]) == 0
    out = capsys.readouterr().out
    assert "区长是谁" in out and "s2.m3" in out
