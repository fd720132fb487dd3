"""What to answer: channel-neutral replies (text blocks + buttons).

Every channel calls the same FaqBot: ``handle(text)`` for what a user types,
``action(data)`` for a button press, ``inline(query)`` for inline mode. A reply
renders itself as plain text (console) or Telegram HTML; adapters only send.

Button actions (also Telegram ``callback_data``, always well under 64 bytes):
``toc``, ``sec:<section id>``, ``p:<passage id>``, ``slogans``, ``examples``,
``fb:good:<passage id>`` and ``fb:bad:<passage id>``. ``action`` answers None for
anything else (unknown, malformed, or naming a passage the content no longer has).
With several reports (bot.reports) each action names its report too.
"""

from __future__ import annotations

import html
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import partial, wraps
from typing import Any, TypeVar

from rapidfuzz import fuzz

from bot import followups, smalltalk
from bot.config import Settings
from bot.content import (
    INTRO_ID,
    Kind,
    Passage,
    Problem,
    Report,
    Section,
    numeral,
    parse_number,
)
from bot.followups import Asked, FollowUp
from bot.script import Script, convert, detect
from bot.search import (
    Band,
    Hit,
    Index,
    Library,
    LostMeasure,
    NotInReport,
    SearchResult,
    SloganList,
    TableOfContents,
)
from bot.smalltalk import SmallTalk
from bot.store import ContextMemory, Store, StoreError, open_store
from bot.textnorm import compact, normalize, to_simplified

TOC_TITLE = "报告目录"
SLOGAN_LIST_TITLE = "报告中的口号和提法"
WHOLE_REPORT = "全文"  # where the table of contents and the slogan list come from
DOCUMENT_TITLE = "标题：《{title}》"  # the document's own title and number, with its author
DOCUMENT_NUMBER = "文号：{number}"
COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "开始使用"),
    ("help", "使用帮助"),
    ("sections", TOC_TITLE),
    ("section", "查看某一部分，如 /section 2"),
    ("summary", "报告摘要"),
    ("slogans", SLOGAN_LIST_TITLE),
    ("slogan", "查找口号，如 /slogan 忠诚"),
    ("lang", "回复用繁体或简体，如 /lang 繁"),
)
# Only admins (settings.admins) see and may use these (bot.admin says what they answer).
ADMIN_COMMANDS: tuple[tuple[str, str], ...] = (
    ("stats", "使用统计（管理员）"),
    ("review", "未答问题和差评回答（管理员）"),
    ("reload", "重新加载报告内容（管理员）"),
)
FUZZY_TITLE = 60  # partial_ratio a title needs when no passage contains the typed words
PLAIN_MARK = ("【", "】")  # the answering sentence in plain text (bold in Telegram)
DECLINE_SUGGESTIONS = 3  # a decline offers this many passages at most: one screen
SUGGESTED_TOPIC_CHARS = 12  # a decline's suggested question names a title this short
SUGGESTED_QUESTION_CHARS = (6, 20)  # an alternate question offered instead: a whole one, short
RUNNER_UP_LABEL_CHARS = 24  # a button label a phone shows on one line
CONSOLE_USER = "console"  # who rates in the console chat: one local user
TOC_BUTTON = ("📑 目录", "toc")
SLOGANS_BUTTON = ("💬 口号", "slogans")
EXAMPLES_BUTTON = ("❓ 示例问题", "examples")
GOOD_LABEL, BAD_LABEL = "👍 有用", "👎 没用"
VOTED_GOOD_LABEL, VOTED_BAD_LABEL = "✅ 有用", "✅ 没用"  # the vote a message has received
NAV_TITLE_CHARS = 6  # ◀ 一是立足对… : three buttons on one row still fit a phone's width
ONE_ROW_CHARS = 16  # related buttons longer than this together go one per row (phones cut them)
INLINE_PAGE = 10  # inline results per page (Telegram allows 50; ten fit a phone's list)
SHARE_QUERY_CHARS = 64  # the share button's inline query: a title, clipped
SMALL_TALK_EXAMPLES = 3  # example questions under a small-talk reply: one screen
EXAMPLE_LABEL_CHARS = 20  # an example question's button label on a phone
SECONDS_PER_MINUTE = 60
SCRIPT_CHATS = 100_000  # chats whose script is remembered in memory (oldest forgotten)
# /lang arguments -> the reply script they fix (or auto: the question's)
LANG_ARGUMENTS = {
    "繁": "traditional", "繁体": "traditional", "繁體": "traditional", "正體": "traditional",
    "traditional": "traditional", "tw": "traditional", "hk": "traditional",
    "简": "simplified", "简体": "simplified", "簡": "simplified", "簡體": "simplified",
    "simplified": "simplified", "cn": "simplified",
    "auto": "auto", "自动": "auto", "自動": "auto",
}
SCRIPT_NAMES = {"traditional": "繁体字", "simplified": "简体字", "auto": "与提问相同的字体"}
# /start payloads allow only A-Z a-z 0-9 _ -: a measure s3.m1 is linked as s3_m1 (or s3-m1)
_DEEP_LINK_MEASURE = re.compile(r"(s[0-9]+)[_-](m[0-9]+)")
# Passages ◀ ▶ step through, in the report's order (slogans are quotes from these).
_READING_KINDS = frozenset(
    {Kind.INTRO, Kind.SECTION, Kind.MEASURE, Kind.PART, Kind.CLOSING, Kind.AUTHOR}
)
_RATED_KINDS = _READING_KINDS | {Kind.SLOGAN}  # answers from a passage get 👍 👎


_Kept = TypeVar("_Kept")


@dataclass(frozen=True)
class Button:
    label: str
    action: str


@dataclass(frozen=True)
class Block:
    """A piece of a reply: heading (bold), text, source (where it comes from), note, item.

    ``mark`` is a (start, end) span of ``text`` to stress: the sentence that answers, bold
    in Telegram and in 【】 in plain text.
    """

    kind: str
    text: str
    mark: tuple[int, int] | None = None

    def pieces(self) -> tuple[str, str, str]:
        """The text before the mark, the mark, and after it (all text when unmarked)."""
        if self.mark is None:
            return self.text, "", ""
        start, end = self.mark
        return self.text[:start], self.text[start:end], self.text[end:]


@dataclass(frozen=True)
class Reply:
    blocks: tuple[Block, ...]
    buttons: tuple[tuple[Button, ...], ...] = ()
    answered: bool = True
    result: SearchResult | None = field(default=None, compare=False)
    passage_id: str = ""  # the passage shown, for feedback
    small_talk: SmallTalk | None = None  # the small talk this reply answers
    report: str = ""  # the id of the report shown, when the bot serves several

    def plain(self) -> str:
        """Plain text for the console (a marked sentence in 【】)."""
        lines = []
        for block in self.blocks:
            before, marked, after = block.pieces()
            text = f"{before}{PLAIN_MARK[0]}{marked}{PLAIN_MARK[1]}{after}" if marked else before
            if block.kind == "source":
                lines.append(f"—— {text}")
            elif block.kind == "item":
                lines.append(f"  • {text}")
            else:
                lines.append(text)
        return "\n".join(lines)

    def html(self) -> str:
        """Telegram HTML: every piece of text escaped, headings and a marked sentence bold,
        sources italic."""
        lines = []
        for block in self.blocks:
            before, marked, after = (html.escape(piece, quote=False) for piece in block.pieces())
            text = f"{before}<b>{marked}</b>{after}" if marked else before
            if block.kind == "heading":
                lines.append(f"<b>{text}</b>")
            elif block.kind in ("source", "note"):
                lines.append(f"<i>{text}</i>")
            elif block.kind == "item":
                lines.append(f"• {text}")
            else:
                lines.append(text)
        return "\n".join(lines)


@dataclass(frozen=True)
class InlineItem:
    id: str
    title: str
    description: str
    reply: Reply


def _row(*pairs: tuple[str, str]) -> tuple[Button, ...]:
    return tuple(Button(label, action) for label, action in pairs)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Loaded:
    """What FaqBot serves, swapped as one reference by ``FaqBot.reload``."""

    index: Index
    reading_order: tuple[Passage, ...]  # the passages ◀ ▶ step through

    @classmethod
    def of(cls, index: Index) -> Loaded:
        return cls(index, tuple(p for p in index.report.passages if p.kind in _READING_KINDS))


# The content one call into FaqBot started with: a reload while it runs does not change
# it midway (a passage id found in the old index is looked up in the old index).
_PINNED: ContextVar[tuple[FaqBot, Loaded] | None] = ContextVar("faqbot_pinned", default=None)
_Method = TypeVar("_Method", bound=Callable[..., Any])


def _on_one_content(method: _Method) -> _Method:
    """``method`` sees one content throughout, the one current when it was called."""

    @wraps(method)
    def pinned(self: FaqBot, *args: Any, **kwargs: Any) -> Any:
        outer = _PINNED.get()
        if outer is not None and outer[0] is self:
            return method(self, *args, **kwargs)
        token = _PINNED.set((self, self._loaded))
        try:
            return method(self, *args, **kwargs)
        finally:
            _PINNED.reset(token)

    return pinned  # type: ignore[return-value]


def _fitted_rows(buttons: list[Button]) -> list[tuple[Button, ...]]:
    """Buttons on one row when their labels fit a phone's width, else one per row."""
    if sum(len(b.label) for b in buttons) <= ONE_ROW_CHARS:
        return [tuple(buttons)]
    return [(b,) for b in buttons]


class FaqBot:
    """The channel-neutral bot: questions, commands and button actions -> replies."""

    def __init__(self, settings: Settings, index: Index, store: Store | None = None, *,
                 report_id: str = "", name_report: bool = False):
        self.settings = settings
        self._loaded = Loaded.of(index)  # replaced whole by reload(): one assignment
        self._reloading = threading.Lock()  # one reload at a time
        self.report_id = report_id or index.report.id  # its file's stem (bot.content)
        self.name_report = name_report  # sources name the report: one of several
        self.store = store  # where unanswered questions and ratings go; None: not recorded
        # the last passage answered per conversation: in the store, so that every process
        # of the bot reads it; without one, in memory
        self.contexts: Store | ContextMemory = store if store is not None else ContextMemory()
        # per conversation: the script /lang fixed, and the one its last question was in
        self._fixed_scripts: OrderedDict[str, str] = OrderedDict()
        self._seen_scripts: OrderedDict[str, Script] = OrderedDict()

    @property
    def _current(self) -> Loaded:
        pinned = _PINNED.get()
        return pinned[1] if pinned is not None and pinned[0] is self else self._loaded

    @property
    def index(self) -> Index:
        """The index served (within one call: the one current when the call began)."""
        return self._current.index

    @index.setter
    def index(self, index: Index) -> None:
        self._loaded = Loaded.of(index)

    @property
    def report(self) -> Report:
        return self._current.index.report

    @property
    def reading_order(self) -> tuple[Passage, ...]:
        return self._current.reading_order

    @staticmethod
    def load_library(settings: Settings) -> Library:
        """The indexes of ``settings.content`` (one report or a folder of several): read,
        validated (ContentError with FILE:LINE problems), built or read back from the cache."""
        return Library.load(
            settings.content, settings.cache_dir,
            answer_threshold=settings.match.answer_threshold,
            suggest_threshold=settings.match.suggest_threshold,
            probable_threshold=settings.match.probable_threshold,
        )

    def reload(self) -> Report:
        """Re-read and validate ``settings.content`` as at start, then serve it: one
        assignment, so a question being answered finishes on the old content. On any error
        (ContentError, OSError...) the old content stays served and the error is raised.
        The same reports must stay: a folder that now holds others needs a restart."""
        with self._reloading:
            index = self._reloaded_index(self.load_library(self.settings))
            self._loaded = Loaded.of(index)
        return index.report

    def _reloaded_index(self, library: Library) -> Index:
        if len(library) != 1 or self.report_id not in library.indexes:
            raise ValueError(
                f"the content now holds {len(library)} report(s), not this bot's one "
                f"({self.report_id}): restart the bot to serve another set of reports")
        return library.indexes[self.report_id]

    @classmethod
    def from_settings(cls, settings: Settings, record: bool = False) -> FaqBot:
        """The bot for these settings; ``record`` keeps the use log and feedback in the
        store the settings name (bot.store.open_store)."""
        library = cls.load_library(settings)
        store = None
        if record:
            store = open_store(settings)
            store.purge()  # retention applies from the start, not only from the first record
        if len(library) > 1:
            from bot.reports import ReportsBot  # it builds on this class

            return ReportsBot(settings, library, store)
        (key, index), = library
        return cls(settings, index, store, report_id=key)

    def close(self) -> None:
        """Write what the use log still has queued (a bounded wait)."""
        if self.store is not None:
            self.store.close()

    @_on_one_content
    def feedback(self, passage_id: str, good: bool, question: str = "",
                 user: str = CONSOLE_USER) -> Reply:
        """A 👍/👎 on an answer; a user's later vote on the same passage replaces the earlier."""
        if self.store is not None and self.index.passage(passage_id) is not None:
            self.store.record_rating(user, passage_id, good, question)
        return self._note(self.settings.text("feedback_thanks"))

    # --- entry points ---------------------------------------------------------

    @_on_one_content
    def handle(self, text: str, chat_key: str = "") -> Reply:
        """Whatever a user typed: a /command or a question. ``chat_key`` names the
        conversation (a chat, a user in a group): follow-ups and /lang are kept per key."""
        text = text.strip()
        if text.startswith("/"):
            name, _, argument = text[1:].partition(" ")
            return self.command(name.split("@", 1)[0].lower(), argument.strip(), chat_key)
        return self.ask(text, chat_key)

    @_on_one_content
    def command(self, name: str, argument: str = "", chat_key: str = "") -> Reply:
        """A /command (its name without the slash), in the conversation's script."""
        if name == "lang":
            return self.lang(argument, chat_key)
        return self._scripted(self._command(name, argument), argument, chat_key)

    def _command(self, name: str, argument: str) -> Reply:
        handlers = {
            "start": self.start,
            "help": lambda _: self.help(),
            "sections": lambda _: self.sections(),
            "section": self.section_command,
            "summary": lambda _: self.summary(),
            "slogans": lambda _: self.slogans(),
            "slogan": self.slogan,
        }
        handler = handlers.get(name)
        if handler is None:
            return self._note(self.settings.text("unknown_command", command="/" + name))
        return handler(argument)

    @_on_one_content
    def action(self, data: str, chat_key: str = "") -> Reply | None:
        """A button press; None when the data names no action: unknown, malformed, or
        stale (a passage the content no longer has). A passage shown becomes the
        conversation's context; the reply is in the conversation's script."""
        reply = self._action(data)
        if reply is None:
            return None
        self._remember(reply, chat_key)
        return self._scripted(reply, "", chat_key)

    def _action(self, data: str) -> Reply | None:
        kind, _, value = data.partition(":")
        if data in ("toc", "slogans", "examples"):
            return {"toc": self.sections, "slogans": self.slogans,
                    "examples": self.examples}[data]()
        if kind == "sec":
            section = next((s for s in self.report.sections if s.id == value), None)
            return self.section(section) if section is not None else None
        if kind == "p":
            return self.show(value) if self._showable(value) else None
        if kind == "fb":
            verdict, _, passage_id = value.partition(":")
            if verdict in ("good", "bad") and self.index.passage(passage_id) is not None:
                return self.feedback(passage_id, verdict == "good")
        return None

    @_on_one_content
    def stale_button(self) -> Reply:
        """What a button press that names no action gets (the console's reply; Telegram
        shows the same text as a toast and leaves the message alone)."""
        return self._note(self.settings.text("stale_button"))

    def feedback_row(self, passage_id: str, vote: bool | None = None) -> tuple[Button, ...]:
        """👍 👎 under an answer; after a vote (``vote``: True for 👍) the chosen one is ✅."""
        good = VOTED_GOOD_LABEL if vote is True else GOOD_LABEL
        bad = VOTED_BAD_LABEL if vote is False else BAD_LABEL
        return _row((good, f"fb:good:{passage_id}"), (bad, f"fb:bad:{passage_id}"))

    @_on_one_content
    def ask(self, question: str, chat_key: str = "") -> Reply:
        """A free-text message: small talk, a follow-up on the conversation's last answer,
        or a question (the best passage, or a decline with suggestions); in the script
        the conversation asks in."""
        return self._scripted(self._answer(question, chat_key), question, chat_key)

    def _answer(self, question: str, chat_key: str) -> Reply:
        if not question.strip():
            return self._note(self.settings.text("empty"))
        simplified = to_simplified(question)  # the phrases are written in simplified script
        talk = smalltalk.recognise(simplified, self.report_words)
        if talk is not None and talk.kind is not None:
            return self.small_talk(talk.kind)
        follow_up = followups.recognise(simplified)
        if follow_up is not None:
            try:
                context = self.contexts.recall_context(
                    chat_key, self.settings.context_minutes * SECONDS_PER_MINUTE)
            except StoreError:  # a store that is down: the follow-up has no context
                context = None
            reply = self._follow_up(follow_up, context) if context else None
            if reply is not None:
                self._remember(reply, chat_key)
                return reply
            if context is None and follow_up.asked != Asked.OTHER_SECTION:
                return self._no_context()  # 下一点呢 after nothing: say so, never guess
        reply = self._search_for(talk.question if talk is not None else question, chat_key)
        self._remember(reply, chat_key)
        return reply

    def _search_for(self, question: str, chat_key: str) -> Reply:
        """A question in a conversation (several reports read the chat's default report)."""
        return self.search(question)

    @_on_one_content
    def search(self, question: str) -> Reply:
        """A question alone (no small talk, no context): the best passage, or a decline."""
        result = self.index.search(question, k=1 + self.settings.match.related)
        self._record(question, result, "")
        return self.result_reply(result)

    def _record(self, question: str, result: SearchResult, report: str) -> None:
        """Keep a declined or unsure question for review (its best passage as
        ``<report>/<passage>`` when ``report`` is given)."""
        best_score = result.hits[0].score if result.hits else 0
        if self.store is not None:  # every question, with its outcome
            best_id = result.hits[0].id if result.hits else ""
            if report and best_id:
                best_id = f"{report}/{best_id}"
            self.store.record_question(question, result.band, best_id=best_id, score=best_score)

    def result_reply(self, result: SearchResult) -> Reply:
        """The reply to a search of this report: the best passage, or a decline."""
        if not result.answered:
            if isinstance(result.intent, NotInReport):
                return self._absent(result.intent)
            return self._decline(result)
        best = result.hits[0]
        match result.intent:
            case SloganList():
                reply = self.slogans()
            case TableOfContents():
                reply = self.sections()
            case LostMeasure() as lost:
                reply = self._missing(lost)
            case _:
                reply = self._focused(self.show(best.id), result)
        blocks = list(reply.blocks)
        if result.band == Band.PROBABLE:
            blocks.insert(0, Block("note", self.settings.text("probable")))
        if result.corrections:
            fixed = "、".join(f"“{typed}”理解为“{meant}”" for typed, meant in result.corrections)
            blocks.insert(0, Block("note", f"（已将{fixed}）"))
        match = self.settings.match
        related = [
            h for h in result.hits[1:] if h.score >= match.related_threshold and h.id != best.id
        ][: match.related]
        buttons = list(reply.buttons)
        if result.band == Band.PROBABLE:
            related = []  # a hedged answer offers its runner-up instead: one choice, not four
            runner_up = self._runner_up(result)
            if runner_up is not None:
                label = self.settings.text("probable_runner_up", title=runner_up.title)
                buttons.insert(0, _row((_clip(label, RUNNER_UP_LABEL_CHARS), f"p:{runner_up.id}")))
        if related:
            blocks.append(Block("note", self.settings.text("related")))
            blocks.extend(Block("item", f"{h.title}（{h.path}）") for h in related)
            buttons[:0] = _fitted_rows([Button(_clip(h.title, 18), f"p:{h.id}") for h in related])
        if best.kind in _RATED_KINDS:
            buttons.append(self.feedback_row(best.id))
        return Reply(tuple(blocks), tuple(buttons), True, result, best.id)

    @_on_one_content
    def inline(self, query: str, limit: int = INLINE_PAGE) -> list[InlineItem]:
        """The first page of passages matching an inline query."""
        return self.inline_page(query, 0, limit)[0]

    @_on_one_content
    def inline_page(self, query: str, offset: int = 0,
                    limit: int = INLINE_PAGE) -> tuple[list[InlineItem], int | None]:
        """Passages matching an inline query from ``offset`` on, and the offset of the next
        page (None: no more). An empty query lists every passage in the report's order."""
        passages = self._inline_passages(query) if query.strip() else list(self.report.passages)
        page = passages[max(0, offset): max(0, offset) + limit]
        items = [InlineItem(
            passage.id, _clip(passage.title, 60), _clip(f"{passage.path}｜{passage.text}", 100),
            self._passage_reply(passage, navigation=False),
        ) for passage in page]
        following = max(0, offset) + limit
        return items, following if following < len(passages) else None

    def has_passage(self, passage_id: str) -> bool:
        """A 👍/👎 names a passage the content has (a stale one is not recorded)."""
        return self.index.passage(passage_id) is not None

    def parts(self) -> list[FaqBot]:
        """The one-report bots this bot answers with: itself (several: bot.reports)."""
        return [self]

    def commands(self) -> tuple[tuple[str, str], ...]:
        """The commands and what they do, for Telegram's command menu."""
        return COMMANDS

    def ranked_hits(self, question: str, k: int) -> tuple[SearchResult, list[dict[str, object]]]:
        """A question's search and its hits as ``faqbot ask --json`` shows them, each with
        its report's id."""
        result = self.index.search(question, k=k)
        return result, [{**self.described(h).as_dict(), "report": self.report_id}
                        for h in result.hits]

    @_on_one_content
    def share_query(self, reply: Reply) -> str:
        """The inline query that finds an answer's passage again (its title), for a share
        button; '' when the reply shows no passage."""
        passage = self.index.passage(reply.passage_id) if reply.passage_id else None
        return _clip(passage.title, SHARE_QUERY_CHARS) if passage is not None else ""

    # --- replies --------------------------------------------------------------

    @_on_one_content
    def start(self, payload: str = "") -> Reply:
        """Welcome, or a deep link (/start s2, /start s2_m2 or s2.m2 for a measure)."""
        payload = _DEEP_LINK_MEASURE.sub(r"\1.\2", payload.strip())
        if payload:
            section = next((s for s in self.report.sections if s.id == payload), None)
            if section is not None:
                return self.section(section)
            if self.index.passage(payload) is not None or self._lost_measure(payload):
                return self.show(payload)
        example = self._example()
        blocks = (
            Block("text", self.settings.text("welcome", report=self.report.name, example=example)),
            Block("note", f"报告共{len(self.report.sections)}个部分，可查看目录、口号或示例问题。"),
        )
        return Reply(blocks, (_row(TOC_BUTTON, SLOGANS_BUTTON, EXAMPLES_BUTTON),))

    @_on_one_content
    def group_start(self, bot_username: str) -> Reply:
        """/start in a group: how to ask there (plain messages in a group are not read)."""
        text = self.settings.text("group_start", bot=bot_username, example=self._example())
        return Reply((Block("text", text),), (_row(TOC_BUTTON, SLOGANS_BUTTON, EXAMPLES_BUTTON),))

    @_on_one_content
    def profile(self, bot_username: str) -> tuple[str, str]:
        """The bot's description (shown in an empty chat before /start) and short
        description (its profile and shared links)."""
        text = self.settings.text
        return (text("description", report=self.report.name, bot=bot_username),
                text("short_description", report=self.report.name))

    @_on_one_content
    def non_text(self) -> Reply:
        """A sticker, photo, voice note... without a question: one line on how to ask."""
        return self._note(self.settings.text("non_text", example=self._example()))

    @_on_one_content
    def help(self) -> Reply:
        blocks = [Block("text", self.settings.text("help"))]
        blocks.extend(Block("item", f"/{name} — {about}") for name, about in COMMANDS)
        blocks.append(Block("note", "也支持繁体字、中文数字和拼音输入法的同音错字。"))
        return Reply(tuple(blocks), (_row(TOC_BUTTON, SLOGANS_BUTTON, EXAMPLES_BUTTON),))

    @_on_one_content
    def sections(self) -> Reply:
        """Table of contents."""
        blocks = [Block("heading", f"📑 {self.report.name}")]
        blocks.extend(Block("item", s.heading) for s in self.report.sections)
        buttons = [_row(("引言", f"p:{INTRO_ID}"))]
        buttons.extend(_row((_clip(s.heading, 24), f"sec:{s.id}")) for s in self.report.sections)
        buttons.append(_row(SLOGANS_BUTTON, EXAMPLES_BUTTON))
        return Reply(tuple(blocks), tuple(buttons))

    @_on_one_content
    def section_command(self, argument: str) -> Reply:
        """/section N; without a valid N, the table of contents."""
        number, typed = _section_number(argument)
        if number is None:
            toc = self.sections()
            if not argument.strip():
                return toc
            count = len(self.report.sections)
            usage = Block("note", f"用法：/section 2（或 /section 二），共{count}个部分。")
            return Reply((usage, *toc.blocks), toc.buttons, False)
        section = self.report.section(number)
        if section is None:
            return self._note(self.settings.text(
                "no_section", number=typed, count=len(self.report.sections)
            ), buttons=(_row(TOC_BUTTON),))
        return self.section(section)

    def section(self, section: Section) -> Reply:
        """Section summary: heading, intro, measure titles, and a note for lost measures."""
        blocks = [Block("heading", section.heading), Block("text", section.text)]
        blocks.extend(Block("item", m.heading) for m in section.measures)
        if section.missing_measures:
            blocks.append(Block("note", self._missing_note(section)))
        blocks.append(self._source_block(section.short_heading))
        buttons = [_row((_clip(m.heading, 24), f"p:{m.id}")) for m in section.measures]
        buttons.append(self._navigation(section.id))
        return Reply(tuple(blocks), tuple(buttons), passage_id=section.id)

    @_on_one_content
    def summary(self) -> Reply:
        """The whole report in brief: intro, then each section with its measures' titles."""
        blocks = [Block("heading", self.report.name), Block("text", self.report.intro)]
        for section in self.report.sections:
            blocks.append(Block("heading", section.heading))
            blocks.extend(Block("item", m.heading) for m in section.measures)
            if section.missing_measures:
                blocks.append(Block("note", self._missing_note(section)))
        blocks.append(Block("source", f"{self.report.byline}"))
        return Reply(tuple(blocks), (_row(TOC_BUTTON, SLOGANS_BUTTON),))

    @_on_one_content
    def slogans(self) -> Reply:
        blocks = [Block("heading", f"💬 {SLOGAN_LIST_TITLE}")]
        for slogan in self.report.slogans:
            source = self.index.passage(slogan.source)
            where = source.path if source else slogan.source
            name = f"{slogan.name}，" if slogan.name else ""
            blocks.append(Block("item", f"{_quoted(slogan.text)}（{name}{where}）"))
        buttons = [
            _row(*((_clip(s.text, 10), f"p:{s.id}") for s in self.report.slogans[i : i + 2]))
            for i in range(0, len(self.report.slogans), 2)
        ]
        buttons.append(_row(TOC_BUTTON))
        return Reply(tuple(blocks), tuple(buttons))

    @_on_one_content
    def slogan(self, word: str) -> Reply:
        """Slogans matching a word (fuzzy); all slogans when no word is given."""
        if not word.strip():
            return self.slogans()
        query = compact(word)
        scored = []
        for slogan in self.report.slogans:
            target = compact(slogan.text + slogan.name)
            score = fuzz.partial_ratio(query, target) if query else 0
            scored.append((score, slogan))
        matches = [s for score, s in sorted(scored, key=lambda x: -x[0]) if score >= 60][:5]
        if not matches:
            return self._note(
                self.settings.text("no_slogan", word=word), buttons=(_row(SLOGANS_BUTTON),)
            )
        if len(matches) == 1:
            return self.show(matches[0].id)
        blocks = [Block("heading", f"与“{word}”相关的口号")]
        blocks.extend(Block("item", _quoted(s.text)) for s in matches)
        buttons = tuple(_row((_clip(s.text, 18), f"p:{s.id}")) for s in matches)
        return Reply(tuple(blocks), buttons + (_row(SLOGANS_BUTTON),))

    @_on_one_content
    def examples(self) -> Reply:
        blocks = [Block("heading", "❓ 可以这样问：")]
        blocks.extend(Block("item", question) for question, _ in self._examples())
        buttons = tuple(_row((_clip(q, 20), f"p:{pid}")) for q, pid in self._examples())
        return Reply(tuple(blocks), buttons + (_row(TOC_BUTTON),))

    @_on_one_content
    def show(self, passage_id: str) -> Reply:
        """A passage by id, with navigation; a lost measure says so."""
        parts = [p for p in self.reading_order if p.kind == Kind.PART and p.parent == passage_id]
        if parts and passage_id not in {p.id for p in self.reading_order}:
            return self._whole(passage_id, parts)
        passage = self.index.passage(passage_id)
        if passage is not None:
            return self._passage_reply(passage)
        lost = self._lost_measure(passage_id)
        if lost is not None:
            return self._missing(lost)
        return self.sections()

    def described(self, hit: Hit) -> Hit:
        """The hit with the words a user sees (``faqbot ask --json``): a passage has its
        own; the table of contents, the slogan list and a lost measure get theirs here."""
        if hit.kind == Kind.TABLE_OF_CONTENTS:
            return replace(hit, title=TOC_TITLE, path=WHOLE_REPORT)
        if hit.kind == Kind.SLOGAN_LIST:
            return replace(hit, title=SLOGAN_LIST_TITLE, path=WHOLE_REPORT)
        lost = self._lost_measure(hit.id) if hit.kind == Kind.LOST_MEASURE else None
        if lost is None:
            return hit
        section, measure = lost.section, _measure_name(lost.number)
        return replace(
            hit, title=self._lost_title(lost),
            text=self.settings.text(
                "missing", what=f"{section.heading}的{measure}", kept=self._kept(section)
            ),
            path=f"{section.short_heading} › {measure}",
        )

    @_on_one_content
    def small_talk(self, kind: SmallTalk) -> Reply:
        """A short reply in the bot's voice, and example questions from the report to tap."""
        blocks = [Block("text", self.settings.text(f"smalltalk_{kind.value}",
                                                   report=self.report.name))]
        examples = self._example_questions()
        if examples:  # a different few for each kind: the same three every time reads canned
            start = list(SmallTalk).index(kind) % len(examples)
            examples = (examples[start:] + examples[:start])[:SMALL_TALK_EXAMPLES]
            blocks.append(Block("note", self.settings.text("smalltalk_examples")))
            blocks.extend(Block("item", question) for question, _ in examples)
        buttons = [_row((_clip(q, EXAMPLE_LABEL_CHARS), f"p:{pid}")) for q, pid in examples]
        buttons.append(_row(TOC_BUTTON, EXAMPLES_BUTTON))
        return Reply(tuple(blocks), tuple(buttons), False, small_talk=kind)

    @_on_one_content
    def lang(self, argument: str, chat_key: str = "") -> Reply:
        """/lang 繁 | 简 | auto: the script of this conversation's replies."""
        choice = LANG_ARGUMENTS.get(argument.strip().lower())
        if choice is None:
            return self._scripted(self._note(self.settings.text("lang_usage")), argument,
                                  chat_key)
        _remember_recent(self._fixed_scripts, chat_key, choice, SCRIPT_CHATS)
        reply = self._note(self.settings.text("lang_set", script=SCRIPT_NAMES[choice]))
        return self._scripted(reply, argument, chat_key)

    def reply_script(self, text: str, chat_key: str = "") -> Script:
        """The script a reply goes out in: the conversation's /lang, else the config's
        reply_script, else (auto) the script of what was typed, or of the conversation's
        last message that told (你好 and button presses tell nothing)."""
        choice = self._fixed_scripts.get(chat_key, self.settings.reply_script)
        before = self._seen_scripts.get(chat_key)
        # 你好 after a traditional question keeps it; in a simplified chat it changes nothing
        neutral_matters = before in (Script.TAIWAN, Script.HONG_KONG)
        seen = detect(text, neutral_matters) if text else None
        if seen is not None:
            _remember_recent(self._seen_scripts, chat_key, seen, SCRIPT_CHATS)
        else:
            seen = self._seen_scripts.get(chat_key)
        if choice == "simplified":
            return Script.SIMPLIFIED
        if choice == "traditional":
            return seen if seen in (Script.TAIWAN, Script.HONG_KONG) else Script.TAIWAN
        return seen or Script.SIMPLIFIED

    def report_words(self, text: str) -> list[str]:
        """The words of a text that the report's own passages use (for small talk)."""
        data = self.index.data
        return [t for t in data.segmenter.content_tokens(normalize(text).replace(" ", ""))
                if t in data.report_terms]

    def _scripted(self, reply: Reply, text: str, chat_key: str) -> Reply:
        return in_script(reply, self.reply_script(text, chat_key))

    def _remember(self, reply: Reply, chat_key: str) -> None:
        """An answer's passage becomes the conversation's context (a lost measure does not:
        its section's next follow-up still reads the passage before it)."""
        passage_id = reply.passage_id
        if (chat_key and reply.answered and passage_id and self._showable(passage_id)
                and self._lost_measure(passage_id) is None):
            self.contexts.remember_context(chat_key, passage_id)

    def _follow_up(self, follow_up: FollowUp, passage_id: str) -> Reply | None:
        """The reply to a follow-up on the passage in context; None when it does not apply
        (the matcher reads the message as a question instead)."""
        passage = self.index.passage(passage_id)
        # a part of a long measure stands for the measure, a slogan for its passage
        quoted = passage is not None and passage.kind in (Kind.PART, Kind.SLOGAN)
        unit = passage.parent if quoted and passage is not None and passage.parent \
            else passage_id
        section = self._section_of(unit)
        match follow_up.asked:
            case Asked.MORE:
                return self.show(unit)
            case Asked.NEXT | Asked.PREVIOUS:
                return self._neighbour(unit, 1 if follow_up.asked == Asked.NEXT else -1)
            case Asked.SECTION:
                if section is not None:
                    return self.section(section)
                title = passage.title if passage is not None else unit
                return replace(self._note(self.settings.text("follow_up_no_section",
                                                             title=title)), passage_id=unit)
            case Asked.SOURCE:
                return self._source(unit)
            case Asked.MEASURE:
                number = follow_up.number
                if section is None or number is None:
                    return None
                measure = next((m for m in section.measures if m.number == number), None)
                if measure is not None:
                    return self.show(measure.id)
                if number in section.missing_measures:
                    return self._missing(LostMeasure(section, number))
                return self._absent(NotInReport(section.number, number))
            case Asked.OTHER_SECTION:
                number = follow_up.number
                other = self.report.section(number) if number is not None else None
                if other is not None:
                    return self.section(other)
                return self._absent(NotInReport(number or 0))
        return None

    def _no_context(self) -> Reply:
        """A follow-up with nothing answered before it (or answered too long ago)."""
        examples = self._example_questions()[:SMALL_TALK_EXAMPLES]
        buttons = [_row((_clip(q, EXAMPLE_LABEL_CHARS), f"p:{pid}")) for q, pid in examples]
        buttons.append(_row(TOC_BUTTON, EXAMPLES_BUTTON))
        return Reply((Block("text", self.settings.text("follow_up_no_context")),),
                     tuple(buttons), False)

    def _units(self) -> list[str]:
        """What ◀ ▶ and 下一点 step through: the reading order, a long measure once."""
        units: list[str] = []
        for passage in self.reading_order:
            unit = passage.parent if passage.kind == Kind.PART else passage.id
            if not units or units[-1] != unit:
                units.append(unit)
        return units

    def _neighbour(self, unit: str, step: int) -> Reply:
        units = self._units()
        if unit not in units:
            return self.show(unit)
        position = units.index(unit) + step
        if not 0 <= position < len(units):
            edge = "follow_up_last" if step > 0 else "follow_up_first"
            return replace(self._note(self.settings.text(edge)), passage_id=unit)
        return self.show(units[position])

    def _section_of(self, unit: str) -> Section | None:
        for section in self.report.sections:
            if section.id == unit or any(m.id == unit for m in section.measures):
                return section
        return None

    def _source(self, unit: str) -> Reply:
        """Where the passage in context stands in the report, and a button to read it."""
        passage = self.index.passage(unit)
        parts = [p for p in self.reading_order if p.kind == Kind.PART and p.parent == unit]
        if passage is not None:
            title, path = passage.title, passage.path
        elif parts:
            title, path = parts[0].title.rsplit("（", 1)[0], parts[0].path.rsplit(" › ", 1)[0]
        else:
            return self.show(unit)
        blocks = (Block("heading", title),
                  Block("text", self.settings.text("follow_up_source", report=self.report.name,
                                                   path=path)))
        buttons = (_row(("📄 查看原文", f"p:{unit}"), TOC_BUTTON),)
        return Reply(blocks, buttons, True, passage_id=unit)

    def _example_questions(self) -> list[tuple[str, str]]:
        """Example questions and their passages: the content's alternate questions, or for
        a report without them (an imported one) questions built from its measures' and
        sections' titles."""
        examples = self._examples()
        if examples:
            return examples
        built: dict[str, str] = {}
        for section in self.report.sections:
            for unit_id, title in ((m.id, m.title) for m in section.measures[:1]):
                built.setdefault(self._titled_question(unit_id, title), unit_id)
        for section in self.report.sections:
            built.setdefault(self._titled_question(section.id, section.title), section.id)
        return list(built.items())[:6]

    def _titled_question(self, passage_id: str, title: str) -> str:
        topic = _one_line(self._topic(passage_id, title))
        topic = _clip(_TITLE_CUT.split(topic, 1)[0].strip("“”\"' "), SUGGESTED_TOPIC_CHARS)
        return self.settings.text("decline_question", topic=topic or title)

    # --- helpers --------------------------------------------------------------

    def lost_measure_id(self, passage_id: str) -> bool:
        """The id names a measure the source lost (its reply says so: an honest no)."""
        return self._lost_measure(passage_id) is not None

    def _showable(self, passage_id: str) -> bool:
        """A passage id ``show`` has a reply for: a passage, a long measure, a lost one."""
        return (self.index.passage(passage_id) is not None
                or any(p.parent == passage_id for p in self.reading_order if p.kind == Kind.PART)
                or self._lost_measure(passage_id) is not None)

    def _inline_passages(self, query: str) -> list[Passage]:
        """Passages for an inline query: its id or exact title first, then what the matcher
        finds (the slogan list as its slogans, the contents as its sections), then every
        passage whose title, text or slogan name contains the words typed (the matcher
        declines a fragment like 海), then, if none does, the closest titles."""
        typed = compact(query)
        found: dict[str, Passage] = {}

        def add(passages: Iterable[Passage | None]) -> None:
            for passage in passages:
                if passage is not None and passage.kind != Kind.PART:
                    found.setdefault(passage.id, passage)

        add(p for p in self.report.passages if p.id == query.strip() or compact(p.title) == typed)
        for hit in self.index.search(query, k=INLINE_PAGE).hits:
            if hit.kind == Kind.SLOGAN_LIST:
                add(p for p in self.report.passages if p.kind == Kind.SLOGAN)
            elif hit.kind == Kind.TABLE_OF_CONTENTS:
                add(p for p in self.report.passages if p.kind == Kind.SECTION)
            else:
                add([self.index.passage(hit.id)])
        passages = self.report.passages
        if typed:
            add(p for p in passages if any(
                typed in compact(words) for words in (p.title, p.text, self._slogan_name(p))))
        if not found and typed:
            scored = [(fuzz.partial_ratio(typed, compact(p.title)), p) for p in passages]
            add(p for score, p in sorted(scored, key=lambda x: -x[0]) if score >= FUZZY_TITLE)
        return list(found.values())

    def _slogan_name(self, passage: Passage) -> str:
        if passage.kind != Kind.SLOGAN:
            return ""
        return next((s.name for s in self.report.slogans if s.id == passage.id), "")

    def _example(self) -> str:
        """One example question, for the texts that show how to ask."""
        return self._examples()[0][0] if self._examples() else "第二部分讲了什么"

    def _lost_measure(self, passage_id: str) -> LostMeasure | None:
        """The section and number of a measure the source lost, named by its id (s3.m1)."""
        match = _MEASURE_ID.fullmatch(passage_id)
        if match is None:
            return None
        section = next((s for s in self.report.sections if s.id == match.group(1)), None)
        number = parse_number(match.group(2))
        if section is None or number not in section.missing_measures:
            return None
        return LostMeasure(section, number)

    def _passage_reply(self, passage: Passage, navigation: bool = True) -> Reply:
        blocks = [Block("heading", passage.title)]
        buttons: list[tuple[Button, ...]] = []
        if passage.kind == Kind.SLOGAN:
            slogan = next(s for s in self.report.slogans if s.id == passage.id)
            if slogan.name:
                blocks.append(Block("note", slogan.name))
            blocks.append(Block("text", passage.text))
            buttons.append(_row(("📄 查看原文", f"p:{slogan.source}"), SLOGANS_BUTTON))
        elif passage.kind == Kind.AUTHOR:
            blocks.extend(self._author_blocks(passage))
        else:
            blocks.append(Block("text", passage.text))
        if passage.kind == Kind.SECTION:
            section = self.report.section(int(passage.id[1:]))
            if section is not None:
                return self.section(section)
        blocks.append(self._source_block(passage.path))
        if navigation and passage.kind != Kind.SLOGAN:
            buttons.append(self._navigation(passage.id))
        return Reply(tuple(blocks), tuple(buttons), passage_id=passage.id)

    def _source_block(self, path: str) -> Block:
        """Where a reply's text stands: its path, and the report's name when the bot
        serves several."""
        if self.name_report:
            return Block("source", self.settings.text("source_in_report",
                                                      report=self.report.name, path=path))
        return Block("source", self.settings.text("source", path=path))

    def _whole(self, passage_id: str, parts: list[Passage]) -> Reply:
        """A long measure asked for by its id (its button, a deep link): all its parts in
        one reply; questions get the one part that answers them."""
        title = parts[0].title.rsplit("（", 1)[0]
        path = parts[0].path.rsplit(" › ", 1)[0]
        blocks = [Block("heading", title)]
        blocks.extend(Block("text", p.text) for p in parts)
        blocks.append(self._source_block(path))
        before, after = self._navigation(parts[0].id), self._navigation(parts[-1].id)
        row = (*[b for b in before if b.label.startswith("◀")],
               *[b for b in after if not b.label.startswith("◀")])
        return Reply(tuple(blocks), (row,), passage_id=passage_id)

    def _author_blocks(self, passage: Passage) -> list[Block]:
        """Who wrote it; for a document without a personal author, who issued it and
        when; if the report tells neither, an honest no."""
        return [*self._who_blocks(passage), *self._document_blocks()]

    def _who_blocks(self, passage: Passage) -> list[Block]:
        report, text = self.report, self.settings.text
        if report.author:
            who = "，".join(v for v in (report.author, report.role) if v)
            return [Block("text", f"{who}。"), Block("text", f"（{passage.text}）")]
        if report.issuer:
            if report.date:
                return [Block("text", text("issued_on", issuer=report.issuer, date=report.date))]
            return [Block("text", text("issued", issuer=report.issuer))]
        if report.date:
            return [Block("text", text("dated", date=report.date))]
        if report.role:  # 作者单位 without a name
            return [Block("text", f"{report.role}。"), Block("text", f"（{passage.text}）")]
        return [Block("text", text("no_author"))]

    def _document_blocks(self) -> list[Block]:
        """The document's title and number, when the report states them (标题叫什么,
        文号是多少 are answered by the same reply as 谁发布的)."""
        report, blocks = self.report, []
        if report.title:
            blocks.append(Block("note", DOCUMENT_TITLE.format(title=_one_line(report.title))))
        if report.doc_number:
            blocks.append(Block("note", DOCUMENT_NUMBER.format(number=report.doc_number)))
        return blocks

    def _navigation(self, passage_id: str) -> tuple[Button, ...]:
        """◀ ▶ through the report in reading order, and back to the table of contents."""
        ids = [p.id for p in self.reading_order]
        position = ids.index(passage_id) if passage_id in ids else -1
        order = self.reading_order
        row = []
        if position > 0:
            before = order[position - 1]
            row.append(Button(f"◀ {_clip(before.title, NAV_TITLE_CHARS)}", f"p:{before.id}"))
        row.append(Button("↩ 目录", "toc"))
        if 0 <= position < len(ids) - 1:
            after = order[position + 1]
            row.append(Button(f"{_clip(after.title, NAV_TITLE_CHARS)} ▶", f"p:{after.id}"))
        return tuple(row)

    def _missing_note(self, section: Section) -> str:
        lost = "、".join(_measure_name(n) for n in section.missing_measures)
        return self.settings.text(
            "missing", what=f"{section.short_heading}的{lost}", kept=self._kept(section)
        )

    def _kept(self, section: Section) -> str:
        """The measures a section kept, named as the report names them (四是)."""
        kept = "、".join(_measure_name(m.number) for m in section.measures)
        return kept or self.settings.text("nothing_kept")

    def _lost_title(self, lost: LostMeasure) -> str:
        return self.settings.text("missing_title", measure=_measure_name(lost.number))

    def _missing(self, lost: LostMeasure) -> Reply:
        section = lost.section
        blocks = (
            Block("heading", f"{section.heading} › {self._lost_title(lost)}"),
            Block("note", self._missing_note(section)),
        )
        buttons = [_row((_clip(m.heading, 24), f"p:{m.id}")) for m in section.measures]
        buttons.append(_row(("↩ 本部分", f"sec:{section.id}"), TOC_BUTTON))
        return Reply(blocks, tuple(buttons), True, passage_id=lost.id)

    def _absent(self, absent: NotInReport) -> Reply:
        """A section or measure the question names and the report does not have: say how
        many there are (第二部分只有4点), never that the source lost it."""
        section_number, measure_number = absent.section, absent.measure
        section = self.report.section(section_number)
        if section is None:
            return self._note(self.settings.text(
                "no_section", number=numeral(section_number), count=len(self.report.sections)
            ))
        if measure_number is None:
            return self.section(section)
        blocks = [Block("text", self.settings.text(
            "no_measure", section=numeral(section.number), count=section.measure_count,
            number=numeral(measure_number),
        ))]
        blocks.extend(Block("item", m.heading) for m in section.measures)
        if section.missing_measures:
            blocks.append(Block("note", self._missing_note(section)))
        buttons = [_row((_clip(m.heading, 24), f"p:{m.id}")) for m in section.measures]
        buttons.append(_row(("↩ 本部分", f"sec:{section.id}"), TOC_BUTTON))
        return Reply(tuple(blocks), tuple(buttons), False)

    def _decline(self, result: SearchResult) -> Reply:
        """Never a dead end: the nearest passages, each offered as a question to tap."""
        blocks = [Block("text", self.settings.text("decline"))]
        offered: dict[str, Hit] = {}  # question -> passage: two passages may share a title
        for hit in result.hits:
            if hit.kind != Kind.SLOGAN_LIST and len(offered) < DECLINE_SUGGESTIONS:
                offered.setdefault(self._suggested_question(hit), hit)
        buttons: list[tuple[Button, ...]] = []
        if offered:
            blocks.append(Block("note", self.settings.text("decline_suggest")))
            blocks.extend(Block("item", question) for question in offered)
            buttons.extend(_row((question, f"p:{hit.id}")) for question, hit in offered.items())
        buttons.append(_row(TOC_BUTTON, EXAMPLES_BUTTON))
        return Reply(tuple(blocks), tuple(buttons), False, result)

    def _suggested_question(self, hit: Hit) -> str:
        """A passage offered as the question it answers: one of its alternate questions
        when the content gives one short enough for a button, else one named by the
        report's own title of it (a measure's or section's title without its 一是 or （三）,
        up to its first comma; a slogan's words; a part's whole passage), e.g.
        报告里关于“以文辅政力求更精”是怎么说的？"""
        passage = self.index.passages.get(hit.id)
        asked = [
            q for q in (passage.questions if passage is not None else ())
            if _QUESTION.search(q) and SUGGESTED_QUESTION_CHARS[0] <= len(q)
            <= SUGGESTED_QUESTION_CHARS[1]
        ]
        if asked:
            return asked[0] if asked[0][-1] in "？?" else f"{asked[0]}？"
        topic = _one_line(self._topic(hit.id, hit.title))
        topic = _clip(_TITLE_CUT.split(topic, 1)[0].strip("“”\"' "), SUGGESTED_TOPIC_CHARS)
        return self.settings.text("decline_question", topic=topic or _clip(hit.path, 12))

    def _topic(self, passage_id: str, title: str) -> str:
        """The title a passage is known by, without its number; a part's is its whole's."""
        passage = self.index.passages.get(passage_id)
        if passage is not None and passage.kind == Kind.PART and passage.parent:
            passage_id = passage.parent
            passage = self.index.passages.get(passage_id)
        for section in self.report.sections:
            if section.id == passage_id:
                return section.title
            measure = next((m for m in section.measures if m.id == passage_id), None)
            if measure is not None:
                return measure.title
        return passage.title if passage is not None else title

    def _runner_up(self, result: SearchResult) -> Hit | None:
        """The second-best passage of a hedged answer, when it is sure enough to suggest."""
        best = result.hits[0]
        return next(
            (h for h in result.hits[1:]
             if h.id != best.id and h.score >= self.settings.match.suggest_threshold),
            None,
        )

    def _focused(self, reply: Reply, result: SearchResult) -> Reply:
        """The passage's reply with the sentence that answers marked; for a number question
        that sentence stands first, on its own, and the passage follows unmarked (the figure
        once in bold, not twice)."""
        span = result.answer_span
        passage = self.index.passage(result.hits[0].id)
        text = passage.text if passage is not None else None
        shown = [b.kind == "text" and b.text == text for b in reply.blocks]
        if span is None or passage is None or not any(shown):
            return reply  # nothing to point at, or the reply does not show the passage's text
        if result.asks_number:
            sentence = passage.text[span[0]:span[1]]
            return replace(reply, blocks=(Block("text", sentence, (0, len(sentence))),
                                          *reply.blocks))
        return replace(reply, blocks=tuple(
            replace(block, mark=span) if is_text else block
            for block, is_text in zip(reply.blocks, shown, strict=True)
        ))

    def _note(self, text: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> Reply:
        return Reply((Block("text", text),), buttons or (_row(TOC_BUTTON),), False)

    def _examples(self) -> list[tuple[str, str]]:
        """A full question (not a bare keyword) for each of the first passages, from the
        content's alternate questions."""
        examples = []
        for passage in self.report.passages:
            if passage.kind in (Kind.SECTION, Kind.MEASURE):
                asked = [q for q in passage.questions if _QUESTION.search(q) and len(q) >= 6]
                if asked:
                    examples.append((asked[0], passage.id))
        return examples[:6]


_TITLE_CUT = re.compile("[,，;；。:：]")  # a title's first clause names its topic
_QUESTION = re.compile(r"什么|怎么|怎样|如何|哪|吗|多少|几|谁|为什么")


def in_script(reply: Reply, script: Script) -> Reply:
    """The reply with all its words (blocks and button labels, never button data) in
    ``script``; a marked sentence stays marked (each piece converted on its own)."""
    if script == Script.SIMPLIFIED:
        return reply
    blocks = []
    for block in reply.blocks:
        before, marked, after = (convert(piece, script) for piece in block.pieces())
        mark = (len(before), len(before) + len(marked)) if block.mark is not None else None
        blocks.append(replace(block, text=before + marked + after, mark=mark))
    buttons = tuple(
        tuple(replace(button, label=convert(button.label, script)) for button in row)
        for row in reply.buttons
    )
    return replace(reply, blocks=tuple(blocks), buttons=buttons)


def _remember_recent(kept: OrderedDict[str, _Kept], key: str, value: _Kept, limit: int) -> None:
    """Keep a value per conversation, forgetting the oldest beyond ``limit``."""
    kept[key] = value
    kept.move_to_end(key)
    while len(kept) > limit:
        kept.popitem(last=False)


def _measure_name(number: int) -> str:
    """A measure as the report names it: 三是."""
    return f"{numeral(number)}是"


def _one_line(title: str) -> str:
    """A title set over lines (joined) and letter-spaced (国 家 粮 食 -> 国家粮食) as one
    line; other spaces (稳字当头强保障 改革创新提效能) stay."""
    lines = [line.strip() for line in title.splitlines() if line.strip()]
    return "".join(
        re.sub(r"\s", "", line) if _LETTER_SPACED.fullmatch(line) else line for line in lines
    )


_LETTER_SPACED = re.compile(r"\S(?:\s\S)+")


def _quoted(text: str) -> str:
    return text if "“" in text else f"“{text}”"


_SECTION_ARGUMENT = re.compile(r"第?(.+?)(?:部分|章|节)?")
_MEASURE_ID = re.compile(r"(s[0-9]+)\.m([0-9]+)")  # s3.m1


def _section_number(argument: str) -> tuple[int | None, str]:
    """The section number an argument names, and its numeral as typed: '第二部分' ->
    (2, '二'), '２' -> (2, '2'), '一三' -> (13, '一三'); no number (-1, '2 3', 'abc') ->
    (None, '')."""
    match = _SECTION_ARGUMENT.fullmatch(unicodedata.normalize("NFKC", argument).strip())
    if match is None:
        return None, ""
    number = parse_number(match.group(1))
    return (number, match.group(1)) if number is not None else (None, "")


CALLBACK_DATA_BYTES = 64  # Telegram refuses longer callback_data


def rendering_problems(bot: FaqBot) -> list[Problem]:
    """Build and render every reply the content can produce (each passage, section, lost
    measure and the lists) in both formats; name each one that fails, so that `faqbot
    validate` finds a text the renderer chokes on before a user does."""
    report = bot.report
    replies: list[tuple[str, Callable[[], Reply]]] = [
        ("/start", bot.start), ("/help", bot.help), ("/sections", bot.sections),
        ("/summary", bot.summary), ("/slogans", bot.slogans), ("examples", bot.examples),
        ("/section 999", partial(bot.handle, "/section 999")),
        ("/slogan 无此口号", partial(bot.handle, "/slogan 无此口号")),
        ("/nosuch", partial(bot.handle, "/nosuch")), ("an empty question", partial(bot.ask, "")),
        ("feedback", partial(bot.feedback, "", True)),
        ("/start in a group", partial(bot.group_start, "bot")), ("a sticker", bot.non_text),
        ("a stale button", bot.stale_button),
        ("/lang 繁", partial(bot.lang, "繁", "validate")), ("/lang x", partial(bot.lang, "x")),
        ("a follow-up without context", bot._no_context),
    ]
    replies.extend((f"small talk {kind.value}", partial(bot.small_talk, kind))
                   for kind in SmallTalk)
    replies.extend((f"the source of {p.id}", partial(bot._source, p.id))
                   for p in report.passages if p.kind != Kind.PART)
    replies.extend((f"passage {p.id}", partial(bot.show, p.id)) for p in report.passages)
    replies.extend((f"section {s.id}", partial(bot.section, s)) for s in report.sections)
    replies.extend(
        (f"lost measure {s.id}.m{n}", partial(bot.show, f"{s.id}.m{n}"))
        for s in report.sections for n in s.missing_measures
    )
    problems = []
    for what, build in replies:
        try:
            reply = build()
            texts = [reply.plain(), reply.html(), *(b.label for row in reply.buttons for b in row)]
            for text in texts:
                text.encode("utf-8")  # what every channel sends; a lone surrogate fails here
            for button in (b for row in reply.buttons for b in row):
                if len(button.action.encode("utf-8")) > CALLBACK_DATA_BYTES:
                    raise ValueError(f"button data longer than {CALLBACK_DATA_BYTES} bytes")
        except Exception as error:  # noqa: BLE001  (any failure is a finding to report)
            detail = " ".join(str(error).split())[:200]
            problems.append(Problem(
                report.file, 0, f"{what} cannot be shown ({error.__class__.__name__}: {detail})"
            ))
    return problems
