"""The emulator speaks the Bot API as documented (so the end-to-end tests mean something)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientSession

from e2e.emulator import BotApiEmulator, parse_html

TOKEN = "777000:EmulatorSelfTestToken"


@pytest_asyncio.fixture
async def api() -> AsyncIterator[tuple[BotApiEmulator, ClientSession]]:
    tg = BotApiEmulator(TOKEN)
    await tg.start()
    try:
        async with ClientSession() as session:
            yield tg, session
    finally:
        await tg.stop()


async def call(api: tuple[BotApiEmulator, ClientSession], method: str, *, form: bool = False,
               token: str = TOKEN, **params: Any) -> tuple[int, dict[str, Any]]:
    """Call as python-telegram-bot does (form fields, objects JSON-encoded) or as JSON."""
    tg, session = api
    url = f"{tg.base_url}{token}/{method}" if token == TOKEN else (
        f"http://127.0.0.1:{tg.port}/bot{token}/{method}")
    if form:
        data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        request = session.post(url, data=data)
    else:
        request = session.post(url, json=params)
    async with request as response:
        return response.status, await response.json()


async def test_get_me_describes_the_bot(api: Any) -> None:
    status, body = await call(api, "getMe")
    assert status == 200 and body["ok"] is True
    me = body["result"]
    assert me["id"] == 777000 and me["is_bot"] is True
    assert {"first_name", "username", "can_join_groups", "supports_inline_queries"} <= set(me)


async def test_wrong_token_and_unknown_method(api: Any) -> None:
    assert (await call(api, "getMe", token="1:wrong"))[1] == {
        "ok": False, "error_code": 401, "description": "Unauthorized"}
    assert (await call(api, "noSuchMethod"))[1]["error_code"] == 404


async def test_get_updates_long_polls_until_timeout_or_an_update(api: Any) -> None:
    tg, _ = api
    started = time.monotonic()
    assert (await call(api, "getUpdates", timeout=1))[1]["result"] == []
    assert time.monotonic() - started >= 0.9
    user = tg.user()
    chat = tg.private_chat(user)
    waiting = asyncio.create_task(call(api, "getUpdates", form=True, timeout=20))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    tg.send(user, chat, "早")
    status, body = await asyncio.wait_for(waiting, 10)
    assert time.monotonic() - started < 5  # answered when the update came, not at timeout
    [update] = body["result"]
    assert update["message"]["text"] == "早" and isinstance(update["update_id"], int)


async def test_get_updates_offset_confirms_and_limit_caps(api: Any) -> None:
    tg, _ = api
    user = tg.user()
    chat = tg.private_chat(user)
    for text in "一二三":
        tg.send(user, chat, text)
    updates = (await call(api, "getUpdates", limit=2))[1]["result"]
    assert [u["message"]["text"] for u in updates] == ["一", "二"]
    again = (await call(api, "getUpdates"))[1]["result"]
    assert len(again) == 3  # nothing confirmed yet
    rest = (await call(api, "getUpdates", offset=updates[-1]["update_id"] + 1))[1]["result"]
    assert [u["message"]["text"] for u in rest] == ["三"]
    after = (await call(api, "getUpdates", offset=rest[-1]["update_id"] + 1))[1]["result"]
    assert after == []


async def test_get_updates_conflicts_with_a_webhook(api: Any) -> None:
    await call(api, "setWebhook", url="http://127.0.0.1:9/hook", secret_token="abc")
    status, body = await call(api, "getUpdates")
    assert status == 409 and body["description"].startswith("Conflict")
    await call(api, "deleteWebhook")
    assert (await call(api, "getUpdates"))[0] == 200


async def test_send_message_parses_html_and_dates_in_seconds(api: Any) -> None:
    tg, _ = api
    chat = tg.private_chat(tg.user())
    markup = {"inline_keyboard": [[{"text": "📑 目录", "callback_data": "toc"}]]}
    status, body = await call(api, "sendMessage", form=True, chat_id=chat["id"],
                              text="<b>📑 标题</b>\n正文 &amp; 更多", parse_mode="HTML",
                              reply_markup=markup)
    message = body["result"]
    assert status == 200
    assert message["text"] == "📑 标题\n正文 & 更多"
    assert message["entities"] == [{"type": "bold", "offset": 0, "length": 5}]  # UTF-16
    assert isinstance(message["date"], int) and abs(message["date"] - time.time()) < 5
    assert message["reply_markup"] == markup
    assert message["from"]["is_bot"] is True and message["chat"]["id"] == chat["id"]


@pytest.mark.parametrize(("text", "error"), [
    ("<b>open", "can't find end tag"),
    ("<b>x</i>", "unmatched end tag"),
    ("<script>x</script>", "unsupported start tag"),
    ("a < b", "unexpected character '<'"),
    ("a & b", "unsupported HTML entity"),
    ("字" * 4097, "message is too long"),
    ("<b> </b>", "message text is empty"),
])
async def test_send_message_rejects_what_telegram_rejects(api: Any, text: str,
                                                          error: str) -> None:
    tg, _ = api
    chat = tg.private_chat(tg.user())
    status, body = await call(api, "sendMessage", chat_id=chat["id"], text=text,
                              parse_mode="HTML")
    assert status == 400 and error in body["description"]


async def test_send_message_checks_chat_and_callback_data(api: Any) -> None:
    tg, _ = api
    assert "chat not found" in (await call(api, "sendMessage", chat_id=42, text="x"))[1][
        "description"]
    chat = tg.private_chat(tg.user())
    too_long = {"inline_keyboard": [[{"text": "x", "callback_data": "p:" + "长" * 21}]]}
    status, body = await call(api, "sendMessage", chat_id=chat["id"], text="x",
                              reply_markup=too_long)
    assert status == 400 and body["description"] == "Bad Request: BUTTON_DATA_INVALID"


async def test_edit_message_text_returns_the_message_and_refuses_no_change(api: Any) -> None:
    tg, _ = api
    chat = tg.private_chat(tg.user())
    sent = (await call(api, "sendMessage", chat_id=chat["id"], text="一"))[1]["result"]
    status, body = await call(api, "editMessageText", chat_id=chat["id"],
                              message_id=sent["message_id"], text="<i>二</i>", parse_mode="HTML")
    assert status == 200
    edited = body["result"]
    assert (edited["message_id"], edited["text"]) == (sent["message_id"], "二")
    assert isinstance(edited["edit_date"], int)
    status, body = await call(api, "editMessageText", chat_id=chat["id"],
                              message_id=sent["message_id"], text="<i>二</i>", parse_mode="HTML")
    assert status == 400 and "message is not modified" in body["description"]
    status, body = await call(api, "editMessageText", chat_id=chat["id"], message_id=999,
                              text="x")
    assert "message to edit not found" in body["description"]


async def test_callback_and_inline_queries_are_answered_once(api: Any) -> None:
    tg, _ = api
    user = tg.user()
    chat = tg.private_chat(user)
    markup = {"inline_keyboard": [[{"text": "目录", "callback_data": "toc"}]]}
    sent = (await call(api, "sendMessage", chat_id=chat["id"], text="x",
                       reply_markup=markup))[1]["result"]
    query = tg.press(user, tg.messages[(chat["id"], sent["message_id"])], "toc")
    assert (await call(api, "answerCallbackQuery", callback_query_id=query, text="好"))[0] == 200
    assert (await call(api, "answerCallbackQuery", callback_query_id=query))[0] == 400
    inline = tg.inline(user, "海峡")
    results = [{"type": "article", "id": "s1", "title": "t",
                "input_message_content": {"message_text": "<b>x</b>", "parse_mode": "HTML"}}]
    assert (await call(api, "answerInlineQuery", inline_query_id=inline,
                       results=results))[0] == 200
    assert tg.inline_queries[inline].answer["results"] == results


async def test_set_my_commands_validates_commands(api: Any) -> None:
    tg, _ = api
    good = [{"command": "start", "description": "开始使用"}]
    assert (await call(api, "setMyCommands", form=True, commands=good))[0] == 200
    assert tg.commands == good
    bad = [{"command": "Start!", "description": "x"}]
    assert (await call(api, "setMyCommands", commands=bad))[1]["description"].endswith(
        "BOT_COMMAND_INVALID")


def test_html_entities_are_measured_in_utf16() -> None:
    text, entities = parse_html("😀<b>加粗</b><a href=\"https://t.me\">链</a>")
    assert text == "😀加粗链"
    assert entities == [{"type": "bold", "offset": 2, "length": 2},
                        {"type": "text_link", "offset": 4, "length": 1, "url": "https://t.me"}]


async def test_flood_control_of_one_chat_answers_429_with_retry_after(api: Any) -> None:
    tg, _ = api
    group, other = tg.group(), tg.private_chat(tg.user())
    tg.limit_chat(group, messages=2, seconds=0.5, retry_after=3)
    statuses = [(await call(api, "sendMessage", chat_id=group["id"], text="x"))[0]
                for _ in range(3)]
    status, body = await call(api, "sendMessage", form=True, chat_id=group["id"], text="x")
    assert statuses == [200, 200, 429] and status == 429
    assert body == {"ok": False, "error_code": 429, "parameters": {"retry_after": 3},
                    "description": "Too Many Requests: retry after 3"}
    assert (await call(api, "sendMessage", chat_id=other["id"], text="x"))[0] == 200
    await asyncio.sleep(0.6)
    assert (await call(api, "sendMessage", chat_id=group["id"], text="x"))[0] == 200


async def test_an_outage_answers_every_request_502_until_it_is_over(api: Any) -> None:
    tg, _ = api
    chat = tg.private_chat(tg.user())
    tg.outage(0.3)
    for method, params in (("getMe", {}), ("getUpdates", {}),
                           ("sendMessage", {"chat_id": chat["id"], "text": "x"})):
        assert await call(api, method, **params) == (
            502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
    await asyncio.sleep(0.35)
    assert (await call(api, "getMe"))[0] == 200
    assert [c.error for c in tg.calls] == ["Bad Gateway"] * 3 + [""]


async def test_edit_message_reply_markup_changes_only_the_buttons(api: Any) -> None:
    tg, _ = api
    chat = tg.private_chat(tg.user())
    before = {"inline_keyboard": [[{"text": "👍", "callback_data": "fb:good:s1"}]]}
    after = {"inline_keyboard": [[{"text": "✅", "callback_data": "fb:good:s1"}]]}
    sent = (await call(api, "sendMessage", chat_id=chat["id"], text="答",
                       reply_markup=before))[1]["result"]
    status, body = await call(api, "editMessageReplyMarkup", form=True, chat_id=chat["id"],
                              message_id=sent["message_id"], reply_markup=after)
    assert status == 200 and body["result"]["reply_markup"] == after
    assert body["result"]["text"] == "答"
    status, body = await call(api, "editMessageReplyMarkup", chat_id=chat["id"],
                              message_id=sent["message_id"], reply_markup=after)
    assert status == 400 and "message is not modified" in body["description"]


async def test_descriptions_are_kept_within_telegram_limits(api: Any) -> None:
    tg, _ = api
    assert (await call(api, "setMyDescription", description="描述" * 256))[0] == 200
    assert (await call(api, "setMyShortDescription", short_description="短" * 120))[0] == 200
    assert (tg.description, tg.short_description) == ("描述" * 256, "短" * 120)
    assert (await call(api, "setMyDescription", description="长" * 513))[0] == 400
    assert (await call(api, "setMyShortDescription", short_description="长" * 121))[0] == 400


async def test_inline_answers_check_next_offset_and_the_button(api: Any) -> None:
    tg, _ = api
    user = tg.user()
    results = [{"type": "article", "id": "s1", "title": "t",
                "input_message_content": {"message_text": "x"}}]
    button = {"text": "打开机器人", "start_parameter": "inline"}
    page = tg.inline(user, "", offset="10")
    assert (await call(api, "answerInlineQuery", form=True, inline_query_id=page,
                       results=results, next_offset="20", button=button))[0] == 200
    assert tg.inline_queries[page].answer["button"] == button
    for bad in ({"next_offset": "9" * 65}, {"button": {"text": "x", "start_parameter": "s3.m1"}}):
        query = tg.inline(user, "x")
        status, _ = await call(api, "answerInlineQuery", inline_query_id=query, results=results,
                               **bad)
        assert status == 400


async def test_a_user_sends_stickers_photos_and_captions(api: Any) -> None:
    tg, _ = api
    user = tg.user()
    chat = tg.private_chat(user)
    photo = tg.send_media(user, chat, "photo", caption=f"@{tg.username} 问题")
    sticker = tg.send_media(user, chat, "sticker")
    status, body = await call(api, "getUpdates")
    messages = [u["message"] for u in body["result"]]
    assert [m["message_id"] for m in messages] == [photo["message_id"], sticker["message_id"]]
    assert messages[0]["caption_entities"] == [{"type": "mention", "offset": 0,
                                                "length": len(tg.username) + 1}]
    assert "text" not in messages[0] and messages[1]["sticker"]["type"] == "regular"
