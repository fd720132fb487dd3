"""Follow-ups: short messages read against the conversation's last answer, kept per chat
key for context_minutes, in memory or in the store (shared by processes); a full question
always wins."""

from __future__ import annotations

import dataclasses
import io
import sqlite3
from pathlib import Path

import pytest

from bot.cli import chat
from bot.config import ConfigError, load_settings
from bot.followups import Asked, FollowUp, recognise
from bot.replies import FaqBot
from bot.store import ContextMemory, SqliteStore

ROOT = Path(__file__).resolve().parents[1]
CHAT = "chat:1"


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bot(faq_bot: FaqBot, clock: Clock) -> FaqBot:
    """The real content, with contexts of its own (in memory, on the test's clock)."""
    fresh = FaqBot(faq_bot.settings, faq_bot.index)
    fresh.contexts = ContextMemory(clock=clock)
    return fresh


@pytest.mark.parametrize(("text", "expected"), [
    ("详细说说", FollowUp(Asked.MORE)), ("展开讲讲", FollowUp(Asked.MORE)),
    ("具体点", FollowUp(Asked.MORE)), ("再详细一点说说", FollowUp(Asked.MORE)),
    ("下一点呢", FollowUp(Asked.NEXT)), ("下一条", FollowUp(Asked.NEXT)),
    ("然后呢？", FollowUp(Asked.NEXT)), ("上一条", FollowUp(Asked.PREVIOUS)),
    ("上一点呢", FollowUp(Asked.PREVIOUS)), ("这是哪一部分的", FollowUp(Asked.SECTION)),
    ("属于哪部分", FollowUp(Asked.SECTION)), ("出处在哪", FollowUp(Asked.SOURCE)),
    ("原文哪里", FollowUp(Asked.SOURCE)), ("出自哪里？", FollowUp(Asked.SOURCE)),
    ("那第三点呢", FollowUp(Asked.MEASURE, 3)), ("第2点", FollowUp(Asked.MEASURE, 2)),
    ("那第二部分呢", FollowUp(Asked.OTHER_SECTION, 2)),
    ("第三部分呢", FollowUp(Asked.OTHER_SECTION, 3)),
])
def test_follow_ups_are_recognised(text: str, expected: FollowUp) -> None:
    assert recognise(text) == expected


@pytest.mark.parametrize("text", [
    "第二部分讲了哪些督查形式", "下一步政府办要做什么", "出处是什么文件里规定的督查制度",
    "督查有哪几种形式", "详细介绍一下以文辅政的做法", "",
])
def test_questions_are_not_follow_ups(text: str) -> None:
    assert recognise(text) is None


def test_more_detail_shows_the_whole_passage_answered(bot: FaqBot) -> None:
    first = bot.handle("督查这块怎么搞的", CHAT)
    assert first.passage_id == "s2.m3"
    more = bot.handle("详细说说", CHAT)
    assert more.passage_id == "s2.m3" and more == bot.show("s2.m3")


def test_next_and_previous_step_through_the_report(bot: FaqBot) -> None:
    bot.handle("督查这块怎么搞的", CHAT)
    assert bot.handle("下一点呢", CHAT).passage_id == "s2.m4"
    assert bot.handle("上一条", CHAT).passage_id == "s2.m3"  # from the new context
    assert bot.handle("上一条", CHAT).passage_id == "s2.m2"


def test_the_section_and_the_source_of_the_passage(bot: FaqBot) -> None:
    bot.handle("督查这块怎么搞的", CHAT)
    section = bot.handle("这是哪一部分的", CHAT)
    assert section == bot.section(bot.report.sections[1])
    source = bot.handle("出处在哪", CHAT)
    assert source.passage_id == "s2"  # the section is the context now
    bot.handle("督查这块怎么搞的", CHAT)
    source = bot.handle("原文哪里", CHAT)
    assert source.passage_id == "s2.m3"
    path = bot.index.passage("s2.m3").path
    assert f"《{bot.report.name}》：{path}" in source.plain()
    assert "p:s2.m3" in [b.action for row in source.buttons for b in row]


def test_another_measure_of_the_same_section_by_number(bot: FaqBot) -> None:
    bot.handle("督查这块怎么搞的", CHAT)
    assert bot.handle("那第一点呢", CHAT).passage_id == "s2.m1"
    assert bot.handle("第二点呢", CHAT).passage_id == "s2.m2"


def test_a_lost_measure_asked_by_number_says_so_and_keeps_the_context(bot: FaqBot) -> None:
    section = next(s for s in bot.report.sections if s.missing_measures)
    kept = section.measures[0]
    bot.action(f"p:{kept.id}", CHAT)
    lost = section.missing_measures[0]
    reply = bot.handle(f"那第{lost}点呢", CHAT)
    assert bot.lost_measure_id(reply.passage_id)
    assert bot.handle("详细说说", CHAT).passage_id == kept.id


def test_a_measure_the_section_does_not_have_is_an_honest_no(bot: FaqBot) -> None:
    bot.handle("督查这块怎么搞的", CHAT)
    reply = bot.handle("那第九点呢", CHAT)
    assert not reply.answered and "没有第九点" in reply.plain()


def test_another_section_by_number(bot: FaqBot) -> None:
    bot.handle("督查这块怎么搞的", CHAT)
    assert bot.handle("那第一部分呢", CHAT).passage_id == "s1"
    reply = bot.handle("第九部分呢", CHAT)
    assert not reply.answered and "没有第九部分" in reply.plain()


def test_a_full_question_wins_over_the_context(bot: FaqBot) -> None:
    bot.handle("督查这块怎么搞的", CHAT)
    assert bot.handle("会务方面有啥经验", CHAT).passage_id == "s2.m4"
    assert bot.handle("第一部分讲了什么", CHAT).passage_id == "s1"


def test_without_context_a_follow_up_says_to_ask_first(bot: FaqBot) -> None:
    reply = bot.handle("下一点呢", CHAT)
    assert not reply.answered and reply.plain() == bot.settings.text("follow_up_no_context")
    assert any(b.action.startswith("p:") for row in reply.buttons for b in row)
    bot.handle("督查这块怎么搞的", "another chat")  # another conversation's context
    assert bot.handle("下一点呢", "a third chat") == reply
    # a section named by number needs no context: the matcher answers it
    assert bot.handle("第二部分呢", "a fourth chat").passage_id == "s2"


def test_a_decline_leaves_the_context_as_it_was(bot: FaqBot) -> None:
    bot.handle("督查这块怎么搞的", CHAT)
    assert not bot.handle("思明区去年GDP多少", CHAT).answered
    assert bot.handle("下一点呢", CHAT).passage_id == "s2.m4"


def test_a_button_press_sets_the_context(bot: FaqBot) -> None:
    bot.action("p:s1.m2", CHAT)
    assert bot.handle("下一点呢", CHAT).passage_id == "s1.m3"


def test_the_context_expires_after_context_minutes(bot: FaqBot, clock: Clock) -> None:
    bot.handle("督查这块怎么搞的", CHAT)
    clock.now += bot.settings.context_minutes * 60 - 1
    assert bot.handle("下一点呢", CHAT).passage_id == "s2.m4"
    clock.now += bot.settings.context_minutes * 60 + 1
    assert not bot.handle("下一点呢", CHAT).answered


def test_context_minutes_is_read_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("context_minutes: 3\n", encoding="utf-8")
    assert load_settings(config, environ={}).context_minutes == 3
    assert load_settings(ROOT / "config.yaml", environ={}).context_minutes == 10
    for wrong in ("0", "2000", "ten", "true"):
        config.write_text(f"context_minutes: {wrong}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="'context_minutes' must be a whole number"):
            load_settings(config, environ={})


def test_follow_ups_in_traditional_script(bot: FaqBot) -> None:
    bot.handle("督查這塊怎麼搞的", CHAT)
    assert bot.handle("下一點呢", CHAT).passage_id == "s2.m4"


# --- the store: contexts shared by every process on one file --------------------------


def test_the_store_shares_contexts_between_processes(tmp_path: Path) -> None:
    path = tmp_path / "use.sqlite3"
    one, other = SqliteStore(path), SqliteStore(path)
    try:
        one.remember_context(CHAT, "s2.m3")
        assert other.recall_context(CHAT, 600) == "s2.m3"
        assert other.recall_context("chat:2", 600) is None
        other.remember_context(CHAT, "s2.m4")  # a later answer replaces the earlier
        assert one.recall_context(CHAT, 600) == "s2.m4"
        assert one.recall_context(CHAT, -1) is None  # older than allowed
    finally:
        one.close()
        other.close()
    with sqlite3.connect(path) as connection:
        chats = [row[0] for row in connection.execute("SELECT chat FROM contexts")]
    assert chats and CHAT not in chats  # kept as a keyed hash: the file names no accounts


def test_a_bot_with_a_store_keeps_its_contexts_there(faq_bot: FaqBot, tmp_path: Path) -> None:
    path = tmp_path / "use.sqlite3"
    first, second = SqliteStore(path), SqliteStore(path)
    try:
        FaqBot(faq_bot.settings, faq_bot.index, first).handle("督查这块怎么搞的", CHAT)
        replica = FaqBot(faq_bot.settings, faq_bot.index, second)
        assert replica.handle("下一点呢", CHAT).passage_id == "s2.m4"
    finally:
        first.close()
        second.close()


def test_with_nothing_recorded_contexts_stay_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "use.sqlite3"
    store = SqliteStore(path, retention_days=0)
    store.remember_context(CHAT, "s2.m3")
    assert store.recall_context(CHAT, 600) == "s2.m3"
    store.close()
    assert not path.exists()


def test_an_unusable_file_keeps_contexts_in_memory_without_raising(tmp_path: Path) -> None:
    path = tmp_path / "a-directory"
    path.mkdir()
    store = SqliteStore(path)
    store.remember_context(CHAT, "s2.m3")
    assert store.recall_context(CHAT, 600) == "s2.m3"
    store.close()


def test_memory_contexts_are_bounded(clock: Clock) -> None:
    memory = ContextMemory(max_chats=2, clock=clock)
    for key in ("a", "b", "c"):
        memory.remember_context(key, "s1")
    assert [memory.recall_context(c, 60) for c in ("a", "b", "c")] == [None, "s1", "s1"]


def test_the_settings_default_applies_to_a_bot_built_without_config(faq_bot: FaqBot) -> None:
    settings = dataclasses.replace(faq_bot.settings, context_minutes=1)
    bot = FaqBot(settings, faq_bot.index)
    clock = Clock()
    bot.contexts = ContextMemory(clock=clock)
    bot.handle("督查这块怎么搞的", CHAT)
    clock.now += 61
    assert not bot.handle("下一点呢", CHAT).answered


def test_the_console_chat_is_one_conversation(faq_bot: FaqBot) -> None:
    out = io.StringIO()
    bot = FaqBot(faq_bot.settings, faq_bot.index)
    chat(bot, io.StringIO("督查这块怎么搞的\n下一点呢\n这是哪一部分的\n"), out, interactive=False)
    answers = out.getvalue().split("\n\n")
    assert answers[1].strip() == bot.show("s2.m4").plain()
    assert answers[2].strip() == bot.section(bot.report.sections[1]).plain()
