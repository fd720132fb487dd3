"""Replies in the user's script: a traditional question gets a traditional reply (Taiwan or
Hong Kong forms, by the characters used); /lang and the config's reply_script fix it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.replies import Block, Button, FaqBot, Reply, in_script
from bot.script import Script, convert, detect

ROOT = Path(__file__).resolve().parents[1]
CHAT = "chat:1"


@pytest.fixture
def bot(faq_bot: FaqBot) -> FaqBot:
    return FaqBot(faq_bot.settings, faq_bot.index)  # a /lang of its own


def words(reply: Reply) -> list[str]:
    return [reply.plain(), *(b.label for row in reply.buttons for b in row)]


def actions(reply: Reply) -> list[str]:
    return [b.action for row in reply.buttons for b in row]


@pytest.mark.parametrize(("text", "script"), [
    ("督查這塊怎麼搞的", Script.TAIWAN), ("這是哪一部分的", Script.TAIWAN),
    ("裏面説了甚麼", Script.HONG_KONG), ("督查这块怎么搞的", Script.SIMPLIFIED),
    ("你好", None), ("hello 123", None),
])
def test_the_script_of_a_message(text: str, script: Script | None) -> None:
    assert detect(text) == script


def test_a_traditional_question_gets_a_traditional_reply(bot: FaqBot) -> None:
    simplified = bot.ask("督查这块怎么搞的")
    traditional = bot.ask("督查這塊怎麼搞的")
    assert traditional.passage_id == simplified.passage_id == "s2.m3"
    assert traditional.plain() == convert(simplified.plain(), Script.TAIWAN)
    assert "辦" in traditional.plain() and "办" not in traditional.plain()
    labels = [b.label for row in traditional.buttons for b in row]
    assert labels == [convert(b.label, Script.TAIWAN) for row in simplified.buttons for b in row]
    assert actions(traditional) == actions(simplified)  # the button data is never converted


def test_hong_kong_forms_get_a_hong_kong_reply(bot: FaqBot) -> None:
    reply = bot.ask("督查裏面説了甚麼")
    simplified = bot.ask("督查里面说了什么")
    assert reply.plain() == convert(simplified.plain(), Script.HONG_KONG)


def test_a_marked_sentence_stays_marked_after_conversion() -> None:
    reply = Reply((Block("text", "U盘里的信息", (0, 2)),), ((Button("信息", "p:s1"),),))
    converted = in_script(reply, Script.TAIWAN)
    block = converted.blocks[0]
    before, marked, after = block.pieces()
    assert marked == convert("U盘", Script.TAIWAN) and after == convert("里的信息", Script.TAIWAN)
    assert converted.buttons[0][0] == Button(convert("信息", Script.TAIWAN), "p:s1")


def test_small_talk_and_commands_follow_the_script(bot: FaqBot) -> None:
    thanks = bot.ask("謝謝", CHAT)
    assert thanks.plain() == in_script(bot.small_talk(thanks.small_talk), Script.TAIWAN).plain()
    assert thanks.plain() != bot.ask("谢谢", "another chat").plain()
    assert bot.handle("/slogan 忠誠", CHAT).plain() == in_script(
        bot.handle("/slogan 忠诚", "another chat"), Script.TAIWAN).plain()


def test_lang_fixes_the_script_per_chat(bot: FaqBot) -> None:
    assert "繁体" in bot.handle("/lang 繁", CHAT).plain() or "繁體" in bot.handle(
        "/lang 繁", CHAT).plain()
    reply = bot.handle("督查这块怎么搞的", CHAT)
    assert "辦" in reply.plain() and "办" not in reply.plain()
    assert "办" in bot.handle("督查这块怎么搞的", "another chat").plain()  # other chats: auto
    bot.handle("/lang 简", CHAT)
    assert "办" in bot.handle("督查這塊怎麼搞的", CHAT).plain()
    bot.handle("/lang auto", CHAT)
    assert "辦" in bot.handle("督查這塊怎麼搞的", CHAT).plain()


def test_lang_without_a_known_argument_says_how(bot: FaqBot) -> None:
    reply = bot.handle("/lang klingon", CHAT)
    assert reply.plain() == bot.settings.text("lang_usage")
    assert not reply.answered


def test_a_button_press_after_a_traditional_question_stays_traditional(bot: FaqBot) -> None:
    bot.handle("督查這塊怎麼搞的", CHAT)
    pressed = bot.action("p:s2.m4", CHAT)
    assert pressed is not None and "會務" in pressed.plain()
    assert "会务" in bot.action("p:s2.m4", "another chat").plain()  # type: ignore[union-attr]


def test_the_config_can_fix_traditional_replies(faq_bot: FaqBot) -> None:
    settings = dataclasses.replace(faq_bot.settings, reply_script="traditional")
    bot = FaqBot(settings, faq_bot.index)
    reply = bot.handle("督查这块怎么搞的", CHAT)
    assert reply.passage_id == "s2.m3" and "辦" in reply.plain() and "办" not in reply.plain()


def test_reply_script_is_read_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    for value in ("auto", "simplified", "traditional"):
        config.write_text(f"reply_script: {value}\n", encoding="utf-8")
        assert load_settings(config, environ={}).reply_script == value
    config.write_text("reply_script: klingon\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="'reply_script' must be one of"):
        load_settings(config, environ={})


def test_a_traditional_reply_keeps_the_reports_words() -> None:
    """Only characters change: 信息 stays 信息 (資訊 would be Taiwan's word, not the report's)."""
    assert convert("创建信息平台", Script.TAIWAN) == "創建信息平臺"


def test_a_simplified_chat_never_needs_to_tell_neutral_text_apart() -> None:
    # 你好 tells nothing; where nothing traditional came before, it is simply simplified
    assert detect("你好") is None
    assert detect("你好", neutral_matters=False) == Script.SIMPLIFIED
    assert detect("這是哪一部分的", neutral_matters=False) == Script.TAIWAN
