"""Several reports in one bot: ``ReportsBot`` asks each report's ``FaqBot`` and speaks
for them together.

Each report keeps its own one-report bot (the same replies as a bot of that report
alone, with sources naming the report); this one matches a question against every
report (bot.search.library), answers from the best, and offers a button per report
when several answer equally well (作者是谁, 第二部分讲什么) and the chat has not chosen a
default report with /reports.

Button data names the report: ``p:<report>/<passage id>``, ``sec:<report>/<section id>``,
``fb:good:<report>/<passage id>``, ``toc:<report>``, ``slogans:<report>``,
``examples:<report>``, and ``rep:<report>`` (make it the chat's default); bare ``toc``,
``slogans`` and ``examples`` (help, welcome) show the chat's default report. Deep links
are ``/start <report>_<passage id>`` (s3.m1 as s3_m1), inline result ids
``<report>/<passage id>``, a conversation's context ``<report>/<passage id>``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from bot.config import Settings
from bot.content import Report
from bot.followups import FollowUp
from bot.replies import (
    CONSOLE_USER,
    EXAMPLES_BUTTON,
    INLINE_PAGE,
    SCRIPT_CHATS,
    TOC_BUTTON,
    Block,
    FaqBot,
    InlineItem,
    Loaded,
    Reply,
    _clip,
    _remember_recent,
    _row,
)
from bot.search import Hit, Kind, Library, SearchResult, equally_good, merged_hits
from bot.smalltalk import SmallTalk
from bot.store import Store

REPORTS_COMMAND = ("reports", "选择报告：默认回答哪一份")
REPORTS_BUTTON = ("📚 报告", "rep:")
REPORT_LABEL_CHARS = 24  # a report's button label on a phone
DEEP_LINK_SEPARATOR = "_"  # /start <report>_<passage>: payloads allow only A-Z a-z 0-9 _ -
_LISTS = ("toc", "slogans", "examples")  # actions that show a whole report's list


def scoped_action(action: str, report: str) -> str:
    """A one-report button action as the action of that report among several:
    ``p:s2`` -> ``p:<report>/s2``, ``toc`` -> ``toc:<report>``."""
    kind, _, value = action.partition(":")
    if action in _LISTS:
        return f"{action}:{report}"
    if kind in ("p", "sec"):
        return f"{kind}:{report}/{value}"
    if kind == "fb":
        verdict, _, passage_id = value.partition(":")
        return f"fb:{verdict}:{report}/{passage_id}"
    return action


def scoped(reply: Reply, report: str) -> Reply:
    """A report's reply with its buttons naming the report, and the report it shows."""
    buttons = tuple(
        tuple(replace(button, action=scoped_action(button.action, report)) for button in row)
        for row in reply.buttons
    )
    return replace(reply, buttons=buttons, report=report)


def deep_link(report: str, passage_id: str) -> str:
    """The /start payload that opens a passage of a report (t.me/<bot>?start=...)."""
    return f"{report}{DEEP_LINK_SEPARATOR}{passage_id.replace('.', '_')}"


class ReportsBot(FaqBot):
    """The bot over several reports; what it does not override reads the first report."""

    def __init__(self, settings: Settings, library: Library, store: Store | None = None):
        self.library = library
        self.books = {key: FaqBot(settings, index, store, report_id=key, name_report=True)
                      for key, index in library}
        first = next(iter(self.books.values()))
        super().__init__(settings, first.index, store, report_id=first.report_id,
                         name_report=True)
        self._defaults: OrderedDict[str, str] = OrderedDict()  # chat key -> report id

    def reload(self) -> Report:
        """Every report re-read and validated, then served (each report swapped whole); the
        same reports must stay: another set needs a restart. On any error nothing changes."""
        with self._reloading:
            library = self.load_library(self.settings)
            if set(library.indexes) != set(self.books):
                raise ValueError(
                    f"the content now holds {', '.join(library.indexes)}, not "
                    f"{', '.join(self.books)}: restart the bot to serve another set of reports")
            for key, index in library:
                self.books[key].index = index
            self.library = library
            self._loaded = Loaded.of(library.indexes[self.report_id])
        return self.report

    # --- which report -----------------------------------------------------------

    def default_report(self, chat_key: str) -> str | None:
        """The report /reports made the conversation's default, if any."""
        return self._defaults.get(chat_key)

    def _book(self, chat_key: str) -> FaqBot:
        """The conversation's default report's bot, else the first report's."""
        return self.books.get(self._defaults.get(chat_key, ""), self.books[self.report_id])

    def _split(self, value: str) -> tuple[FaqBot, str] | None:
        """``<report>/<passage id>`` as the report's bot and the id; None for another."""
        key, separator, passage_id = value.partition("/")
        book = self.books.get(key) if separator else None
        return (book, passage_id) if book is not None else None

    def _context(self, value: str) -> tuple[FaqBot, str] | None:
        """A conversation's context: ``<report>/<passage id>``, or a passage id kept while
        the bot served one report (read as the first report's that can show it)."""
        found = self._split(value)
        if found is not None:
            return found
        book = next((b for b in self.books.values() if b._showable(value)), None)
        return (book, value) if book is not None else None

    # --- entry points -------------------------------------------------------------

    def command(self, name: str, argument: str = "", chat_key: str = "") -> Reply:
        """A /command: /reports, /lang and /start for all reports, the others on the
        conversation's default report."""
        if name == "lang":
            return self.lang(argument, chat_key)
        if name == "reports":
            reply = self.reports(argument, chat_key)
        elif name == "start":
            reply = self.start(argument)
        elif name == "help":
            reply = self.help()
        else:
            book = self._book(chat_key)
            reply = scoped(book._command(name, argument), book.report_id)
        return self._scripted(reply, argument, chat_key)

    def commands(self) -> tuple[tuple[str, str], ...]:
        return (*super().commands(), REPORTS_COMMAND)

    def action(self, data: str, chat_key: str = "") -> Reply | None:
        reply = self._routed_action(data, chat_key)
        if reply is None:
            return None
        self._remember(reply, chat_key)
        return self._scripted(reply, "", chat_key)

    def _routed_action(self, data: str, chat_key: str) -> Reply | None:
        kind, _, value = data.partition(":")
        if kind == "rep":  # rep: lists the reports, rep:<report> chooses one
            if not value:
                return self.reports("", chat_key)
            return self.set_default(value, chat_key) if value in self.books else None
        if kind == "fb":
            verdict, _, target = value.partition(":")
            if verdict in ("good", "bad") and self.has_passage(target):
                return self.feedback(target, verdict == "good")
            return None
        book: FaqBot | None
        if data in _LISTS:  # from a reply of all reports (help, welcome): the default one
            book, local = self._book(chat_key), data
        elif kind in _LISTS:
            book, local = self.books.get(value), kind
        elif kind in ("p", "sec") and (found := self._split(value)) is not None:
            book, local = found[0], f"{kind}:{found[1]}"
        else:
            return None
        reply = book._action(local) if book is not None else None
        return scoped(reply, book.report_id) if reply is not None and book is not None else None

    def search(self, question: str) -> Reply:
        return self._search_for(question, "")

    def _search_for(self, question: str, chat_key: str) -> Reply:
        """The best report's reply; a button per report when several answer equally well
        (the conversation's default report answers if it is one of them)."""
        results = self.library.search(question, k=1 + self.settings.match.related)
        equal = equally_good(results)
        chosen = results[0]
        if len(equal) > 1:
            default = self._defaults.get(chat_key)
            preferred = next((r for r in equal if r.report == default), None)
            if preferred is None:
                return self._choice(equal[0].result, [(r.report, r.result.hits[0]) for r in equal])
            chosen = preferred
        self._record(question, chosen.result, chosen.report)
        return scoped(self.books[chosen.report].result_reply(chosen.result), chosen.report)

    def _choice(self, result: SearchResult, hits: list[tuple[str, Hit]]) -> Reply:
        """Which report: each report's answer named, a button per report to see it."""
        text = self.settings.text
        blocks = [Block("text", text("choose_report"))]
        buttons = []
        for key, hit in hits:
            book = self.books[key]
            title = book.described(hit).title
            blocks.append(Block("item", text("choose_report_item", report=book.report.name,
                                             title=title)))
            label = _clip(f"《{book.report.name}》", REPORT_LABEL_CHARS)
            buttons.append(_row((label, _hit_action(key, hit))))
        return Reply(tuple(blocks), tuple(buttons), False, result)

    def ranked_hits(self, question: str, k: int) -> tuple[SearchResult, list[dict[str, object]]]:
        results = self.library.search(question, k=k)
        hits = [{**self.books[key].described(hit).as_dict(), "report": key}
                for key, hit in merged_hits(results, k)]
        return results[0].result, hits

    def inline_page(self, query: str, offset: int = 0,
                    limit: int = INLINE_PAGE) -> tuple[list[InlineItem], int | None]:
        """Passages of every report matching an inline query (the best-matching report's
        first), each item's id ``<report>/<passage id>``."""
        order = [r.report for r in self.library.search(query, k=1)] if query.strip() \
            else list(self.books)
        found = [(key, passage) for key in order for passage in (
            self.books[key]._inline_passages(query) if query.strip()
            else self.books[key].report.passages)]
        start = max(0, offset)
        items = []
        for key, passage in found[start: start + limit]:
            book = self.books[key]
            items.append(InlineItem(
                f"{key}/{passage.id}", _clip(passage.title, 60),
                _clip(f"《{book.report.name}》{passage.path}｜{passage.text}", 100),
                scoped(book._passage_reply(passage, navigation=False), key),
            ))
        following = start + limit
        return items, following if following < len(found) else None

    def share_query(self, reply: Reply) -> str:
        book = self.books.get(reply.report)
        return book.share_query(reply) if book is not None else ""

    def has_passage(self, passage_id: str) -> bool:
        found = self._split(passage_id)
        return found is not None and found[0].has_passage(found[1])

    def feedback(self, passage_id: str, good: bool, question: str = "",
                 user: str = CONSOLE_USER) -> Reply:
        """A 👍/👎 on ``<report>/<passage id>``, recorded under that name."""
        if self.store is not None and self.has_passage(passage_id):
            self.store.record_rating(user, passage_id, good, question)
        return self._note(self.settings.text("feedback_thanks"))

    # --- replies ------------------------------------------------------------------

    def start(self, payload: str = "") -> Reply:
        """Welcome naming every report, or a deep link ``<report>_<passage id>`` (a report
        alone: its table of contents)."""
        payload = payload.strip()
        for key in sorted(self.books, key=len, reverse=True):  # a-b before a
            book = self.books[key]
            if payload == key:
                return scoped(book.sections(), key)
            if payload.startswith(key + DEEP_LINK_SEPARATOR):
                return scoped(book.start(payload[len(key) + 1:]), key)
        text = self.settings.text
        blocks = (
            Block("text", text("welcome", report=self._names(), example=self._example())),
            Block("note", text("reports_welcome", count=len(self.books))),
        )
        return Reply(blocks, (_row(REPORTS_BUTTON, EXAMPLES_BUTTON),))

    def profile(self, bot_username: str) -> tuple[str, str]:
        text = self.settings.text
        return (text("description", report=self._names(), bot=bot_username),
                text("short_description", report=self._names()))

    def help(self) -> Reply:
        reply = super().help()
        name, about = REPORTS_COMMAND
        items = [i for i, b in enumerate(reply.blocks) if b.kind == "item"]
        blocks = list(reply.blocks)
        blocks.insert(items[-1] + 1 if items else len(blocks), Block("item", f"/{name} — {about}"))
        return replace(reply, blocks=tuple(blocks))

    def reports(self, argument: str = "", chat_key: str = "") -> Reply:
        """/reports: the reports, the conversation's default, a button to choose each;
        /reports 2 (or an id or name) makes that one the default."""
        text = self.settings.text
        if argument.strip():
            key = self._report_named(argument.strip())
            if key is None:
                return self._note(text("reports_unknown", report=argument.strip(),
                                       count=len(self.books)), buttons=(_row(REPORTS_BUTTON),))
            return self.set_default(key, chat_key)
        current = self._defaults.get(chat_key)
        blocks = [Block("text", text("reports_list"))]
        buttons = []
        for number, (key, book) in enumerate(self.books.items(), 1):
            mark = " ✓" if key == current else ""
            blocks.append(Block("item", f"{number}. 《{book.report.name}》（{key}）{mark}"))
            label = _clip(f"{'✓ ' if key == current else ''}《{book.report.name}》",
                          REPORT_LABEL_CHARS)
            buttons.append(_row((label, f"rep:{key}")))
        if current is not None:
            blocks.append(Block("note", text("reports_default",
                                             report=self.books[current].report.name)))
        blocks.append(Block("note", text("reports_choose")))
        return Reply(tuple(blocks), tuple(buttons), False)

    def set_default(self, key: str, chat_key: str) -> Reply:
        """Make a report the conversation's default (kept in memory, as /lang is)."""
        _remember_recent(self._defaults, chat_key, key, SCRIPT_CHATS)
        book = self.books[key]
        return Reply((Block("text", self.settings.text("reports_set", report=book.report.name)),),
                     (_row((TOC_BUTTON[0], f"toc:{key}"), REPORTS_BUTTON),), False)

    def small_talk(self, kind: SmallTalk) -> Reply:
        """The first report's small talk, naming every report."""
        reply = self.books[self.report_id].small_talk(kind)
        said = Block("text", self.settings.text(f"smalltalk_{kind.value}", report=self._names()))
        return scoped(replace(reply, blocks=(said, *reply.blocks[1:])), self.report_id)

    def _no_context(self) -> Reply:
        return scoped(self.books[self.report_id]._no_context(), self.report_id)

    def _follow_up(self, follow_up: FollowUp, passage_id: str) -> Reply | None:
        found = self._context(passage_id)
        if found is None:
            return None
        book, local = found
        reply = book._follow_up(follow_up, local)
        return scoped(reply, book.report_id) if reply is not None else None

    def _remember(self, reply: Reply, chat_key: str) -> None:
        """The passage shown becomes the context, as ``<report>/<passage id>``."""
        book = self.books.get(reply.report)
        passage_id = reply.passage_id
        if (chat_key and reply.answered and passage_id and book is not None
                and book._showable(passage_id) and book._lost_measure(passage_id) is None):
            self.contexts.remember_context(chat_key, f"{reply.report}/{passage_id}")

    def _report_named(self, argument: str) -> str | None:
        """A report by its number in /reports (1-based), its id or its name."""
        keys = list(self.books)
        if argument.isdigit() and 1 <= int(argument) <= len(keys):
            return keys[int(argument) - 1]
        if argument in self.books:
            return argument
        named = argument.strip("《》")
        return next((k for k, b in self.books.items() if b.report.name == named), None)

    def _names(self) -> str:
        """The reports' names for a text that puts one name in 《》: A》、《B."""
        return "》、《".join(book.report.name for book in self.books.values())

    def parts(self) -> list[FaqBot]:
        return list(self.books.values())


def _hit_action(report: str, hit: Hit) -> str:
    """The button that shows a report's answer to a question."""
    if hit.kind == Kind.TABLE_OF_CONTENTS:
        return f"toc:{report}"
    if hit.kind == Kind.SLOGAN_LIST:
        return f"slogans:{report}"
    return f"p:{report}/{hit.id}"

