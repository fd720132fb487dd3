"""Telegram adapter (python-telegram-bot 22): puts the core's replies into Telegram.

The core (``bot.replies.FaqBot``) decides what to say; this module only sends it:
HTML replies split at Telegram's length limit, buttons as inline keyboards whose
``callback_data`` is the core's action (no server-side session), deep links,
inline mode, group etiquette, the command menu, flood limits and one error handler.
``build_application`` does all the wiring; ``run_telegram`` runs it (polling or webhook).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable
from typing import Any

from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType, MessageLimit, ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.config import ConfigError, Settings
from bot.replies import COMMANDS, FaqBot, Reply

logger = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.INLINE_QUERY]
MAX_CONCURRENT_UPDATES = 64
RATE_LIMIT_RETRIES = 3  # on a 429 (flood wait): wait as told, then retry
INLINE_CACHE_SECONDS = 300
CALLBACK_DATA_BYTES = 64
FEEDBACK = re.compile(r"^fb:(good|bad):(.+)$")
_DEEP_LINK_MEASURE = re.compile(r"^(s\d+)[_-](m\d+)$")  # s2_m2: Telegram allows no '.' there
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


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """The reply's buttons as an inline keyboard; ``callback_data`` is the core's action."""
    rows = []
    for row in reply.buttons:
        buttons = []
        for button in row:
            if len(button.action.encode()) > CALLBACK_DATA_BYTES:
                logger.warning("button %r dropped: callback data over 64 bytes", button.label)
                continue
            buttons.append(InlineKeyboardButton(button.label, callback_data=button.action))
        if buttons:
            rows.append(buttons)
    return InlineKeyboardMarkup(rows) if rows else None


def _faq(context: ContextTypes.DEFAULT_TYPE) -> FaqBot:
    return context.bot_data["faq"]


async def _send(update: Update, reply: Reply, quote: bool | None = None) -> None:
    """Send a reply as one or more messages; the buttons go under the last one."""
    message = update.effective_message
    if message is None:
        return
    parts = split_html(reply.html())
    markup = keyboard(reply)
    if quote is None:  # Telegram's custom: quote in groups, not in private chats
        quote = message.chat.type != ChatType.PRIVATE
    for number, part in enumerate(parts):
        quoted = ReplyParameters(message.message_id, allow_sending_without_reply=True)
        await message.reply_html(
            part, reply_markup=markup if number == len(parts) - 1 else None,
            reply_parameters=quoted if quote and number == 0 else None, do_quote=False,
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


def _question_text(message: Message) -> str:
    """The message text without the bot's @mention."""
    text = message.text or ""
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
        mentions = message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
        return any(
            text.lower() == mention or (entity.user is not None and entity.user.id == bot.id)
            for entity, text in mentions.items()
        )


ADDRESSED_TO_BOT = _AddressedToBot(name="addressed_to_bot")


# --- handlers ---------------------------------------------------------------------------


async def start_link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Deep link t.me/<bot>?start=s2 (a section) or ?start=s2_m2 / s2.m2 (a measure)."""
    payload = (context.args or [""])[0]
    measure = _DEEP_LINK_MEASURE.match(payload)
    if measure:
        payload = f"{measure.group(1)}.{measure.group(2)}"
    await _send(update, _faq(context).start(payload))


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start: what the bot knows and how to ask, with 📑 目录 · 💬 口号 · ❓ 示例问题."""
    await _send(update, _faq(context).start())


async def command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/help, /sections, /section N, /summary, /slogans, /slogan 词: the core's reply."""
    text = update.effective_message.text if update.effective_message else ""
    name = (text or "/").split(maxsplit=1)[0][1:].split("@", 1)[0].lower()
    await _send(update, _faq(context).command(name, " ".join(context.args or ())))


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command the bot does not know (private chats only: in groups it may be another bot's)."""
    message = update.effective_message
    await _send(update, _faq(context).handle((message.text or "") if message else ""))


async def question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A free-text question; the answer quotes it (so 👍/👎 know what was asked)."""
    message = update.effective_message
    if message is None:
        return
    await _send(update, _faq(context).ask(_question_text(message)), quote=True)


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button press: answer it, then edit the message in place to show what it names."""
    query = update.callback_query
    if query is None:
        return
    await query.answer()
    await _edit(query, context, _faq(context).action(query.data or ""))


async def feedback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """👍/👎 under an answer: a thank-you toast, the message unchanged, recorded if possible."""
    query = update.callback_query
    if query is None or context.match is None:
        return
    faq = _faq(context)
    await query.answer(faq.settings.text("feedback_thanks"))
    asked = query.message.reply_to_message if isinstance(query.message, Message) else None
    faq.feedback(
        context.match.group(2), good=context.match.group(1) == "good",
        question=_question_text(asked) if asked is not None else "",
    )


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """@<bot> 关键词 in any chat: matching passages to pick; the message shows its source."""
    query = update.inline_query
    if query is None:
        return
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
        for item in _faq(context).inline(query.query)
    ]
    await query.answer(results, cache_time=INLINE_CACHE_SECONDS)


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log an error with the update that caused it, and apologise to the user: a bot that
    failed says so instead of going silent."""
    logger.error("error while handling %s", _describe(update), exc_info=context.error)
    if isinstance(update, Update):
        await _apologise(update, context)


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
        what = f"inline query {update.inline_query.query!r}"
    else:
        message = update.effective_message
        what = f"message {(message.text or '')[:80]!r}" if message else "update"
    return (f"update {update.update_id} ({what}, chat {chat.id if chat else '-'}, "
            f"user {user.id if user else '-'})")


# --- wiring --------------------------------------------------------------------------------


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """Updates of different chats run concurrently; within a chat, one at a time, in order.

    ``Application`` starts one task per update in arrival order, and the base class's
    semaphore is first come, first served, so each update joins its chat's queue in order.
    """

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES):
        super().__init__(max_concurrent_updates)
        self._last: dict[int, asyncio.Event] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        previous = self._last.get(chat.id)
        done = self._last[chat.id] = asyncio.Event()
        try:
            if previous is not None:
                await previous.wait()
            await coroutine
        finally:
            done.set()
            if self._last.get(chat.id) is done:
                del self._last[chat.id]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


async def register_commands(application: Application) -> None:
    """Register the command menu (Chinese descriptions); without it the bot still works."""
    try:
        await application.bot.set_my_commands([BotCommand(n, about) for n, about in COMMANDS])
    except TelegramError as error:
        logger.warning("could not register the command menu: %s", error)
    logger.info("Telegram bot @%s is running", application.bot.username)


def build_application(
    settings: Settings, faq: FaqBot, *, request: BaseRequest | None = None
) -> Application:
    """The Application with every handler, in order (the deep-link /start before the plain
    one). ``request`` replaces the HTTP client (tests pass one that never touches the network).
    """
    telegram = settings.telegram
    builder = (
        Application.builder()
        .token(telegram.token)
        .concurrent_updates(ChatOrderedUpdateProcessor())
        .post_init(register_commands)
    )
    if telegram.base_url:
        builder = builder.base_url(telegram.base_url)
        if telegram.base_url.endswith("/bot"):
            builder = builder.base_file_url(telegram.base_url[: -len("bot")] + "file/bot")
    if telegram.rate_limit:
        limiter = AIORateLimiter(max_retries=RATE_LIMIT_RETRIES)
        builder = builder.rate_limiter(limiter)  # type: ignore[arg-type]  # PTB's generics
    if request is not None:
        builder = builder.request(request)
    application = builder.build()
    application.bot_data["faq"] = faq

    new = filters.UpdateType.MESSAGE  # not edits: an edited question is not asked again
    others = [name for name, _ in COMMANDS if name != "start"]
    application.add_handler(CommandHandler("start", start_link, filters=new, has_args=True))
    application.add_handler(CommandHandler("start", start, filters=new))
    application.add_handler(CommandHandler(others, command, filters=new))
    application.add_handler(
        MessageHandler(new & filters.COMMAND & filters.ChatType.PRIVATE, unknown_command)
    )
    application.add_handler(
        MessageHandler(new & filters.TEXT & ~filters.COMMAND & ADDRESSED_TO_BOT, question)
    )
    application.add_handler(CallbackQueryHandler(feedback, pattern=FEEDBACK))
    application.add_handler(CallbackQueryHandler(button))
    application.add_handler(InlineQueryHandler(inline_query))
    application.add_error_handler(error_handler)
    return application


class RedactSecrets(logging.Filter):
    """Replaces the token (and webhook secret) in log records: python-telegram-bot puts the
    token in some exception messages, e.g. when Telegram rejects it."""

    def __init__(self, *secrets: str):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken log call: the handler reports it
            return True
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for secret in self.secrets:
            message = message.replace(secret, "<redacted>")
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, "<redacted>")
        record.msg, record.args = message, None
        return True


def _connect(application: Application, where: str) -> None:
    """getMe on the loop the application will run on: a rejected token or an unreachable
    server becomes one line (ConfigError) instead of a logged traceback."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(application.bot.initialize())
    except (InvalidToken, NetworkError) as error:
        loop.run_until_complete(application.bot.shutdown())
        loop.close()
        if isinstance(error, InvalidToken):  # its message contains the token
            raise ConfigError("Telegram rejected TELEGRAM_BOT_TOKEN: copy the token from "
                              "@BotFather again") from None
        raise ConfigError(f"cannot reach the Telegram Bot API at {where}: {error}") from None


def run_telegram(settings: Settings, faq: FaqBot) -> None:
    """Serve Telegram until stopped (Ctrl-C, SIGTERM): long polling, or a webhook server.

    Raises ConfigError (one line, never the token) when the webhook settings are incomplete,
    Telegram rejects the token or the Bot API cannot be reached at start.
    """
    telegram = settings.telegram
    for name in ("httpx", "httpcore"):  # their log lines carry request URLs, i.e. the token
        logging.getLogger(name).setLevel(logging.WARNING)
    redact = RedactSecrets(telegram.token, telegram.webhook_secret)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    if telegram.mode == "webhook":
        if not telegram.webhook_url:
            raise ConfigError("telegram.webhook_url must be set for webhook mode "
                              "(the public HTTPS URL Telegram posts updates to)")
        if not _WEBHOOK_SECRET.match(telegram.webhook_secret):
            raise ConfigError("webhook mode needs TELEGRAM_WEBHOOK_SECRET: 1-256 characters "
                              "of A-Z, a-z, 0-9, _ and -")
    application = build_application(settings, faq)
    _connect(application, telegram.base_url or "https://api.telegram.org")
    if telegram.mode == "webhook":
        application.run_webhook(
            listen=telegram.webhook_listen,
            port=telegram.webhook_port,
            url_path=telegram.webhook_path,
            webhook_url=telegram.webhook_url,
            secret_token=telegram.webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
        )
    else:
        application.run_polling(allowed_updates=ALLOWED_UPDATES)
