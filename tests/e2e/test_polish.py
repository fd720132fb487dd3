"""End to end over HTTP: the Telegram polish of issue 10 (browsing keeps the answer, votes
show and count once, media, stale buttons, inline paging, groups, the bot's description,
named arrows, deep links to a lost measure)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.store import SqliteStore
from e2e.conftest import Running, assert_shows, buttons_of, text_of
from e2e.emulator import BotApiEmulator

pytestmark = pytest.mark.asyncio(loop_scope="module")

QUESTION = "海峡论坛是谁保障的"  # answered by s2.m1, with related passages and ◀ ▶
STALE = "按钮已失效，请重新提问"


def labels(message: dict[str, Any]) -> list[list[str]]:
    return [[b["text"] for b in row] for row in message["reply_markup"]["inline_keyboard"]]


async def ask(tg: BotApiEmulator, user: dict[str, Any], chat: dict[str, Any],
              question: str = QUESTION) -> dict[str, Any]:
    sent = tg.send(user, chat, question)
    [answer] = await tg.wait_for(lambda: tg.replies_to(sent), what=f"an answer to {question}")
    return answer


async def test_the_bot_describes_itself_at_start(bot: Running) -> None:
    description, short = bot.core.profile(bot.tg.username)
    await bot.tg.wait_for(lambda: bot.tg.short_description, what="setMyShortDescription")
    assert (bot.tg.description, bot.tg.short_description) == (description, short)
    assert bot.core.report.name in description


async def test_browsing_from_an_answer_sends_new_messages_and_leaves_the_answer(
    bot: Running,
) -> None:
    tg, core = bot.tg, bot.core
    user = tg.user()
    chat = tg.private_chat(user)
    answer = await ask(tg, user, chat)
    before = answer["text"], answer["reply_markup"]
    related, arrows = buttons_of(answer)[0][0], buttons_of(answer)[1]
    for data in (related, arrows[-1]):  # a related passage, then ▶
        count = len(tg.after(answer))
        assert (await tg.answer_of(tg.press(user, answer, data))).get("text") is None
        new = await tg.wait_for(lambda count=count: tg.after(answer)[count:],
                                what=f"a new message for {data}")
        expected = core.action(data)
        assert expected is not None
        assert_shows(new[-1], expected)
    assert (answer["text"], answer["reply_markup"]) == before and "edit_date" not in answer

    browsing = tg.after(answer)[-1]  # a passage without 👍/👎: its ◀ ▶ step in place
    step = buttons_of(browsing)[-1][-1]
    await tg.answer_of(tg.press(user, browsing, step))
    await tg.wait_for(lambda: browsing.get("edit_date"), what="the browsing message edited")
    assert_shows(browsing, core.action(step))
    assert len(tg.after(answer)) == 2


async def test_a_vote_shows_on_the_buttons_and_counts_once_per_user(bot: Running) -> None:
    tg, core = bot.tg, bot.core
    question = "督查问效是怎么做的"
    reply = core.handle(question)
    passage = reply.passage_id
    assert passage and [b.action for b in reply.buttons[-1]] == [f"fb:good:{passage}",
                                                                 f"fb:bad:{passage}"]
    alice, bob = tg.user("甲"), tg.user("乙")
    answer = await ask(tg, alice, tg.private_chat(alice), question)
    assert labels(answer)[-1][:2] == ["👍 有用", "👎 没用"]
    for data, shown in [(f"fb:good:{passage}", "✅ 有用"), (f"fb:good:{passage}", "✅ 有用"),
                        (f"fb:bad:{passage}", "✅ 没用")]:
        toast = await tg.answer_of(tg.press(alice, answer, data))
        assert toast["text"] == core.settings.text("feedback_thanks")
        await tg.wait_for(lambda shown=shown: shown in labels(answer)[-1],
                          what=f"the vote {shown} shown")
    assert not [c for c in tg.calls_of("editMessageText")
                if c.params.get("chat_id") == answer["chat"]["id"]]
    other = await ask(tg, bob, tg.private_chat(bob), question)
    await tg.answer_of(tg.press(bob, other, f"fb:good:{passage}"))
    store = SqliteStore(core.settings.feedback_db)
    await tg.wait_for(lambda: (passage, 1, 1) in store.review().worst,
                      what="one 👎 (Alice's last) and one 👍 (Bob's) recorded")


@pytest.mark.parametrize("data", ["", "nonsense", "fb:other:s2.m1", "p:gone", "fb:good:gone",
                                  "sec:s9"])
async def test_stale_or_forged_buttons_get_a_toast_and_change_nothing(bot: Running,
                                                                      data: str) -> None:
    tg = bot.tg
    user = tg.user()
    chat = tg.private_chat(user)
    answer = await ask(tg, user, chat)
    before = dict(answer)
    toast = await tg.answer_of(tg.press(user, answer, data, forged=True))
    assert toast["text"] == STALE
    later = tg.send(user, chat, "/help")  # handled after the press: nothing came in between
    await tg.wait_for(lambda: tg.after(later))
    assert answer == before  # not edited
    assert [m["message_id"] for m in tg.after(answer)] == [tg.after(later)[0]["message_id"]]
    assert " ERROR " not in bot.process.stderr and "Traceback" not in bot.process.stderr


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice", "document", "location"])
async def test_non_text_messages_get_a_one_line_hint(bot: Running, kind: str) -> None:
    tg = bot.tg
    user = tg.user()
    sent = tg.send_media(user, tg.private_chat(user), kind)
    [hint] = await tg.wait_for(lambda: tg.after(sent), what=f"a hint for a {kind}")
    assert_shows(hint, bot.core.non_text())
    assert len(hint["text"].splitlines()) == 1


@pytest.mark.parametrize("kind", ["photo", "document"])
async def test_a_caption_is_answered_as_a_question(bot: Running, kind: str) -> None:
    tg = bot.tg
    user = tg.user()
    sent = tg.send_media(user, tg.private_chat(user), kind, caption=QUESTION)
    [answer] = await tg.wait_for(lambda: tg.replies_to(sent), what="the caption's answer")
    assert_shows(answer, bot.core.handle(QUESTION))


async def test_groups_read_a_captioned_photo_only_when_it_mentions_the_bot(bot: Running) -> None:
    tg = bot.tg
    user = tg.user()
    group = tg.group()
    ignored = tg.send_media(user, group, "photo", caption=QUESTION)
    sticker = tg.send_media(user, group, "sticker")
    asked = tg.send_media(user, group, "photo", caption=f"@{tg.username} {QUESTION}")
    [answer] = await tg.wait_for(lambda: tg.replies_to(asked), what="the group answer")
    assert_shows(answer, bot.core.handle(QUESTION))
    assert tg.replies_to(ignored) == [] and tg.replies_to(sticker) == []
    assert "switch_inline_query" not in str(answer["reply_markup"])  # no share in groups


async def test_start_in_a_group_explains_how_to_ask_there(bot: Running) -> None:
    tg = bot.tg
    group = tg.group()
    sent = tg.send(tg.user(), group, f"/start@{tg.username}")
    [reply] = await tg.wait_for(lambda: tg.after(sent))
    assert_shows(reply, bot.core.group_start(tg.username))
    assert f"@{tg.username}" in reply["text"] and "直接用中文提问" not in reply["text"]


@pytest.mark.parametrize(("query", "expected"), [("海", "s2.m1"), ("口号", "sl1"),
                                                 ("督查", "s2.m3")])
async def test_inline_mode_answers_partial_input(bot: Running, query: str,
                                                 expected: str) -> None:
    tg = bot.tg
    answer = await tg.answer_of(tg.inline(tg.user(), query))
    assert expected in [r["id"] for r in answer["results"]]


async def test_inline_mode_pages_every_passage_and_offers_to_open_the_bot(bot: Running) -> None:
    tg, core = bot.tg, bot.core
    user = tg.user()
    ids: list[str] = []
    offset = ""
    for _ in range(len(core.report.passages)):  # a bound: one page at least each time
        answer = await tg.answer_of(tg.inline(user, "", offset))
        assert answer["button"] == {"text": core.settings.text("inline_open"),
                                    "start_parameter": "inline"}
        ids += [r["id"] for r in answer["results"]]
        offset = answer.get("next_offset") or ""
        if not offset:
            break
    assert ids == [p.id for p in core.report.passages]

    chat = tg.private_chat(user)  # the button opens the bot with /start inline: the welcome
    sent = tg.send(user, chat, "/start inline")
    [welcome] = await tg.wait_for(lambda: tg.after(sent))
    assert_shows(welcome, core.start())


async def test_a_private_answer_offers_a_share_button_that_finds_it_again(bot: Running) -> None:
    tg, core = bot.tg, bot.core
    user = tg.user()
    answer = await ask(tg, user, tg.private_chat(user))
    [share] = [b for row in answer["reply_markup"]["inline_keyboard"] for b in row
               if "switch_inline_query" in b]
    assert share["text"] == core.settings.text("share")
    found = await tg.answer_of(tg.inline(user, share["switch_inline_query"]))
    assert found["results"][0]["id"] == core.handle(QUESTION).passage_id


async def test_arrows_name_their_target_and_long_related_buttons_have_a_row_each(
    bot: Running,
) -> None:
    tg, core = bot.tg, bot.core
    user = tg.user()
    answer = await ask(tg, user, tg.private_chat(user))
    rows = labels(answer)
    arrows = next(row for row in rows if "↩ 目录" in row)
    order = [p.id for p in core.reading_order]
    here = order.index(core.handle(QUESTION).passage_id)
    before, after = core.reading_order[here - 1], core.reading_order[here + 1]
    assert arrows[0].startswith("◀ ") and before.title.startswith(arrows[0][2:].rstrip("…"))
    assert arrows[-1].endswith(" ▶") and after.title.startswith(arrows[-1][:-2].rstrip("…"))
    related = rows[: rows.index(arrows)]
    assert related and all(len(row) == 1 for row in related)


@pytest.mark.parametrize("payload", ["s3_m1", "s3.m1", "s3-m1"])
async def test_a_deep_link_to_a_lost_measure_explains_the_loss(bot: Running,
                                                               payload: str) -> None:
    tg, core = bot.tg, bot.core
    user = tg.user()
    sent = tg.send(user, tg.private_chat(user), f"/start {payload}")
    [reply] = await tg.wait_for(lambda: tg.after(sent))
    lost = core.show("s3.m1")
    assert_shows(reply, lost)
    assert "原文此处缺失" in reply["text"] and text_of(lost) != text_of(core.start())


async def test_nothing_above_info_was_logged(bot: Running) -> None:
    assert " ERROR " not in bot.process.stderr and " WARNING " not in bot.process.stderr
