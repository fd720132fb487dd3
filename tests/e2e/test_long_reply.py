"""A reply over Telegram's 4096-character limit arrives split in two valid messages.

The bot serves a test-only copy of the report in which one measure is about 6000
characters long: real content, real replies, no test hooks in the bot.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import yaml

from e2e.conftest import CONTENT, Running, buttons_of, reply_buttons, running_bot, text_of
from e2e.emulator import MAX_TEXT, utf16_len

pytestmark = pytest.mark.asyncio(loop_scope="module")

LONG_ID = "s3.m4"
TARGET = 6000


def long_content(directory: Path) -> Path:
    """The report with measure s3.m4 lengthened to ~6000 characters (the raw copy too)."""
    [source] = sorted(CONTENT.glob("*.yaml"))
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    measure = next(m for s in data["sections"] for m in s.get("measures", [])
                   if m["id"] == LONG_ID)
    original = measure["text"]
    filler = "".join(m["text"] for s in data["sections"] for m in s.get("measures", []))
    text = original
    while len(text) < TARGET:
        text += filler
    measure["text"] = text[:TARGET].rstrip("，,、") + "。"
    target = directory / "content"
    target.mkdir(parents=True)
    raw = CONTENT / data["report"]["source"]
    if raw.is_file():
        (target / raw.relative_to(CONTENT)).parent.mkdir(parents=True, exist_ok=True)
        copied = target / raw.relative_to(CONTENT)
        shutil.copyfile(raw, copied)
        raw_text = copied.read_text(encoding="utf-8")
        copied.write_text(raw_text.replace(original, measure["text"], 1)
                          if original in raw_text else raw_text + "\n" + measure["text"] + "\n",
                          encoding="utf-8")
    (target / source.name).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                                      encoding="utf-8")
    return target


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def long_bot(tmp_path_factory: pytest.TempPathFactory,
                   cache_dir: Path) -> AsyncIterator[Running]:
    directory = tmp_path_factory.mktemp("long")
    async with running_bot(directory, cache_dir, content=long_content(directory)) as running:
        yield running


def _squash(text: str) -> str:
    return re.sub(r"\s", "", text)


async def test_a_6000_character_reply_arrives_in_two_messages(long_bot: Running) -> None:
    tg, core = long_bot.tg, long_bot.core
    expected = core.show(LONG_ID)
    assert 5500 < len(text_of(expected)) < 8000
    user = tg.user()
    chat = tg.private_chat(user)
    sent = tg.send(user, chat, "/start s3_m4")
    first, second = await tg.wait_for(lambda: len(tg.after(sent)) >= 2 and tg.after(sent))
    assert all(utf16_len(m["text"]) <= MAX_TEXT for m in (first, second))
    assert _squash(first["text"] + second["text"]) == _squash(text_of(expected))
    assert first["text"].endswith(("。", "，", ",", "、", "；"))  # not in the middle of a phrase
    assert "reply_markup" not in first
    assert buttons_of(second) == reply_buttons(expected)
    assert first["entities"][0]["type"] == "bold"  # the heading stays bold
    assert second["entities"][-1]["type"] == "italic"  # the source line stays italic


async def test_a_button_that_opens_the_long_reply_edits_then_adds_the_rest(
    long_bot: Running,
) -> None:
    tg, core = long_bot.tg, long_bot.core
    user = tg.user()
    chat = tg.private_chat(user)
    sent = tg.send(user, chat, "/section 3")
    [message] = await tg.wait_for(lambda: tg.after(sent))
    query = tg.press(user, message, f"p:{LONG_ID}")
    await tg.answer_of(query)
    [_, rest] = await tg.wait_for(lambda: len(tg.after(sent)) >= 2 and tg.after(sent))
    expected = core.action(f"p:{LONG_ID}")
    assert message.get("edit_date") and "reply_markup" not in message
    assert _squash(message["text"] + rest["text"]) == _squash(text_of(expected))
    assert buttons_of(rest) == reply_buttons(expected)
