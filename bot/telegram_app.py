"""Telegram adapter (python-telegram-bot 22): puts the core's replies into Telegram.

The core (``bot.replies.FaqBot``) decides what to say; this module only sends it:
HTML replies split at Telegram's length limit, buttons as inline keyboards whose
``callback_data`` is the core's action (no server-side session), deep links,
inline mode, group etiquette, the command menu, flood limits and one error handler.
``build_application`` does all the wiring; ``run_telegram`` runs it (polling or webhook).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import signal
import time
import warnings
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any, cast

from aiolimiter import AsyncLimiter
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType, FloodLimit, MessageLimit, ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BaseRateLimiter,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest, RequestData
from telegram.warnings import PTBDeprecationWarning

from bot import admin, pidfile
from bot.config import ConfigError, Settings, TelegramSettings
from bot.flow import ChatQueues, LogThrottle, UserRateLimit, Verdict, discard, slot_released
from bot.health import Liveness, Readiness, ReadyState, content_check, store_check
from bot.logs import event_line, message_text, use_format
from bot.metrics import ErrorKind, Metrics, Outcome, TimedStore, outcome_of, unwrapped
from bot.replies import ADMIN_COMMANDS, Button, FaqBot, Reply
from bot.store import Store
from bot.webhook_server import HealthServer, WebhookServer

logger = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.INLINE_QUERY]
MAX_CONCURRENT_UPDATES = 64  # updates handled at once (each chat's first in line only)
ADMITTED_UPDATES = 10_000  # updates held at once, queued or running: a bound on memory
CHAT_BACKLOG = 20  # updates one chat may queue; a group's flood beyond that is dropped
STOP_GRACE_SECONDS = 5.0  # on SIGTERM, queued work gets this long, then it is cancelled
SEND_RETRY_SECONDS = 30.0  # a reply that fails on the network is retried this long in all
FIRST_BACKOFF_SECONDS = 0.5  # then 1, 2, 4, 8, 8 ... s between attempts
MAX_BACKOFF_SECONDS = 8.0
RETRIED_METHODS = frozenset({"sendMessage", "editMessageText"})  # the replies themselves
INLINE_CACHE_SECONDS = 300
CALLBACK_DATA_BYTES = 64
FEEDBACK = re.compile(r"^fb:(good|bad):(.+)$")
INLINE_START = "inline"  # the /start payload of inline mode's "open the bot" button
REFUSED_CHATS = 10_000  # chats refused once each (allowed_chats), remembered in memory
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


# --- splitting long replies ----------------------------------------------------------

_TOKEN = re.compile(r"<[^>]*>|&#?\w+;|[\s\S]")
_TAG_NAME = re.compile(r"^</?([A-Za-z][\w-]*)")
_EMPTY_TAG = re.compile(r"<([A-Za-z][\w-]*)[^>]*></\1>")
_CJK_RANGES = (("\u2e80", "\u9fff"), ("\uf900", "\ufaff"), ("\uff00", "\uffef"))
_PUNCTUATION = set("，。；：！？、,.;:!?)）》」』”’…")


def _units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _is_cjk(char: str) -> bool:
    """Chinese characters and full-width forms: a message may break between any two."""
    return any(low <= char <= high for low, high in _CJK_RANGES)


def _is_word(char: str) -> bool:
    return char.isascii() and char.isalnum()


def split_html(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split Telegram HTML into messages of at most ``limit`` UTF-16 units each.

    Breaks at a line break when one is in the second half of the message, else after
    punctuation or at a space, else between Chinese characters; never inside a tag, an
    entity or a Latin word (unless a single word is longer than a message). Tags open at
    a break are closed at the end of one part and reopened at the start of the next.

    >>> split_html("<b>一二三</b>\\n四五六", limit=12)
    ['<b>一二三</b>', '四五六']
    """
    parts: list[str] = []
    rest = text.strip()
    while _units(rest) > limit:
        part, rest = _cut(rest, limit)
        if part:
            parts.append(part)
    if rest:
        parts.append(rest)
    return parts


def _cut(text: str, limit: int) -> tuple[str, str]:
    """The first part of ``text`` that fits in ``limit``, and the rest (tags reopened)."""
    stack: list[tuple[str, str]] = []  # open tags: (name, opening tag)
    size = 0
    # rank -> (cut at, resume at, open tags there, size there); the latest of each rank
    candidates: dict[int, tuple[int, int, tuple[tuple[str, str], ...], int]] = {}
    hard: tuple[int, int, tuple[tuple[str, str], ...], int] = (0, 0, (), 0)
    for match in _TOKEN.finditer(text):
        token, start, end = match.group(), match.start(), match.end()
        after = list(stack)
        if token.startswith("<") and len(token) > 1 and (name := _TAG_NAME.match(token)):
            if token.startswith("</"):
                if after and after[-1][0] == name.group(1):
                    after.pop()
            else:
                after.append((name.group(1), token))
        closing = sum(len(name) + 3 for name, _ in after)
        if size + _units(token) + closing > limit:
            hard = (start, start, tuple(stack), size)
            if token.isspace():  # the break itself would not fit, but it is dropped anyway
                candidates[3 if token == "\n" else 2] = (start, end, tuple(stack), size)
            break
        before = tuple(stack)
        stack, size = after, size + _units(token)
        if token == "\n":
            candidates[3] = (start, end, before, size)
        elif token.isspace():
            candidates[2] = (start, end, before, size)
        elif token in _PUNCTUATION and not _is_word(text[end : end + 1]):  # not 9.8
            candidates[2] = (end, end, tuple(stack), size)
        elif _is_cjk(token):
            candidates[1] = (end, end, tuple(stack), size)
    chosen = next((c for rank in (3, 2, 1) if (c := candidates.get(rank)) and c[3] >= limit // 2),
                  None)
    if chosen is None:
        chosen = next((candidates[rank] for rank in (3, 2, 1) if rank in candidates), hard)
    cut_at, resume_at, open_tags, _ = chosen
    if cut_at == 0:  # nothing fits before the first token: cut it anyway, at least one token
        first = _TOKEN.match(text)
        cut_at = resume_at = first.end() if first else len(text)
        open_tags = ()
    closing_tags = "".join(f"</{name}>" for name, _ in reversed(open_tags))
    part = _EMPTY_TAG.sub("", text[:cut_at].rstrip() + closing_tags)
    rest = _EMPTY_TAG.sub("", "".join(tag for _, tag in open_tags) + text[resume_at:].lstrip())
    return part, rest


# --- replies -> Telegram ------------------------------------------------------------------


def keyboard(reply: Reply, share: tuple[str, str] | None = None) -> InlineKeyboardMarkup | None:
    """The reply's buttons as an inline keyboard; ``callback_data`` is the core's action.
    ``share`` (label, inline query) adds a button that shares the answer through inline
    mode, beside 👍 👎 (or on a row of its own)."""
    rows: list[list[InlineKeyboardButton]] = []
    for row in reply.buttons:
        buttons = []
        for button in row:
            if len(button.action.encode()) > CALLBACK_DATA_BYTES:
                logger.warning("button %r dropped: callback data over 64 bytes", button.label)
                continue
            buttons.append(InlineKeyboardButton(button.label, callback_data=button.action))
        if buttons:
            rows.append(buttons)
    if share is not None and share[1]:
        shared = InlineKeyboardButton(share[0], switch_inline_query=share[1])
        feedback_rows = [row for row in rows if _has_feedback(row)]
        if feedback_rows:
            feedback_rows[-1].append(shared)
        else:
            rows.append([shared])
    return InlineKeyboardMarkup(rows) if rows else None


def _has_feedback(row: Sequence[InlineKeyboardButton]) -> bool:
    return any(isinstance(b.callback_data, str) and FEEDBACK.match(b.callback_data) for b in row)


def _is_answer(message: Message) -> bool:
    """A message with 👍/👎 under it: an answer to a question, which browsing leaves alone."""
    return message.reply_markup is not None and any(
        _has_feedback(row) for row in message.reply_markup.inline_keyboard)


def _marked(markup: InlineKeyboardMarkup, row: tuple[Button, ...]) -> InlineKeyboardMarkup:
    """The keyboard with the 👍/👎 buttons relabelled as ``row`` labels them (the vote)."""
    labels = {button.action: button.label for button in row}
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(labels[b.callback_data], callback_data=b.callback_data)
         if isinstance(b.callback_data, str) and b.callback_data in labels else b
         for b in buttons]
        for buttons in markup.inline_keyboard
    ])


def conversation_key(update: Update) -> str:
    """Whose conversation a message or button press belongs to, for follow-ups and /lang:
    the chat; in a group, each user of it (two people asking at once keep their own);
    '' for an inline message, which belongs to no chat of ours."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None:
        return ""
    if chat.type == ChatType.PRIVATE or user is None:
        return f"telegram:{chat.id}"
    return f"telegram:{chat.id}:{user.id}"


def _faq(context: ContextTypes.DEFAULT_TYPE) -> FaqBot:
    return context.bot_data["faq"]


def _metrics(context: ContextTypes.DEFAULT_TYPE) -> Metrics:
    return context.bot_data["metrics"]


Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


def observed(outcome: Outcome, handler: Handler) -> Handler:
    """``handler``, counted and timed as ``outcome``, with one log line when it is done
    (free-text questions count their own outcome: see ``question``)."""

    async def observing(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        started = time.perf_counter()
        await handler(update, context)
        seconds = time.perf_counter() - started
        _metrics(context).handled(outcome, seconds)
        line, fields = event_line("update handled", outcome=outcome.value,
                                  latency_ms=round(seconds * 1000, 1))
        logger.info("%s", line, extra=fields)

    observing.__name__ = observing.__qualname__ = handler.__name__
    observing.__doc__ = handler.__doc__
    return observing


async def _send(update: Update, reply: Reply, quote: bool | None = None,
                share: tuple[str, str] | None = None) -> None:
    """Send a reply as one or more messages; the buttons go under the last one."""
    message = update.effective_message
    if message is None:
        return
    parts = split_html(reply.html())
    markup = keyboard(reply, share)
    if quote is None:  # Telegram's custom: quote in groups, not in private chats
        quote = message.chat.type != ChatType.PRIVATE
    for number, part in enumerate(parts):
        quoted = ReplyParameters(message.message_id, allow_sending_without_reply=True)
        await message.reply_html(
            part, reply_markup=markup if number == len(parts) - 1 else None,
            reply_parameters=quoted if quote and number == 0 else None, do_quote=False,
        )


async def _send_to(context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Reply) -> None:
    """Send a reply to a chat as new messages (a button under an answer: the answer stays)."""
    parts = split_html(reply.html())
    markup = keyboard(reply)
    for number, part in enumerate(parts):
        await context.bot.send_message(
            chat_id, part, parse_mode=ParseMode.HTML,
            reply_markup=markup if number == len(parts) - 1 else None,
        )


async def _edit(query: CallbackQuery, context: ContextTypes.DEFAULT_TYPE, reply: Reply) -> None:
    """Show a reply in place of the message whose button was pressed."""
    parts = split_html(reply.html())
    markup = keyboard(reply)
    message = query.message
    if query.inline_message_id or isinstance(message, Message):
        try:
            await query.edit_message_text(
                parts[0], parse_mode=ParseMode.HTML,
                reply_markup=markup if len(parts) == 1 else None,
            )
        except BadRequest as error:
            if "not modified" not in error.message.lower():
                raise
        parts = parts[1:]
    if message is None:  # an inline message: nowhere to put the rest
        return
    for number, part in enumerate(parts):
        await context.bot.send_message(
            message.chat.id, part, parse_mode=ParseMode.HTML,
            reply_markup=markup if number == len(parts) - 1 else None,
        )


async def _edit_markup(query: CallbackQuery, markup: InlineKeyboardMarkup) -> None:
    """Change only the buttons of the pressed message (a double tap: not modified, fine)."""
    try:
        await query.edit_message_reply_markup(markup)
    except BadRequest as error:
        if "not modified" not in error.message.lower():
            raise


def _question_text(message: Message) -> str:
    """The message text (or a photo's or document's caption) without the bot's @mention."""
    text = message.text or message.caption or ""
    username = message.get_bot().username
    if username:
        text = re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE)
    return " ".join(text.split())


class _AddressedToBot(filters.MessageFilter):
    """Private chats: every message. Groups: messages that mention the bot or reply to it.
    Never messages sent through the bot's own inline mode."""

    def filter(self, message: Message) -> bool:
        bot = message.get_bot()
        if message.via_bot is not None and message.via_bot.id == bot.id:
            return False
        if message.chat.type == ChatType.PRIVATE:
            return True
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
            return True
        mention = f"@{bot.username}".lower()
        kinds: list[str | None] = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
        mentions = (message.parse_entities(kinds) if message.text is not None
                    else message.parse_caption_entities(kinds))
        return any(
            text.lower() == mention or (entity.user is not None and entity.user.id == bot.id)
            for entity, text in mentions.items()
        )


ADDRESSED_TO_BOT = _AddressedToBot(name="addressed_to_bot")
# What the bot cannot read; with a caption, the caption is read as the question instead.
NON_TEXT = (filters.Sticker.ALL | filters.PHOTO | filters.VOICE | filters.AUDIO | filters.VIDEO
            | filters.VIDEO_NOTE | filters.ANIMATION | filters.Document.ALL | filters.LOCATION
            | filters.VENUE | filters.CONTACT | filters.POLL | filters.Dice.ALL)


# --- handlers ---------------------------------------------------------------------------


async def start_link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Deep link t.me/<bot>?start=s2 (a section) or ?start=s2_m2 (a measure, s2.m2: the
    core reads both)."""
    await _send(update, _faq(context).command("start", (context.args or [""])[0],
                                               conversation_key(update)))


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start: what the bot knows and how to ask, with 📑 目录 · 💬 口号 · ❓ 示例问题;
    in a group, how to ask there (mention, reply, command@bot: plain messages are not read)."""
    message = update.effective_message
    if message is not None and message.chat.type != ChatType.PRIVATE:
        await _send(update, _faq(context).group_start(context.bot.username))
        return
    await _send(update, _faq(context).command("start", "", conversation_key(update)))


async def command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/help, /sections, /section N, /summary, /slogans, /slogan 词, /lang 繁: the core's
    reply, in the conversation's script."""
    text = update.effective_message.text if update.effective_message else ""
    name = (text or "/").split(maxsplit=1)[0][1:].split("@", 1)[0].lower()
    await _send(update, _faq(context).command(name, " ".join(context.args or ()),
                                              conversation_key(update)))


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command the bot does not know (private chats only: in groups it may be another bot's)."""
    message = update.effective_message
    await _send(update, _faq(context).handle((message.text or "") if message else "",
                                             conversation_key(update)))


async def question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A free-text question; the answer quotes it (so 👍/👎 know what was asked)."""
    message = update.effective_message
    if message is None:
        return
    started = time.perf_counter()
    faq = _faq(context)
    text = _question_text(message)
    reply = faq.ask(text, conversation_key(update))
    share = None
    if message.chat.type == ChatType.PRIVATE and reply.answered:
        share = (faq.settings.text("share"), faq.share_query(reply))
    await _send(update, reply, quote=True, share=share)
    outcome = outcome_of(reply)
    seconds = time.perf_counter() - started
    _metrics(context).handled(outcome, seconds)
    logged = message_text(text) if faq.settings.log_message_text else None
    line, fields = event_line("question handled", outcome=outcome.value,
                              passage_id=reply.passage_id or "-",
                              latency_ms=round(seconds * 1000, 1),
                              chat_type=str(message.chat.type), text=logged)
    logger.info("%s", line, extra=fields)


async def admin_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/stats, /review, /reload: admins only, in a private chat (everyone else's never
    reaches this handler: see ``build_application``). Store reads and the reload run off
    the event loop: questions keep being answered meanwhile."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    faq = _faq(context)
    name = (message.text or "/").split(maxsplit=1)[0][1:].split("@", 1)[0].lower()
    if name == "stats":
        reply = await asyncio.to_thread(admin.stats, faq)
    elif name == "review":
        reply = await asyncio.to_thread(admin.review, faq)
    else:
        reply = await asyncio.to_thread(admin.reload, faq, f"/reload by {user.id}")
    await _send(update, reply)


def is_allowed(settings: Settings, update: Update) -> bool:
    """Whether ``allowed_chats`` lets this update through: none set, an admin, a listed
    user (anywhere) or a listed group (anyone in it)."""
    if not settings.allowed_chats:
        return True
    user, chat = update.effective_user, update.effective_chat
    if user is not None and (user.id in settings.admins or user.id in settings.allowed_chats):
        return True
    return chat is not None and chat.id in settings.allowed_chats


async def private_deployment(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Before every handler: an update from outside ``allowed_chats`` stops here. A chat
    gets one polite refusal (when it spoke to the bot), a button press a toast, nothing else."""
    faq = _faq(context)
    if not isinstance(update, Update) or is_allowed(faq.settings, update):
        return
    refusal = faq.settings.text("not_allowed")
    message, chat = update.effective_message, update.effective_chat
    if update.callback_query is not None:
        await update.callback_query.answer(refusal)
    elif (update.message is not None and chat is not None
          and (chat.type == ChatType.PRIVATE or ADDRESSED_TO_BOT.check_update(update))):
        refused: OrderedDict[int, None] = context.bot_data.setdefault("refused", OrderedDict())
        if chat.id not in refused and message is not None:
            refused[chat.id] = None
            while len(refused) > REFUSED_CHATS:
                refused.popitem(last=False)
            await message.reply_text(refusal)
    raise ApplicationHandlerStop


async def non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A sticker, photo, voice note, location... without a caption: how to ask instead."""
    await _send(update, _faq(context).non_text())


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button press: answer it, then show what it names: in place of the message, or
    under an answer as a new message (the answer and its 👍/👎 stay). Unknown, stale or
    malformed data gets a toast and changes nothing."""
    query = update.callback_query
    if query is None:
        return
    faq = _faq(context)
    reply = faq.action(query.data or "", conversation_key(update))
    if reply is None:
        await query.answer(faq.settings.text("stale_button"))
        return
    await query.answer()
    if isinstance(query.message, Message) and _is_answer(query.message):
        await _send_to(context, query.message.chat.id, reply)
    else:
        await _edit(query, context, reply)


async def feedback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """👍/👎 under an answer: a thank-you toast, the user's vote recorded (a later one
    replaces it), and the buttons show the vote (✅)."""
    query = update.callback_query
    if query is None:
        return
    if not isinstance(context.match, re.Match):  # PTB passes empty data to every pattern
        await button(update, context)
        return
    faq = _faq(context)
    passage_id, good = context.match.group(2), context.match.group(1) == "good"
    if not faq.has_passage(passage_id):  # the content no longer has it
        await query.answer(faq.settings.text("stale_button"))
        return
    await query.answer(faq.settings.text("feedback_thanks"))
    message = query.message if isinstance(query.message, Message) else None
    asked = message.reply_to_message if message is not None else None
    faq.feedback(
        passage_id, good=good, question=_question_text(asked) if asked is not None else "",
        user=f"telegram:{query.from_user.id}",
    )
    if message is not None and message.reply_markup is not None:
        marked = _marked(message.reply_markup, faq.feedback_row(passage_id, good))
        if marked != message.reply_markup:
            await _edit_markup(query, marked)


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """@<bot> 关键词 in any chat: matching passages to pick; the message shows its source."""
    query = update.inline_query
    if query is None:
        return
    faq = _faq(context)
    offset = int(query.offset) if query.offset.isascii() and query.offset.isdigit() else 0
    items, following = faq.inline_page(query.query, offset)
    results = [
        InlineQueryResultArticle(
            id=item.id,
            title=item.title,
            description=item.description,
            input_message_content=InputTextMessageContent(
                split_html(item.reply.html())[0], parse_mode=ParseMode.HTML
            ),
            reply_markup=keyboard(item.reply),
        )
        for item in items
    ]
    await query.answer(
        results, cache_time=INLINE_CACHE_SECONDS,
        next_offset=str(following) if following is not None else "",
        button=InlineQueryResultsButton(faq.settings.text("inline_open"),
                                        start_parameter=INLINE_START),
    )


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log an error with the update that caused it: network trouble as one line, anything
    else with its traceback; each kind once per interval (an outage is not 4,000 lines).
    A handler that failed apologises to the user instead of going silent."""
    error = context.error
    throttle: LogThrottle = context.bot_data["log_throttle"]
    where = _describe(update) if update is not None else "polling for updates"
    _metrics(context).error(ErrorKind.NETWORK if _is_transient(error) else ErrorKind.HANDLER)
    if _is_transient(error):
        throttle.log(logging.WARNING, type(error).__name__, "%s (%s)", error, where)
        return
    kind = type(error).__name__
    frame = error.__traceback__ if error is not None else None
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    if frame is not None:  # the same bug once, different bugs each
        code = frame.tb_frame.f_code
        kind = f"{kind} at {code.co_filename.rsplit('/', 1)[-1]}:{frame.tb_lineno}"
    throttle.log(logging.ERROR, kind, "error while handling %s", where, exc_info=error)
    if isinstance(update, Update):
        await _apologise(update, context)


def _is_transient(error: object) -> bool:
    """Trouble on the way to Telegram, not in the bot or the request: worth a retry."""
    return isinstance(error, RetryAfter | NetworkError) and not isinstance(error, BadRequest)


async def _apologise(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The last resort: the ``error`` text to the chat, and a pressed button answered (its
    spinner would otherwise turn until Telegram gives up). Failures here are only logged."""
    apology = _faq(context).settings.text("error")
    query = update.callback_query
    try:
        if query is not None:
            try:
                await query.answer()
            except BadRequest:  # the handler had answered it already
                pass
        chat = update.effective_chat
        if chat is not None:
            # in a group, the apology quotes the message it is about
            asked = update.message.message_id if update.message is not None else None
            quoted = ReplyParameters(asked, allow_sending_without_reply=True) if asked else None
            await context.bot.send_message(chat.id, apology, reply_parameters=quoted)
    except TelegramError as error:
        logger.warning("could not apologise for %s: %s", _describe(update), error)


def _describe(update: object) -> str:
    if not isinstance(update, Update):
        return repr(update) if update is not None else "no update"
    chat = update.effective_chat
    user = update.effective_user
    if update.callback_query is not None:
        what = f"button {update.callback_query.data!r}"
    elif update.inline_query is not None:
        what = f"inline query of {len(update.inline_query.query)} characters"
    else:  # lengths, not texts: what users typed stays out of the logs
        message = update.effective_message
        what = f"message of {len(message.text or '')} characters" if message else "update"
    return (f"update {update.update_id} ({what}, chat {chat.id if chat else '-'}, "
            f"user {user.id if user else '-'})")


# --- wiring --------------------------------------------------------------------------------


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """Updates of different chats run concurrently; within a chat, one at a time, in order.

    ``Application`` starts one task per update in arrival order and each joins its chat's
    queue at once (``bot.flow.ChatQueues``): only the first in line takes one of the
    ``max_concurrent_updates`` slots, so a flooded group cannot starve the other chats.
    A chat queues at most ``backlog`` updates; a user over ``user_limit`` gets one
    ``too_fast`` notice per burst and is otherwise ignored until the burst is over.
    """

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES, *,
                 backlog: int = CHAT_BACKLOG, user_limit: UserRateLimit | None = None,
                 too_fast: str = "", throttle: LogThrottle | None = None):
        # the base class's semaphore is taken on arrival, before the chat's turn: it only
        # bounds how many updates are held; the slots that bound the work are the queues'
        super().__init__(max(ADMITTED_UPDATES, max_concurrent_updates))
        self.throttle = throttle or LogThrottle(logger)
        self.queues = ChatQueues(max_concurrent_updates, backlog, self.throttle)
        self.user_limit = user_limit
        self.too_fast = too_fast

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if isinstance(update, Update) and self.user_limit is not None and _counted(update):
            user = update.effective_user
            verdict = self.user_limit.check(user.id) if user is not None else Verdict.ALLOW
            if verdict is not Verdict.ALLOW:
                discard(coroutine)
                if verdict is not Verdict.NOTIFY:
                    return
                self.throttle.log(logging.INFO, "user over the message limit",
                                  "user %s notified; more from them dropped for now",
                                  user.id if user else "-")
                coroutine = self._notify(update)
        await self.queues.run(chat.id if chat is not None else None, coroutine)

    async def _notify(self, update: Update) -> None:
        """The one polite notice of a burst: a toast for a button, else a message."""
        if update.callback_query is not None:
            await update.callback_query.answer(self.too_fast)
        elif (message := update.effective_message) is not None:
            await message.reply_text(self.too_fast,
                                     do_quote=message.chat.type != ChatType.PRIVATE)

    async def close(self, grace: float) -> None:
        """Stop taking updates; what is queued gets ``grace`` seconds, then is cancelled."""
        await self.queues.close(grace)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Summarise what the log left out."""
        self.throttle.flush()


def _counted(update: Update) -> bool:
    """Updates a user sends the bot: button presses, and messages it would answer."""
    if update.callback_query is not None:
        return True
    message = update.message
    if message is None:
        return False
    return (message.chat.type == ChatType.PRIVATE or (message.text or "").startswith("/")
            or ADDRESSED_TO_BOT.check_update(update) is True)


class FloodControl(BaseRateLimiter[int]):
    """Telegram's flood limits and failed sends, per chat.

    With ``flood_limits``: 30 messages a second in all and 20 a minute in each group. A 429
    (RetryAfter) holds back only its own chat. A reply (``RETRIED_METHODS``) that fails on
    the network or with a 429 is retried with back-off for up to ``retry_seconds`` in all,
    then given up with one log line. Every wait gives the update's processing slot back.
    A timed-out send is retried too: Telegram may have got it, so it can arrive twice;
    better than a question left unanswered.
    """

    def __init__(self, *, flood_limits: bool, throttle: LogThrottle,
                 retry_seconds: float = SEND_RETRY_SECONDS):
        self.throttle = throttle
        self.retry_seconds = retry_seconds
        self._overall = (AsyncLimiter(FloodLimit.MESSAGES_PER_SECOND, 1)
                         if flood_limits else None)
        self.flood_limits = flood_limits
        self._groups: dict[int | str, AsyncLimiter] = {}
        self._held_until: dict[int | str | None, float] = {}  # chat -> end of its 429 wait

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat = _chat_key(data.get("chat_id"))
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.retry_seconds
        backoff = FIRST_BACKOFF_SECONDS
        attempts = 0
        while True:
            async with slot_released():
                await self._wait_turn(chat, loop)
            attempts += 1
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                wait = _retry_after(error)
                self._held_until[chat] = loop.time() + wait
                failure: TelegramError = error
            except NetworkError as error:
                if isinstance(error, BadRequest):
                    raise
                wait, backoff = backoff, min(2 * backoff, MAX_BACKOFF_SECONDS)
                failure = error
            if endpoint not in RETRIED_METHODS:
                raise failure
            if loop.time() + wait > give_up_at:
                self.throttle.log(logging.WARNING, f"{endpoint} given up",
                                  "chat %s, %d attempts in %.0f s, last: %s", chat, attempts,
                                  self.retry_seconds - (give_up_at - loop.time()), failure)
                raise failure
            self.throttle.log(logging.WARNING, type(failure).__name__,
                              "%s failed (%s); retrying for up to %.0f s", endpoint, failure,
                              self.retry_seconds)
            async with slot_released():
                await asyncio.sleep(wait)

    async def _wait_turn(self, chat: int | str | None, loop: asyncio.AbstractEventLoop) -> None:
        while (held := self._held_until.get(chat, 0.0) - loop.time()) > 0:
            await asyncio.sleep(held)
        self._held_until.pop(chat, None)
        if not self.flood_limits or chat is None:
            return
        if isinstance(chat, str) or chat < 0:  # a group or channel
            await self._group(chat).acquire()
        if self._overall is not None:
            await self._overall.acquire()

    def _group(self, chat: int | str) -> AsyncLimiter:
        if len(self._groups) > MAX_GROUP_LIMITERS:  # forget the idle ones (full again)
            for key, limiter in list(self._groups.items()):
                if limiter.has_capacity(limiter.max_rate):
                    del self._groups[key]
        if chat not in self._groups:
            self._groups[chat] = AsyncLimiter(FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP, 60)
        return self._groups[chat]


MAX_GROUP_LIMITERS = 512


def _chat_key(chat_id: object) -> int | str | None:
    if chat_id is None:
        return None
    try:
        return int(chat_id)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return str(chat_id)  # @channelname


def _retry_after(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # its type changes in PTB 23; either works here
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class BoundedStopApplication(Application):
    """``Application.stop`` waits for every queued update; under a backlog that is minutes.
    Here queued work gets ``STOP_GRACE_SECONDS`` and is then cancelled."""

    async def stop(self) -> None:
        processor = self.update_processor
        closing = (asyncio.ensure_future(processor.close(STOP_GRACE_SECONDS))
                   if isinstance(processor, ChatOrderedUpdateProcessor) else None)
        try:
            await super().stop()
        finally:
            if closing is not None:
                await closing


async def register_commands(application: Application) -> None:
    """Register the command menu (Chinese descriptions): everyone's, and for each admin's
    private chat the admin commands too; without it the bot still works."""
    try:
        commands = application.bot_data["faq"].commands()
        await application.bot.set_my_commands([BotCommand(n, about) for n, about in commands])
    except TelegramError as error:
        logger.warning("could not register the command menu: %s", error)
    everyone = application.bot_data["faq"].commands()  # /reports too, with several reports
    admin_menu = [BotCommand(n, about) for n, about in (*everyone, *ADMIN_COMMANDS)]
    for user_id in sorted(application.bot_data["faq"].settings.admins):
        try:  # an admin's private chat id is their user id
            await application.bot.set_my_commands(admin_menu, scope=BotCommandScopeChat(user_id))
        except TelegramError as error:  # e.g. an admin who never opened the bot: not fatal
            logger.warning("could not register the admin menu of %s: %s", user_id, error)
    logger.info("Telegram bot @%s is running", application.bot.username)


async def describe_bot(application: Application) -> None:
    """Set the description a new user sees in the empty chat before /start, and the short
    one of the profile; without them the bot still works."""
    bot = application.bot
    description, short = application.bot_data["faq"].profile(bot.username)
    try:
        await bot.set_my_description(description)
        await bot.set_my_short_description(short)
    except TelegramError as error:
        logger.warning("could not set the bot's description: %s", error)


async def on_start(application: Application) -> None:
    """What the bot tells Telegram about itself once connected."""
    await register_commands(application)
    await describe_bot(application)


def build_application(
    settings: Settings, faq: FaqBot, *, request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None, metrics: Metrics | None = None,
) -> Application:
    """The Application with every handler, in order (the deep-link /start before the plain
    one). ``request`` replaces the HTTP client (tests pass one that never touches the network);
    ``updates_request`` the one for getUpdates; ``metrics`` are counted into (a new
    ``Metrics`` of its own by default: ``application.bot_data["metrics"]``).
    """
    telegram = settings.telegram
    throttle = LogThrottle(logger)
    processor = ChatOrderedUpdateProcessor(
        # replicas sharing a PostgreSQL store share the counts (SQLite: one process, memory)
        user_limit=UserRateLimit(
            telegram.user_messages, telegram.user_seconds,
            store=faq.store if settings.database_url else None,
        ),
        too_fast=settings.text("too_fast"), throttle=throttle,
    )
    builder = (
        Application.builder()
        .application_class(BoundedStopApplication)
        .token(telegram.token)
        .concurrent_updates(processor)
        .rate_limiter(FloodControl(flood_limits=telegram.rate_limit, throttle=throttle))
        .post_init(on_start)
    )
    if telegram.base_url:
        builder = builder.base_url(telegram.base_url)
        if telegram.base_url.endswith("/bot"):
            builder = builder.base_file_url(telegram.base_url[: -len("bot")] + "file/bot")
    if request is not None:
        builder = builder.request(request)
    if updates_request is not None:
        builder = builder.get_updates_request(updates_request)
    application = builder.build()
    application.bot_data["faq"] = faq
    application.bot_data["log_throttle"] = throttle
    application.bot_data["metrics"] = metrics if metrics is not None else Metrics()

    new = filters.UpdateType.MESSAGE  # not edits: an edited question is not asked again
    others = [name for name, _ in faq.commands() if name != "start"]
    commands = Outcome.COMMAND
    if settings.allowed_chats:
        application.add_handler(TypeHandler(Update, private_deployment), group=-1)
    # Admin commands only for admins, only in private chats: anyone else's /stats falls
    # through to unknown_command (private) or is ignored (groups), as any unknown command.
    admins_here = filters.User(user_id=settings.admins) & filters.ChatType.PRIVATE
    application.add_handler(CommandHandler([name for name, _ in ADMIN_COMMANDS],
                                           observed(commands, admin_command),
                                           filters=new & admins_here))
    application.add_handler(CommandHandler("start", observed(commands, start_link), filters=new,
                                           has_args=True))
    application.add_handler(CommandHandler("start", observed(commands, start), filters=new))
    application.add_handler(CommandHandler(others, observed(commands, command), filters=new))
    application.add_handler(MessageHandler(new & filters.COMMAND & filters.ChatType.PRIVATE,
                                           observed(commands, unknown_command)))
    application.add_handler(
        MessageHandler(new & filters.TEXT & ~filters.COMMAND & ADDRESSED_TO_BOT, question)
    )
    application.add_handler(MessageHandler(new & filters.CAPTION & ADDRESSED_TO_BOT, question))
    application.add_handler(MessageHandler(new & NON_TEXT & ADDRESSED_TO_BOT,
                                           observed(Outcome.NON_TEXT, non_text)))
    application.add_handler(CallbackQueryHandler(observed(Outcome.BUTTON, feedback),
                                                 pattern=FEEDBACK))
    application.add_handler(CallbackQueryHandler(observed(Outcome.BUTTON, button)))
    application.add_handler(InlineQueryHandler(observed(Outcome.INLINE, inline_query)))
    application.add_error_handler(error_handler)
    return application


REDACTED = "<redacted>"
POLL_TIMEOUT_SECONDS = 10  # long polling: Telegram holds getUpdates open this long at most
POLL_RETRY_MAX_SECONDS = 30  # after repeated failures, retry at least this often (as PTB does)
POLL_RETRY_GROWTH = 1.5
WEBHOOK_CHECK_SECONDS = 30  # getWebhookInfo: the webhook is still ours and Telegram reaches it
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
API_CONNECTIONS = 256  # python-telegram-bot's default pool for API calls (1 for getUpdates)


def _any_encoding(char: str) -> str:
    """A regex for one character of a secret: itself or percent-encoded (%3A, or %253A)."""
    encoded = "".join(f"%(?:25)?{byte:02X}" for byte in char.encode())
    return f"(?:{re.escape(char)}|{encoded})"


class Redactor:
    """Replaces secrets in text, in every form an echo of a URL can give them: any letter
    case, percent-encoded character by character, and for the bot token also the part after
    the colon alone (the bot id before it is public)."""

    def __init__(self, *secrets: str):
        forms: set[str] = set()
        for secret in filter(None, secrets):
            forms.add(secret)
            _, colon, key = secret.partition(":")
            if colon and key:
                forms.add(key)
        self._patterns = [re.compile("".join(map(_any_encoding, form)), re.IGNORECASE)
                          for form in sorted(forms, key=len, reverse=True)]

    def __call__(self, text: str) -> str:
        for pattern in self._patterns:
            text = pattern.sub(REDACTED, text)
        return text


class RedactSecrets(logging.Filter):
    """Replaces the token (and webhook secret) in log records: python-telegram-bot puts the
    token in some exception messages, e.g. when Telegram rejects it, and a server or proxy
    may echo the request URL in an error."""

    def __init__(self, *secrets: str):
        super().__init__()
        self.redact = Redactor(*secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken log call: the handler reports it
            return True
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.redact(message), None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def _is_api_answer(payload: bytes, success: bool) -> bool:
    """A Bot API answer: {"ok": true, "result": ...} or {"ok": false, ...}."""
    try:
        answer = json.loads(payload)
    except ValueError:
        return False
    if not isinstance(answer, dict) or answer.get("ok") is not success:
        return False
    return "result" in answer if success else isinstance(answer.get("description", ""), str)


def _status_only(code: int, note: str = "") -> bytes:
    """A Bot API error that names only the HTTP status of what the server sent."""
    try:
        phrase = f" {HTTPStatus(code).phrase}"
    except ValueError:
        phrase = ""
    return json.dumps({"ok": False, "error_code": code,
                       "description": f"HTTP {code}{phrase}{note}"}).encode()


class BotApiRequest(HTTPXRequest):
    """HTTPXRequest that gives python-telegram-bot only Bot API answers: a server error or
    anything that is not the Bot API's JSON (a proxy's HTML page, an empty body) becomes an
    error naming just the HTTP status, so no body (which may echo the URL, i.e. the token)
    reaches a message or a log. Remembers the last status for one-line errors."""

    last_status: int | None = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,  # Any: PTB's ODVInput type is private
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        code, payload = await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        self.last_status = code
        success = HTTPStatus.OK <= code < HTTPStatus.MULTIPLE_CHOICES
        if not _is_api_answer(payload, success):
            if success:  # 502 makes python-telegram-bot treat it as a network error
                return HTTPStatus.BAD_GATEWAY, _status_only(code, ", not a Bot API answer")
            return code, _status_only(code, ", not a Bot API answer")
        if code >= HTTPStatus.INTERNAL_SERVER_ERROR:
            return code, _status_only(code)
        return code, payload


def _status(request: BotApiRequest) -> str:
    return f"HTTP {request.last_status}" if request.last_status else "no answer"


def _startup_error(error: Exception, where: str, request: BotApiRequest) -> ConfigError:
    """One line for a failed getMe, by kind and HTTP status (a body may echo the token)."""
    if isinstance(error, InvalidToken):
        not_found = request.last_status == HTTPStatus.NOT_FOUND
        hint = " (or check telegram.base_url)" if not_found else ""
        return ConfigError(f"Telegram rejected TELEGRAM_BOT_TOKEN ({_status(request)} from "
                           f"getMe): copy the token from @BotFather again{hint}")
    if isinstance(error, NetworkError):
        return ConfigError(f"cannot reach the Telegram Bot API at {where}: {error.message}")
    if isinstance(error, TelegramError):
        return ConfigError(f"the Telegram Bot API at {where} refused getMe ({_status(request)})")
    return ConfigError(f"the Telegram Bot API at {where} gave an unexpected answer to getMe "
                       f"({_status(request)}, {error.__class__.__name__})")


def _connect(application: Application, where: str, request: BotApiRequest) -> None:
    """getMe on the loop the application will run on: a rejected token, an unreachable
    server or an unexpected answer becomes one line (ConfigError), never a traceback."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(application.bot.initialize())
    except Exception as error:
        loop.run_until_complete(application.bot.shutdown())
        loop.close()
        raise _startup_error(error, where, request) from None


class _Stop:
    """Stops serving: a signal (no reason), or an answer that retrying cannot fix (the
    reason becomes the one line of exit code 2)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.reason = ""

    def __call__(self, reason: str = "") -> None:
        self.reason = self.reason or reason
        self.event.set()

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake up when stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), seconds)


def _revoked(request: BotApiRequest) -> str:
    return (f"Telegram rejected TELEGRAM_BOT_TOKEN while running ({_status(request)}): it was "
            "revoked or changed; set the current token from @BotFather and start again")


def _failure(error: Exception) -> str:
    if isinstance(error, TelegramError):
        return error.message
    return f"unexpected answer: {error.__class__.__name__}"


def _retry_seconds(error: RetryAfter) -> float:
    wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


async def _poll(application: Application, request: BotApiRequest, liveness: Liveness,
                stop: _Stop) -> None:
    """Long polling into the application's update queue, until cancelled. A rejected token
    (401/404) or a conflict (409: another getUpdates or a webhook) stops the bot: retrying
    cannot help, and a supervisor restarts a process that exits, not one that is deaf."""
    bot = application.bot
    offset: int | None = None
    webhook_deleted = False
    delay = 0.0

    async def confirm() -> None:
        """Tell Telegram the fetched updates are done, or they come again after a restart."""
        if offset is not None and not stop.reason:
            with contextlib.suppress(Exception):
                await bot.get_updates(offset=offset, timeout=0)

    try:
        while not stop.event.is_set():  # not only cancelled: 3.11's wait_for can swallow that
            try:
                if not webhook_deleted:
                    await bot.delete_webhook()  # getUpdates fails while a webhook is set
                    webhook_deleted = True
                    liveness.mark_ok()  # Telegram answers: live before the first long poll ends
                updates = await bot.get_updates(offset=offset, timeout=POLL_TIMEOUT_SECONDS,
                                                allowed_updates=ALLOWED_UPDATES)
            except InvalidToken:
                stop(_revoked(request))
                return
            except Conflict:
                stop(f"another instance receives this bot's updates ({_status(request)} "
                     "Conflict: a second getUpdates or a webhook): stop it and start again")
                return
            except RetryAfter as error:
                delay = _retry_seconds(error)
            except TimedOut:
                delay = 0.0
            except Exception as error:  # an answer that is no use: say so in one line, retry
                application.bot_data["metrics"].error(ErrorKind.POLLING)
                delay = min(POLL_RETRY_MAX_SECONDS, max(1.0, delay * POLL_RETRY_GROWTH))
                logger.warning("getUpdates failed (%s); retrying in %.0f s", _failure(error),
                               delay)
            else:
                delay = 0.0
                liveness.mark_ok()
                for update in updates:
                    await application.update_queue.put(update)
                if updates:
                    offset = updates[-1].update_id + 1
            if delay:
                await stop.sleep(delay)
    except asyncio.CancelledError:
        await confirm()
        raise
    await confirm()


async def _check_webhook(application: Application, request: BotApiRequest, url: str,
                         liveness: Liveness, stop: _Stop) -> None:
    """getWebhookInfo: still our URL, and Telegram not failing to reach it with updates
    waiting. Liveness does not depend on users writing to the bot."""
    try:
        info = await application.bot.get_webhook_info()
    except InvalidToken:
        stop(_revoked(request))
        return
    except Exception as error:
        logger.warning("getWebhookInfo failed (%s)", _failure(error))
        return
    if info.url != url:
        stop(f"the webhook is no longer {url} (another instance set {info.url or 'none'}): "
             "stop the other instance and start again")
        return
    failing = info.last_error_date is not None and (
        datetime.now(UTC) - info.last_error_date).total_seconds() < 2 * WEBHOOK_CHECK_SECONDS
    if failing and info.pending_update_count:
        logger.warning("Telegram cannot deliver to the webhook (%s); %d updates waiting",
                       info.last_error_message, info.pending_update_count)
        return
    liveness.mark_ok()


async def _receive_webhooks(application: Application, request: BotApiRequest,
                            server: WebhookServer, telegram: TelegramSettings,
                            liveness: Liveness, stop: _Stop) -> None:
    """Serve the (already bound) webhook, then tell Telegram its URL; check it periodically."""
    server.start()
    try:
        try:
            await application.bot.set_webhook(
                telegram.webhook_url, secret_token=telegram.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
        except InvalidToken:
            stop(_revoked(request))
            return
        except TelegramError as error:
            stop(f"Telegram refused setWebhook for {telegram.webhook_url}: {error.message}")
            return
        while not stop.event.is_set():
            await _check_webhook(application, request, telegram.webhook_url, liveness, stop)
            await stop.sleep(WEBHOOK_CHECK_SECONDS)
    finally:
        await server.stop()


async def _serve(application: Application,
                 receive: Callable[[_Stop], Coroutine[Any, Any, None]]) -> str:
    """Run the application, fed by ``receive``, until a stop signal or a fatal answer.
    Returns the reason to exit with 2, or '' after a signal."""
    stop = _Stop()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop)
    faq: FaqBot = application.bot_data["faq"]
    # SIGHUP (`faqbot reload`): re-read the content in a thread; the outcome is logged.
    # The pid file that `faqbot reload` reads exists only while this handler is set.
    loop.add_signal_handler(signal.SIGHUP, loop.run_in_executor, None, admin.reload, faq,
                            "SIGHUP")
    try:
        async with contextlib.AsyncExitStack() as stack:
            stack.enter_context(pidfile.written(faq.settings.cache_dir))
            await stack.enter_async_context(application)  # initialize ... shutdown
            if application.post_init:
                await application.post_init(application)
            await application.start()
            receiving = asyncio.create_task(receive(stop))
            stopping = asyncio.create_task(stop.event.wait())
            try:
                await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (receiving, stopping):
                    task.cancel()
                await asyncio.gather(receiving, stopping, return_exceptions=True)
                await application.stop()
                if application.post_stop:
                    await application.post_stop(application)
            if not receiving.cancelled() and receiving.exception() is not None:
                logger.error("receiving updates failed", exc_info=receiving.exception())
                stop("receiving updates failed unexpectedly (see the log above)")
            elif not stop.event.is_set():
                stop("receiving updates stopped unexpectedly")
    finally:
        for sig in (*STOP_SIGNALS, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    return stop.reason


def run_telegram(settings: Settings, faq: FaqBot, liveness: Liveness | None = None) -> None:
    """Serve Telegram until stopped (Ctrl-C, SIGTERM): long polling, or a webhook server.

    Raises ConfigError (one line, never the token in any form) when the webhook settings are
    incomplete, its port cannot be taken, Telegram rejects the token (at start or later),
    the Bot API cannot be reached or answers nonsense at start, or another instance takes
    the updates. ``liveness`` records every successful poll or webhook delivery.
    """
    telegram = settings.telegram
    for name in ("httpx", "httpcore"):  # their log lines carry request URLs, i.e. the token
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("tornado.access").setLevel(logging.WARNING)  # not a line per update
    redact = RedactSecrets(telegram.token, telegram.webhook_secret)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    use_format(settings.log_format, redact.redact)
    try:
        _run(settings, faq, liveness or Liveness())
    except ConfigError as error:
        raise ConfigError(redact.redact(str(error))) from None


def _run(settings: Settings, faq: FaqBot, liveness: Liveness) -> None:
    telegram = settings.telegram
    if telegram.mode == "webhook":
        if not telegram.webhook_url:
            raise ConfigError("telegram.webhook_url must be set for webhook mode "
                              "(the public HTTPS URL Telegram posts updates to)")
        if not _WEBHOOK_SECRET.match(telegram.webhook_secret):
            raise ConfigError("webhook mode needs TELEGRAM_WEBHOOK_SECRET: 1-256 characters "
                              "of A-Z, a-z, 0-9, _ and -")
    api = BotApiRequest(connection_pool_size=API_CONNECTIONS)
    updates_api = BotApiRequest(connection_pool_size=1)
    metrics = Metrics()
    if faq.store is not None:  # the store calls made while serving are timed
        faq.store = cast(Store, TimedStore(unwrapped(faq.store), metrics))
    readiness = Readiness([content_check(faq), store_check(faq)])
    application = build_application(settings, faq, request=api, updates_request=updates_api,
                                    metrics=metrics)

    async def deliver(data: dict[str, Any]) -> None:
        await application.update_queue.put(Update.de_json(data, application.bot))

    receiving: Callable[[_Stop], Coroutine[Any, Any, None]]
    health: HealthServer | None = None
    if telegram.mode == "webhook":
        server = WebhookServer(telegram.webhook_path, telegram.webhook_secret, deliver, liveness,
                               readiness=readiness, metrics=metrics)
        server.bind(telegram.webhook_listen, telegram.webhook_port)  # before setWebhook
        try:
            _connect(application, telegram.base_url or "https://api.telegram.org", api)
        except ConfigError:
            server.close()
            raise

        def receiving(stop: _Stop) -> Coroutine[Any, Any, None]:
            return _receive_webhooks(application, api, server, telegram, liveness, stop)
    else:
        if telegram.health_port:
            health = HealthServer(liveness, readiness, metrics)
            health.bind(telegram.health_listen, telegram.health_port)  # a busy port: one line
        try:
            _connect(application, telegram.base_url or "https://api.telegram.org", api)
        except ConfigError:
            if health is not None:
                health.close()
            raise

        def receiving(stop: _Stop) -> Coroutine[Any, Any, None]:
            return _poll(application, updates_api, liveness, stop)

    async def receive(stop: _Stop) -> None:
        """Receive updates, ready while doing so; the health server (polling) runs as long."""
        if health is not None:
            health.start()
        readiness.state = ReadyState.SERVING
        line, fields = event_line("bot started", mode=telegram.mode)
        logger.info("%s", line, extra=fields)
        try:
            await receiving(stop)
        finally:
            readiness.state = ReadyState.STOPPING
            if health is not None:
                await health.stop()

    loop = asyncio.get_event_loop()
    try:
        reason = loop.run_until_complete(_serve(application, receive))
    finally:
        loop.close()
    # a signal, or the one line the bot exits with (quoted: it is one field)
    line, fields = event_line("bot stopped",
                              reason=json.dumps(reason, ensure_ascii=False) if reason else "signal")
    logger.info("%s", line, extra=fields)
    if reason:
        raise ConfigError(reason)
