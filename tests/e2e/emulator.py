"""A small Telegram Bot API server emulator for end-to-end tests (loopback only).

The bot side speaks the Bot API as documented at https://core.telegram.org/bots/api:
``POST /bot<token>/<method>`` with JSON, form or query parameters, answered with
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ..., "description": ...}``.
Implemented: getMe, deleteWebhook, setWebhook, getWebhookInfo, getUpdates (long polling,
offset and allowed_updates semantics), sendMessage, editMessageText, editMessageReplyMarkup,
answerCallbackQuery (toasts), answerInlineQuery (next_offset, the results button),
setMyCommands, getMyCommands, setMyDescription, setMyShortDescription, sendChatAction.
Telegram HTML is parsed into text + entities (UTF-16 offsets) and checked as Telegram does
(unknown or unbalanced tags, bare ``<``/``&``, 4096 characters, 64-byte callback data).

The user side (``user``, ``send``, ``send_media``, ``press``, ``inline``...) plays
Telegram's users: it injects updates (text, captions, stickers, photos, voice notes...),
delivered by getUpdates or, once a webhook is set, POSTed to it with the secret token
header. Everything the bot does is recorded for assertions.

``balance(urls)`` plays a load balancer in front of several replicas: the webhook URL is
then the public address only, and updates go to ``urls`` in turn (round-robin), a refused
or failed delivery on to the next one (nginx's ``proxy_next_upstream``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
MAX_DESCRIPTION = 512  # setMyDescription
MAX_SHORT_DESCRIPTION = 120  # setMyShortDescription
MAX_INLINE_OFFSET = 64  # answerInlineQuery's next_offset, in bytes
_START_PARAMETER = re.compile(r"[A-Za-z0-9_-]{1,64}")  # deep links and the inline button
# What a user's non-text message carries, as Telegram sends it (file ids are made up).
_MEDIA: dict[str, Any] = {
    "sticker": {"file_id": "sticker-1", "file_unique_id": "u-sticker-1", "width": 512,
                "height": 512, "is_animated": False, "is_video": False, "type": "regular",
                "emoji": "👍"},
    "photo": [{"file_id": "photo-1", "file_unique_id": "u-photo-1", "width": 90, "height": 90}],
    "voice": {"file_id": "voice-1", "file_unique_id": "u-voice-1", "duration": 3,
              "mime_type": "audio/ogg"},
    "document": {"file_id": "doc-1", "file_unique_id": "u-doc-1", "file_name": "报告.pdf",
                 "mime_type": "application/pdf"},
    "location": {"longitude": 118.08, "latitude": 24.45},
}
DELIVERY_ATTEMPTS = 8  # webhook retries: 0.1 s, 0.2 s, ... ~25 s in all

_JSON_FIELDS = {
    "reply_markup", "results", "commands", "allowed_updates", "reply_parameters", "entities",
    "link_preview_options", "scope", "button",
}
_INT_FIELDS = {
    "message_id", "offset", "limit", "cache_time", "max_connections",
    "message_thread_id", "reply_to_message_id",
}
_BOOL_FIELDS = {
    "drop_pending_updates", "show_alert", "is_personal", "disable_notification",
    "protect_content", "allow_sending_without_reply", "disable_web_page_preview",
}
_UPDATE_TYPES = ("message", "edited_message", "callback_query", "inline_query")
_BUTTON_KINDS = {
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
}


class ApiError(Exception):
    """A Bot API error response."""

    def __init__(self, code: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code,
                                "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


# --- Telegram HTML ----------------------------------------------------------------------

_ENTITY_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler", "a": "text_link", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[^<>]*)?)\s*>")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_CHAR_REF = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram HTML -> (text, entities), or ApiError as Telegram reports a bad message."""
    text: list[str] = []
    length = 0  # UTF-16 units so far
    stack: list[tuple[str, int, str]] = []  # (tag, offset, attributes)
    entities: list[dict[str, Any]] = []
    position = 0
    while position < len(source):
        char = source[position]
        offset = len(source[:position].encode())
        if char == "<":
            tag = _TAG.match(source, position)
            if tag is None:
                raise bad_request(f"can't parse entities: unexpected character '<' at byte "
                                  f"offset {offset}")
            closing, name, attributes = tag.group(1), tag.group(2).lower(), tag.group(3)
            if name not in _ENTITY_TYPES or (name == "span" and "tg-spoiler" not in attributes):
                raise bad_request(f"can't parse entities: unsupported start tag \"{name}\" at "
                                  f"byte offset {offset}")
            if closing:
                if not stack or stack[-1][0] != name:
                    expected = f"</{stack[-1][0]}>" if stack else "nothing"
                    raise bad_request(f"can't parse entities: unmatched end tag at byte offset "
                                      f"{offset}, expected \"{expected}\", found \"</{name}>\"")
                opened, start, opened_attributes = stack.pop()
                if length > start:
                    entity: dict[str, Any] = {"type": _ENTITY_TYPES[opened], "offset": start,
                                              "length": length - start}
                    href = re.search(r'href\s*=\s*"([^"]*)"', opened_attributes)
                    if opened == "a" and href:
                        entity["url"] = href.group(1)
                    entities.append(entity)
            else:
                stack.append((name, length, attributes))
            position = tag.end()
            continue
        if char == "&":
            reference = _CHAR_REF.match(source, position)
            if reference is None:
                raise bad_request(f"can't parse entities: unsupported HTML entity at byte "
                                  f"offset {offset}")
            value = reference.group(1)
            if value.startswith("#x"):
                char = chr(int(value[2:], 16))
            elif value.startswith("#"):
                char = chr(int(value[1:]))
            else:
                char = _NAMED[value]
            position = reference.end()
        elif char == ">":
            raise bad_request(f"can't parse entities: unexpected character '>' at byte offset "
                              f"{offset}")
        else:
            position += 1
        text.append(char)
        length += utf16_len(char)
    if stack:
        raise bad_request(f"can't parse entities: can't find end tag corresponding to start "
                          f"tag \"{stack[-1][0]}\"")
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(text), entities


def _message_text(params: dict[str, Any], key: str = "text") -> tuple[str, list[dict[str, Any]]]:
    source = params.get(key)
    if not isinstance(source, str) or not source:
        raise bad_request("message text is empty")
    mode = (params.get("parse_mode") or "").lower()
    if mode == "html":
        text, entities = parse_html(source)
    elif mode:
        raise bad_request(f"unsupported parse_mode {params['parse_mode']!r} in this emulator")
    else:
        text, entities = source, list(params.get("entities") or [])
    if not text.strip():
        raise bad_request("message text is empty")
    if utf16_len(text) > MAX_TEXT:
        raise bad_request("message is too long")
    return text, entities


def _check_markup(markup: Any) -> dict[str, Any] | None:
    """An inline keyboard as Telegram checks it; other markups are kept as given."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None  # reply keyboards are not shown on messages
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("field \"inline_keyboard\" of the InlineKeyboardMarkup should be an "
                          "Array of Arrays")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise bad_request("BUTTON_TEXT_INVALID")
            kinds = _BUTTON_KINDS & set(button)
            if len(kinds) != 1:
                raise bad_request("BUTTON_TYPE_INVALID")
            data = button.get("callback_data")
            if "callback_data" in button and (
                not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA
            ):
                raise bad_request("BUTTON_DATA_INVALID")
    rows = [row for row in rows if row]
    return {"inline_keyboard": rows} if rows else None


# --- the emulator ----------------------------------------------------------------------


@dataclass
class Call:
    """One Bot API request the bot made."""

    method: str
    params: dict[str, Any]
    at: float
    error: str = ""


@dataclass
class Failure:
    code: int
    description: str
    retry_after: int | None = None
    times: int = 1


@dataclass
class ChatLimit:
    """Telegram's flood control for one chat: beyond ``messages`` per ``seconds``, a 429."""

    messages: int
    seconds: float
    retry_after: int
    sent: list[float] = field(default_factory=list)  # when the recent messages were sent


@dataclass
class RawAnswer:
    respond: Callable[[web.Request], web.Response]
    times: int = 1


@dataclass
class CallbackQuery:
    id: str
    user: dict[str, Any]
    data: str
    message: dict[str, Any] | None
    answer: dict[str, Any] | None = None


@dataclass
class InlineQuery:
    id: str
    user: dict[str, Any]
    query: str
    answer: dict[str, Any] | None = None


@dataclass
class Webhook:
    url: str
    secret: str
    allowed_updates: list[str] = field(default_factory=list)
    deliveries: list[tuple[int, int]] = field(default_factory=list)  # (update_id, status)


class BotApiEmulator:
    """The Bot API for one bot, on 127.0.0.1, with a user side for tests."""

    def __init__(self, token: str, username: str = "report_faq_test_bot",
                 first_name: str = "报告问答"):
        self.token = token
        self.bot_user = {"id": int(token.split(":", 1)[0]), "is_bot": True,
                         "first_name": first_name, "username": username}
        self.username = username
        self.calls: list[Call] = []
        self.commands: list[dict[str, str]] = []  # the default scope's menu
        self.scoped_commands: dict[str, list[dict[str, str]]] = {}  # other scopes (as JSON)
        self.description = ""
        self.short_description = ""
        self.webhook: Webhook | None = None
        self.chats: dict[int, dict[str, Any]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.callback_queries: dict[str, CallbackQuery] = {}
        self.inline_queries: dict[str, InlineQuery] = {}
        self.failures: dict[str, list[Failure]] = {}
        self.chat_limits: dict[int, ChatLimit] = {}
        self.outage_until = 0.0  # monotonic time: until then every request gets a 502
        self.raw_answers: dict[str, list[RawAnswer]] = {}
        self.revoked = False
        self._updates: list[dict[str, Any]] = []
        self._allowed: list[str] = []
        self._update_ids = itertools.count(10_000)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._query_ids = itertools.count(1)
        self._user_ids = itertools.count(700_001)
        self._changed = asyncio.Event()
        self._poller: asyncio.Future[None] | None = None
        self._runner: web.AppRunner | None = None
        self._deliveries: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._delivery_task: asyncio.Task[None] | None = None
        self._closing = False
        self.backends: list[str] = []  # balance(): where the webhook's updates really go
        self.routed: list[tuple[int, str, int]] = []  # (update_id, backend, status)
        self._next_backend = 0
        self._update_of: dict[object, int] = {}  # a user's message or query -> its update id
        self.port = 0

    # --- server lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=2, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._delivery_task = asyncio.create_task(self._deliver())

    async def stop(self) -> None:
        self._closing = True
        self._notify()
        if self._delivery_task is not None:
            self._delivery_task.cancel()
            await asyncio.gather(self._delivery_task, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """What TELEGRAM_API_BASE_URL should be: the token is appended to it."""
        return f"http://127.0.0.1:{self.port}/bot"

    def fail_next(self, method: str, code: int, description: str, *,
                  retry_after: int | None = None, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` fail as Telegram would."""
        self.failures.setdefault(method, []).append(
            Failure(code, description, retry_after, times))

    def limit_chat(self, chat: dict[str, Any], messages: int, seconds: float, *,
                   retry_after: int = 1) -> None:
        """Flood control for ``chat``: sending more than ``messages`` per ``seconds`` there
        gets a 429 with ``retry_after``, as Telegram does to a bot flooding a group."""
        self.chat_limits[chat["id"]] = ChatLimit(messages, seconds, retry_after)

    def outage(self, seconds: float) -> None:
        """The Bot API is down for ``seconds``: every request that arrives gets a 502 Bad
        Gateway (a request already being served, like a long poll, still completes)."""
        self.outage_until = time.monotonic() + seconds

    def answer_next(self, method: str, respond: Callable[[web.Request], web.Response], *,
                    times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with ``respond(request)`` whatever the
        token: what a proxy or a broken server might send (HTML, an echo of the path...)."""
        self.raw_answers.setdefault(method, []).append(RawAnswer(respond, times))

    def balance(self, urls: list[str]) -> None:
        """Deliver webhook updates to ``urls`` in turn, as a load balancer in front of
        replicas does; a delivery one refuses (not 2XX, no connection) goes to the next."""
        self.backends = list(urls)

    def revoke(self) -> None:
        """The token is revoked (@BotFather /revoke): every call, a waiting getUpdates
        included, is answered 401 from now on."""
        self.revoked = True
        self._notify()

    # --- HTTP --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        raw = self.raw_answers.get(request.match_info["method"])
        if raw:
            raw[0].times -= 1
            answer = raw[0].respond
            if raw[0].times <= 0:
                raw.pop(0)
            self.calls.append(Call(request.match_info["method"], {}, time.monotonic(), "raw"))
            self._notify()
            return answer(request)
        if self.revoked or request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        handler = getattr(self, "api_" + method.lower(), None)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        try:
            params = await _parameters(request)
        except ApiError as error:
            return web.json_response(error.body(), status=error.code)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        try:
            if call.at < self.outage_until:
                raise ApiError(502, "Bad Gateway")
            self._inject_failure(method)
            if method.lower() in ("sendmessage", "editmessagetext"):
                self._flood_control(params.get("chat_id"), call.at)
            result = await handler(params)
        except ApiError as error:
            call.error = error.description
            self._notify()
            return web.json_response(error.body(), status=error.code)
        self._notify()
        return web.json_response({"ok": True, "result": result})

    def _inject_failure(self, method: str) -> None:
        queue = self.failures.get(method)
        if queue:
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            raise ApiError(failure.code, failure.description, failure.retry_after)

    def _flood_control(self, chat_id: Any, now: float) -> None:
        limit = self.chat_limits.get(chat_id)  # type: ignore[arg-type]
        if limit is None:
            return
        limit.sent = [at for at in limit.sent if now - at < limit.seconds]
        if len(limit.sent) >= limit.messages:
            raise ApiError(429, f"Too Many Requests: retry after {limit.retry_after}",
                           limit.retry_after)
        limit.sent.append(now)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # --- Bot API methods ----------------------------------------------------------------

    async def api_getme(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": True, "can_connect_to_business": False,
                "has_main_web_app": False}

    async def api_deletewebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def api_setwebhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url") or ""
        if not url:
            return await self.api_deletewebhook(params)
        secret = params.get("secret_token") or ""
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        self.webhook = Webhook(url, secret, list(params.get("allowed_updates") or []))
        if params.get("drop_pending_updates"):
            self._updates.clear()
        for update in self._updates:
            self._deliveries.put_nowait(update)
        self._updates.clear()
        return True

    async def api_getwebhookinfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook.url if self.webhook else "", "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}

    async def api_getupdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = params.get("offset")
        if offset is not None:
            if offset < 0:
                self._updates = self._updates[offset:]
            else:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
        limit = params.get("limit") or 100
        if not 1 <= limit <= 100:
            limit = 100
        if "allowed_updates" in params and params["allowed_updates"] is not None:
            self._allowed = list(params["allowed_updates"])
        if self._poller is not None and not self._poller.done():
            self._poller.set_result(None)  # an earlier getUpdates gets a 409
        poller = self._poller = asyncio.get_running_loop().create_future()
        deadline = time.monotonic() + max(0, params.get("timeout") or 0)
        while not self._updates and not self._closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            changed = asyncio.ensure_future(self._changed.wait())
            await asyncio.wait({changed, poller}, timeout=remaining,
                               return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()
            if self.revoked:
                raise ApiError(401, "Unauthorized")
            if poller.done():
                raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure "
                                    "that only one bot instance is running")
        if not poller.done():
            poller.set_result(None)
        return self._updates[:limit]

    async def api_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        text, entities = _message_text(params)
        markup = _check_markup(params.get("reply_markup"))
        replied = None
        reply = params.get("reply_parameters") or {}
        reply_to = reply.get("message_id") or params.get("reply_to_message_id")
        if reply_to is not None:
            replied = self.messages.get((chat["id"], int(reply_to)))
            if replied is None and not (reply.get("allow_sending_without_reply")
                                        or params.get("allow_sending_without_reply")):
                raise bad_request("message to be replied not found")
        message = self._new_message(chat, self.bot_user, text, entities)
        if markup:
            message["reply_markup"] = markup
        if replied is not None:
            message["reply_to_message"] = {k: v for k, v in replied.items()
                                           if k != "reply_to_message"}
        return message

    async def api_editmessagetext(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        text, entities = _message_text(params)
        markup = _check_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        chat = self._chat(params)
        message = self.messages.get((chat["id"], params.get("message_id") or 0))
        if message is None:
            raise bad_request("message to edit not found")
        if message["from"]["id"] != self.bot_user["id"]:
            raise bad_request("message can't be edited")
        if (message["text"] == text and message.get("entities", []) == entities
                and message.get("reply_markup") == markup):
            raise bad_request("message is not modified: specified new message content and "
                              "reply markup are exactly the same as a current content and "
                              "reply markup of the message")
        message["text"] = text
        message["edit_date"] = int(time.time())
        _set(message, "entities", entities)
        _set(message, "reply_markup", markup)
        return message

    async def api_editmessagereplymarkup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        markup = _check_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        chat = self._chat(params)
        message = self.messages.get((chat["id"], params.get("message_id") or 0))
        if message is None:
            raise bad_request("message to edit not found")
        if message["from"]["id"] != self.bot_user["id"]:
            raise bad_request("message can't be edited")
        if message.get("reply_markup") == markup:
            raise bad_request("message is not modified: specified new message content and "
                              "reply markup are exactly the same as a current content and "
                              "reply markup of the message")
        message["edit_date"] = int(time.time())
        _set(message, "reply_markup", markup)
        return message

    async def api_setmydescription(self, params: dict[str, Any]) -> bool:
        description = params.get("description") or ""
        if len(description) > MAX_DESCRIPTION:
            raise bad_request("BOT_DESCRIPTION_INVALID")
        self.description = description
        return True

    async def api_setmyshortdescription(self, params: dict[str, Any]) -> bool:
        short = params.get("short_description") or ""
        if len(short) > MAX_SHORT_DESCRIPTION:
            raise bad_request("BOT_ABOUT_INVALID")
        self.short_description = short
        return True

    async def api_answercallbackquery(self, params: dict[str, Any]) -> bool:
        query = self.callback_queries.get(str(params.get("callback_query_id")))
        if query is None or query.answer is not None:
            raise bad_request("query is too old and response timeout expired or query ID is "
                              "invalid")
        if len(params.get("text") or "") > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answer = params
        return True

    async def api_answerinlinequery(self, params: dict[str, Any]) -> bool:
        query = self.inline_queries.get(str(params.get("inline_query_id")))
        if query is None or query.answer is not None:
            raise bad_request("query is too old and response timeout expired or query ID is "
                              "invalid")
        results = params.get("results")
        if not isinstance(results, list) or len(results) > 50:
            raise bad_request("RESULTS_TOO_MUCH")
        if len(str(params.get("next_offset") or "").encode()) > MAX_INLINE_OFFSET:
            raise bad_request("NEXT_OFFSET_INVALID")
        button = params.get("button")
        if button is not None and (
            not isinstance(button, dict) or not button.get("text")
            or not _START_PARAMETER.fullmatch(str(button.get("start_parameter", "")))
        ):
            raise bad_request("BUTTON_START_PARAM_INVALID")
        seen = set()
        for result in results:
            result_id = str(result.get("id", ""))
            if not 1 <= len(result_id.encode()) <= 64:
                raise bad_request("RESULT_ID_INVALID")
            if result_id in seen:
                raise bad_request("RESULT_ID_DUPLICATE")
            seen.add(result_id)
            if result.get("type") != "article" or not result.get("title"):
                raise bad_request("RESULT_TYPE_INVALID")
            content = result.get("input_message_content") or {}
            _message_text(content, "message_text")
            _check_markup(result.get("reply_markup"))
        query.answer = params
        return True

    async def api_setmycommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be an array of at most 100 BotCommand")
        for item in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(item.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(item.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        scope = _scope_key(params.get("scope"))
        if scope is None:
            self.commands = commands
        else:
            self.scoped_commands[scope] = commands
        return True

    async def api_getmycommands(self, params: dict[str, Any]) -> list[dict[str, str]]:
        scope = _scope_key(params.get("scope"))
        return self.commands if scope is None else self.scoped_commands.get(scope, [])

    def menu_of(self, chat: dict[str, Any]) -> list[str]:
        """The commands a private chat's menu shows: its chat scope's, else the default's
        (Telegram's order of scopes, for the two scopes the bot uses)."""
        scoped = self.scoped_commands.get(_scope_key({"type": "chat", "chat_id": chat["id"]})
                                          or "")
        return [c["command"] for c in (scoped if scoped is not None else self.commands)]

    async def api_sendchataction(self, params: dict[str, Any]) -> bool:
        self._chat(params)
        return True

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self.chats.get(params.get("chat_id"))  # type: ignore[arg-type]
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _new_message(self, chat: dict[str, Any], sender: dict[str, Any], text: str,
                     entities: list[dict[str, Any]]) -> dict[str, Any]:
        counter = self._message_ids.setdefault(chat["id"], itertools.count(1))
        message: dict[str, Any] = {"message_id": next(counter), "from": sender, "chat": chat,
                                   "date": int(time.time()), "text": text}
        _set(message, "entities", entities)
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    # --- the user side ------------------------------------------------------------------

    def user(self, first_name: str = "用户") -> dict[str, Any]:
        user_id = next(self._user_ids)
        return {"id": user_id, "is_bot": False, "first_name": f"{first_name}{user_id}",
                "language_code": "zh-hans"}

    def private_chat(self, user: dict[str, Any]) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        self.chats[chat["id"]] = chat
        return chat

    def group(self, title: str = "测试群") -> dict[str, Any]:
        chat = {"id": -next(self._user_ids), "type": "group", "title": title}
        self.chats[chat["id"]] = chat
        return chat

    def send(self, user: dict[str, Any], chat: dict[str, Any], text: str,
             reply_to: dict[str, Any] | None = None) -> dict[str, Any]:
        """The user sends ``text`` (commands and @mentions get their entities)."""
        message = self._new_message(chat, user, text, _user_entities(text))
        if reply_to is not None:
            message["reply_to_message"] = {k: v for k, v in reply_to.items()
                                           if k != "reply_to_message"}
        self._update_of[chat["id"], message["message_id"]] = self._push({"message": message})
        return message

    def send_media(self, user: dict[str, Any], chat: dict[str, Any], kind: str,
                   caption: str | None = None,
                   reply_to: dict[str, Any] | None = None) -> dict[str, Any]:
        """The user sends a sticker, photo, voice note, document or location (``kind``);
        a photo or document may carry a ``caption`` (with its entities)."""
        counter = self._message_ids.setdefault(chat["id"], itertools.count(1))
        message: dict[str, Any] = {"message_id": next(counter), "from": user, "chat": chat,
                                   "date": int(time.time()), kind: _MEDIA[kind]}
        if caption is not None:
            message["caption"] = caption
            _set(message, "caption_entities", _user_entities(caption))
        if reply_to is not None:
            message["reply_to_message"] = {k: v for k, v in reply_to.items()
                                           if k != "reply_to_message"}
        self.messages[(chat["id"], message["message_id"])] = message
        self._push({"message": message})
        return message

    def press(self, user: dict[str, Any], message: dict[str, Any], data: str, *,
              forged: bool = False) -> str:
        """The user presses the button with ``data`` under the bot's ``message``
        (``forged``: data no button there has, as a stale or tampered client sends)."""
        datas = [b.get("callback_data") for row in
                 (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
        assert forged or data in datas, (
            f"no button {data!r} under message {message['message_id']}: {datas}")
        query_id = str(next(self._query_ids) * 1_000_003)
        self.callback_queries[query_id] = CallbackQuery(query_id, user, data, message)
        self._update_of[query_id] = self._push({"callback_query": {
            "id": query_id, "from": user, "message": message,
            "chat_instance": str(message["chat"]["id"] * 7), "data": data,
        }})
        return query_id

    def inline(self, user: dict[str, Any], query: str, offset: str = "") -> str:
        """The user types ``@bot query`` in some chat (``offset``: scrolled to the page the
        bot's ``next_offset`` named)."""
        query_id = str(next(self._query_ids) * 1_000_033)
        self.inline_queries[query_id] = InlineQuery(query_id, user, query)
        self._push({"inline_query": {"id": query_id, "from": user, "query": query,
                                     "offset": offset, "chat_type": "sender"}})
        return query_id

    def _push(self, update: dict[str, Any]) -> int:
        """Queue an update for the bot; its update_id."""
        kind = next(k for k in update if k in _UPDATE_TYPES)
        update = {"update_id": next(self._update_ids), **update}
        if self.webhook is not None:
            allowed = self.webhook.allowed_updates
            if not allowed or kind in allowed:
                self._deliveries.put_nowait(update)
        elif not self._allowed or kind in self._allowed:
            self._updates.append(update)
        self._notify()
        return int(update["update_id"])

    async def _deliver(self) -> None:
        """Webhook delivery: updates POSTed one at a time, in order, with the secret header;
        a failed delivery (not 2XX, or no connection) is repeated, as Telegram does."""
        async with ClientSession(timeout=ClientTimeout(total=30)) as session:
            while True:
                update = await self._deliveries.get()
                for attempt in range(DELIVERY_ATTEMPTS):
                    webhook = self.webhook
                    if webhook is None:
                        self._updates.append(update)
                        break
                    headers = ({"X-Telegram-Bot-Api-Secret-Token": webhook.secret}
                               if webhook.secret else {})
                    status = 0
                    for url in self._delivery_urls(webhook):
                        status = await self._post(session, url, update, headers)
                        webhook.deliveries.append((update["update_id"], status))
                        self._notify()
                        if 200 <= status < 300:
                            break
                    if 200 <= status < 300:
                        break
                    await asyncio.sleep(0.1 * 2 ** attempt)

    def _delivery_urls(self, webhook: Webhook) -> list[str]:
        """Where one delivery attempt goes: the webhook, or every backend once starting with
        the next in turn."""
        if not self.backends:
            return [webhook.url]
        first = self._next_backend % len(self.backends)
        self._next_backend += 1
        return self.backends[first:] + self.backends[:first]

    async def _post(self, session: ClientSession, url: str, update: dict[str, Any],
                    headers: dict[str, str]) -> int:
        try:
            async with session.post(url, json=update, headers=headers) as reply:
                status = reply.status
        except (OSError, ClientError):  # refused, or a replica closed the connection
            status = 0
        if self.backends:
            self.routed.append((update["update_id"], url, status))
        return status

    # --- observing ------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 30,
                       what: str = "the bot") -> Any:
        """Wait until ``predicate()`` is truthy (checked after every bot request)."""
        deadline = time.monotonic() + timeout
        while not (result := predicate()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                recent = [(c.method, c.error) for c in self.calls[-10:]]
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; "
                                     f"last calls: {recent}")
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
            except TimeoutError:
                pass
        return result

    def bot_messages(self, chat: dict[str, Any]) -> list[dict[str, Any]]:
        """The bot's messages in a chat, oldest first, as they are now (edits applied)."""
        return sorted((m for (chat_id, _), m in self.messages.items()
                       if chat_id == chat["id"] and m["from"]["id"] == self.bot_user["id"]),
                      key=lambda m: m["message_id"])

    def replies_to(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        return [m for m in self.bot_messages(message["chat"])
                if m.get("reply_to_message", {}).get("message_id") == message["message_id"]]

    def after(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """The bot's messages in the chat of ``message`` sent after it."""
        return [m for m in self.bot_messages(message["chat"])
                if m["message_id"] > message["message_id"]]

    def backend_of(self, sent: dict[str, Any] | str) -> str | None:
        """balance(): the backend that took the update of a user's message (or of a button
        press, by its query id), None while none has."""
        key = sent if isinstance(sent, str) else (sent["chat"]["id"], sent["message_id"])
        update_id = self._update_of.get(key)
        taken = [url for uid, url, status in self.routed
                 if uid == update_id and 200 <= status < 300]
        return taken[-1] if taken else None

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def answer_of(self, query_id: str, timeout: float = 30) -> dict[str, Any]:
        query = self.callback_queries.get(query_id) or self.inline_queries[query_id]
        return await self.wait_for(lambda: query.answer, timeout, f"an answer to {query_id}")


def _set(message: dict[str, Any], key: str, value: Any) -> None:
    if value:
        message[key] = value
    else:
        message.pop(key, None)


def _user_entities(text: str) -> list[dict[str, Any]]:
    entities = []
    command = re.match(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{5,32})?", text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command.group())})
    for mention in re.finditer(r"@[A-Za-z0-9_]{5,32}", text):
        if command and mention.start() < command.end():
            continue
        entities.append({"type": "mention", "offset": utf16_len(text[: mention.start()]),
                         "length": utf16_len(mention.group())})
    return entities


async def _parameters(request: web.Request) -> dict[str, Any]:
    """Bot API parameters from the query string, a JSON body or a form (values JSON-encoded
    where the field is an object, as the documentation allows)."""
    raw: dict[str, Any] = dict(request.query)
    typed: dict[str, Any] = {}
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except json.JSONDecodeError:
                raise bad_request("can't parse JSON body") from None
            if isinstance(body, dict):
                typed.update(body)
        else:
            form = await request.post()
            raw.update({k: v for k, v in form.items() if isinstance(v, str)})
    for key, value in raw.items():
        typed[key] = _decode(key, value)
    return typed


_SCOPE_TYPES = {"default", "all_private_chats", "all_group_chats",
                "all_chat_administrators", "chat", "chat_administrators", "chat_member"}


def _scope_key(scope: Any) -> str | None:
    """A BotCommandScope as a key (None: the default scope); BadRequest when malformed."""
    if scope is None or (isinstance(scope, dict) and scope.get("type") == "default"):
        return None
    if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
        raise bad_request("BOT_COMMAND_SCOPE_INVALID")
    if scope["type"].startswith("chat") and not isinstance(scope.get("chat_id"), int | str):
        raise bad_request("chat_id is required for this scope")
    return json.dumps(scope, sort_keys=True)


def _decode(key: str, value: str) -> Any:
    try:
        if key in _JSON_FIELDS:
            return json.loads(value)
        if key in _INT_FIELDS:
            return int(value)
        if key == "timeout":
            return float(value)
        if key == "chat_id":
            return int(value) if re.fullmatch(r"-?\d+", value) else value
    except ValueError:
        raise bad_request(f"field \"{key}\" must be of type "
                          f"{'JSON' if key in _JSON_FIELDS else 'Integer'}") from None
    if key in _BOOL_FIELDS:
        return value.lower() in ("true", "1")
    return value
