"""The report FAQ: YAML files -> frozen, validated model.

Validation walks the YAML node tree (not the parsed dicts) so that every
problem can name the file and line it comes from: ``FILE:LINE: message``.
"""

from __future__ import annotations

import difflib
import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot import safe_yaml
from bot.errors import FaqbotError

NUMERALS = "一二三四五六七八九十"
INTRO_ID = "intro"
CLOSING_ID = "closing"
AUTHOR_ID = "author"
# A passage longer than this is split into parts (s2.m2.p1, ...): a one-line question
# should get a screenful, not a chapter. Short reports (the seed: 400 at most) keep
# their passages whole.
MAX_PASSAGE_CHARS = 600
_MEASURE_ID = re.compile(r"^s(\d+)\.m(\d+)$")
_SLOGAN_ID = re.compile(r"^sl\d+$")
# The real report is 40 KB: 2 MB holds fifty of it and keeps a hostile file from using much memory.
MAX_CONTENT_BYTES = 2 * 1024 * 1024
# Sections and measures are numbered 一 ... 九十九 at most (the importer reads no more);
# a larger number in content is a typo, and counting up to it would cost time.
MAX_NUMBER = 99
# What people type as an ordinal: digits and Chinese numerals, mixed too (1十).
_NUMBER_TEXT = re.compile(r"[0-9〇零一二两三四五六七八九十百千万亿]+")
_DIGIT_NUMERALS = "〇零一二两三四五六七八九"
_DIGIT_BY_NUMERAL = str.maketrans(_DIGIT_NUMERALS, "001223456789")
# Longer numbers are not ordinals anyone means; int() refuses more than 4300 digits.
_LONGEST_NUMBER = 1000
# Chinese numerals with units (十, 百, ...) longer than this are no number anyone writes.
_LONGEST_NUMERAL = 40
# cn2an writes numbers of at most this many digits in Chinese.
_LONGEST_CHINESE_NUMERAL = 16


def numeral(number: int) -> str:
    """Chinese numeral as the report writes ordinals: 一, 十二, 二十五, 一百零三.

    Total: 0 is 零, negatives get 负, numbers too long for Chinese stay in digits.
    """
    if 1 <= number <= 10:
        return NUMERALS[number - 1]
    if 11 <= number <= 19:
        return "十" + NUMERALS[number - 11]
    if len(str(abs(number))) > _LONGEST_CHINESE_NUMERAL:
        return str(number)
    import cn2an  # loaded only for unusual numbers; it costs ~0.1 s to import

    return str(cn2an.an2cn(number))


def parse_number(text: str) -> int | None:
    """The whole number a user wrote as an ordinal, in any form; None when it is not one.

    Total (never raises): digits of any width (3, ３, 007), Chinese numerals (三, 十一,
    二十五, 一百零三, 两, 〇), digit by digit (一三 is 13), mixed (1十), with or
    without 第. Not numbers: -1, 2.5, 十十, 三是, '' and numbers over a thousand digits.

    >>> [parse_number(t) for t in ("第２", "一三", "一百零三", "1十", "-1")]
    [2, 13, 103, 10, None]
    """
    text = unicodedata.normalize("NFKC", text).strip().removeprefix("第")
    if text.isdecimal():  # digits of any script: int() reads them all
        return int(text) if len(text) <= _LONGEST_NUMBER else None
    if not _NUMBER_TEXT.fullmatch(text):
        return None
    if all(c in _DIGIT_NUMERALS for c in text):  # 二〇一三, 一三: digit by digit
        return parse_number(text.translate(_DIGIT_BY_NUMERAL))
    if len(text) > _LONGEST_NUMERAL:
        return None
    import cn2an  # loaded only for numerals with units; it costs ~0.1 s to import

    try:
        value = cn2an.cn2an(text, "smart")
    except (ValueError, KeyError):  # what cn2an raises for text that is no number
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    return value if isinstance(value, int) and value >= 0 else None


def short_title(title: str) -> str:
    """The part of a heading before its first comma: 着力业务提速,打造过硬本领 -> 着力业务提速."""
    return title.split(",", 1)[0]


@dataclass(frozen=True)
class Measure:
    """One numbered measure of a section (一是..., 二是...)."""

    id: str
    number: int
    title: str
    text: str
    questions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    # as written before the title: （一）, (一), 1., 1、, （1）, 第一，; "" is 一是
    marker: str = ""
    # what stands between title and text in the source: 。 or ， or a line break
    separator: str = "。"

    @property
    def heading(self) -> str:
        if self.marker:
            return f"{self.marker}{self.title}"
        return f"{numeral(self.number)}是{self.title}"

    @property
    def short_heading(self) -> str:
        return f"{self.marker or numeral(self.number) + '是'}{short_title(self.title)}"

    @property
    def source_line(self) -> str:
        """The measure as it stands in the report (line breaks between paragraphs)."""
        return f"{self.heading}{self.separator}{self.text}"


@dataclass(frozen=True)
class Section:
    """One numbered section (一、...) with its intro text and measures."""

    id: str
    number: int
    title: str
    text: str
    measures: tuple[Measure, ...] = ()
    missing_measures: tuple[int, ...] = ()
    questions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    marker: str = ""  # as written before the title: 第一部分, 第一章; "" is 一、

    @property
    def heading(self) -> str:
        return f"{self.marker or numeral(self.number) + '、'}{self.title}"

    @property
    def short_heading(self) -> str:
        return f"{self.marker or numeral(self.number) + '、'}{short_title(self.title)}"

    def measure(self, number: int) -> Measure | None:
        return next((m for m in self.measures if m.number == number), None)

    @property
    def measure_count(self) -> int:
        """How many measures the source numbers: those kept and those it lost."""
        return max((*(m.number for m in self.measures), *self.missing_measures), default=0)


@dataclass(frozen=True)
class Slogan:
    """A quoted formula of the report, with the passage it comes from."""

    id: str
    text: str
    source: str
    name: str = ""
    questions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


class Kind(StrEnum):
    """What a passage is, or a hit of the matcher that is no passage."""

    INTRO = "intro"
    SECTION = "section"
    MEASURE = "measure"
    PART = "part"  # a piece of a long passage (s2.m2.p1)
    CLOSING = "closing"
    SLOGAN = "slogan"
    AUTHOR = "author"
    # hits only: what a question named rather than described
    SLOGAN_LIST = "slogans"
    TABLE_OF_CONTENTS = "sections"
    LOST_MEASURE = "missing"  # one of a section's missing_measures
    ABSENT = "absent"  # a section or measure the report does not have


@dataclass(frozen=True)
class Passage:
    """Anything the bot can answer with, flattened for search and replies."""

    id: str
    kind: Kind  # a passage kind: INTRO to AUTHOR
    title: str
    text: str
    path: str
    questions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    parent: str = ""  # section id of a measure, source passage of a slogan, owner of a part


@dataclass(frozen=True)
class Report:
    """One report: metadata, intro, sections and slogans."""

    id: str
    name: str
    author: str
    role: str
    byline: str
    source: str
    intro: str
    sections: tuple[Section, ...]
    slogans: tuple[Slogan, ...] = ()
    intro_questions: tuple[str, ...] = ()
    intro_keywords: tuple[str, ...] = ()
    author_questions: tuple[str, ...] = ()
    # report term -> everyday words people type for it (稿子 for 文稿)
    synonyms: tuple[tuple[str, tuple[str, ...]], ...] = ()
    file: str = ""
    passages: tuple[Passage, ...] = field(default=(), compare=False)
    # A document issued by an office has a title, an issuer and a date instead of an author.
    title: str = ""
    issuer: str = ""
    date: str = ""
    doc_number: str = ""  # 国发〔2018〕42号
    closing: str = ""  # the closing paragraph(s), a passage like the intro
    closing_questions: tuple[str, ...] = ()
    closing_keywords: tuple[str, ...] = ()

    def section(self, number: int) -> Section | None:
        return next((s for s in self.sections if s.number == number), None)

    def source_lines(self) -> list[str]:
        """The report's body as lines, in source order: what the raw file holds minus
        junk and minus the metadata lines (title, issuer, date, number, byline)."""
        lines = [self.intro]
        for section in self.sections:
            lines.append(section.heading)
            lines.append(section.text)
            lines.extend(m.source_line for m in section.measures)
        lines.append(self.closing)
        return [line for text in lines for line in text.split("\n") if line]

    def metadata_lines(self) -> list[str]:
        """The metadata as the source lines that hold it."""
        values = (*self.title.split("\n"), self.doc_number, self.issuer, self.date,
                  *self.byline.split("\n"))
        return [v for v in values if v]


_SENTENCE_END = re.compile(r"(?<=[。！？])(?![”’）)])")


def split_parts(text: str, limit: int = MAX_PASSAGE_CHARS) -> list[str]:
    """Cut a long text into parts of at most about ``limit`` characters, at paragraph
    (and bullet) breaks, else between sentences; the parts joined give the text back.

    >>> split_parts("甲。" * 4, limit=5)
    ['甲。甲。', '甲。甲。']
    """
    if len(text) <= limit:
        return [text]
    units: list[str] = []
    paragraphs = text.split("\n")
    for index, paragraph in enumerate(paragraphs):
        ending = "\n" if index < len(paragraphs) - 1 else ""
        if len(paragraph) <= limit:
            units.append(paragraph + ending)
            continue
        sentences = [s for s in _SENTENCE_END.split(paragraph) if s]
        sentences[-1] += ending
        units.extend(sentences)
    parts: list[str] = []
    for unit in units:
        # a paragraph boundary is preferred: start a new part after a full paragraph
        # once the current part is at least half full
        if parts and len(parts[-1]) + len(unit) <= limit and not (
            parts[-1].endswith("\n") and len(parts[-1]) >= limit // 2
        ):
            parts[-1] += unit
        else:
            parts.append(unit)
    return parts


def _passages(
    passage_id: str, kind: Kind, title: str, text: str, path: str,
    questions: tuple[str, ...], keywords: tuple[str, ...], parent: str = "",
) -> list[Passage]:
    """One passage, or its parts when the text is long (each part shows its parent's path)."""
    parts = split_parts(text)
    if len(parts) == 1:
        return [Passage(passage_id, kind, title, text, path, questions, keywords, parent)]
    count = len(parts)
    return [
        Passage(
            f"{passage_id}.p{number}", Kind.PART, f"{title}（{number}/{count}）", part.strip(),
            f"{path} › 第{number}段", questions if number == 1 else (),
            keywords if number == 1 else (), passage_id,
        )
        for number, part in enumerate(parts, start=1)
    ]


def build_passages(report: Report) -> tuple[Passage, ...]:
    """Flatten a report into passages, in reading order (◀ ▶ follow this order)."""
    passages = _passages(
        INTRO_ID, Kind.INTRO, "引言", report.intro, "引言",
        report.intro_questions, report.intro_keywords,
    )
    by_id: dict[str, list[Passage]] = {INTRO_ID: list(passages)}
    for section in report.sections:
        section_parts = split_parts(section.text)
        # the section passage stays (it lists the measures); a long lead goes to its parts
        passage = Passage(
            section.id, Kind.SECTION, section.heading,
            section.text if len(section_parts) == 1 else "", section.short_heading,
            section.questions, section.keywords,
        )
        passages.append(passage)
        by_id[section.id] = [passage]
        if len(section_parts) > 1:
            parts = _passages(
                section.id, Kind.SECTION, section.heading, section.text, section.short_heading,
                (), (),
            )
            passages.extend(parts)
            by_id[section.id] = parts
        for measure in section.measures:
            path = f"{section.short_heading} › {measure.short_heading}"
            measure_passages = _passages(
                measure.id, Kind.MEASURE, measure.heading, measure.text, path,
                measure.questions, measure.keywords, section.id,
            )
            passages.extend(measure_passages)
            by_id[measure.id] = measure_passages
    if report.closing:
        closing = _passages(
            CLOSING_ID, Kind.CLOSING, "结束语", report.closing, "结束语",
            report.closing_questions, report.closing_keywords,
        )
        passages.extend(closing)
        by_id[CLOSING_ID] = closing
    issued = "，".join(v for v in (report.issuer, report.date) if v)
    passages.append(
        Passage(
            AUTHOR_ID, Kind.AUTHOR, "作者" if report.author else "发布",
            report.byline or issued, "作者" if report.author else "发布",
            report.author_questions,
            tuple(v for v in (report.author, report.role, report.issuer, report.date) if v),
        )
    )
    for slogan in report.slogans:
        candidates = by_id[slogan.source]
        source = next((p for p in candidates if slogan.text in p.text), candidates[0])
        title = f"“{slogan.text}”" if "“" not in slogan.text else slogan.text
        passages.append(
            Passage(
                slogan.id, Kind.SLOGAN, title, source.text, source.path,
                # the name (政府办的职责) is how people ask, not a term to segment by
                (*slogan.questions, slogan.name) if slogan.name else slogan.questions,
                slogan.keywords, slogan.source,
            )
        )
    return tuple(passages)


# --- loading and validation -------------------------------------------------


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ContentError(FaqbotError):
    """The content has problems; ``problems`` lists each with file and line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def format_message(self) -> str:
        """One line per problem: ``FILE:LINE: message``."""
        return str(self)


class _Reader:
    """Reads typed values out of YAML nodes, collecting problems instead of raising."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, node: Node, message: str) -> None:
        self.problems.append(Problem(self.file, node.start_mark.line + 1, message))

    def mapping(
        self, node: Node, what: str, required: Iterable[str], optional: Iterable[str] = ()
    ) -> dict[str, Node]:
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a mapping")
            return {}
        required, allowed = tuple(required), set(required) | set(optional)
        fields: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else ""
            if not key:
                self.problem(key_node, f"a key in {what} must be text")
            elif key not in allowed:
                self.problem(key_node, f"unknown key '{key}' in {what}")
            elif key in fields:
                self.problem(key_node, f"duplicate key '{key}' in {what}")
            else:
                fields[key] = value_node
        for key in required:
            if key not in fields:
                self.problem(node, f"missing key '{key}' in {what}")
        return fields

    def text(self, fields: dict[str, Node], key: str, what: str, default: str = "") -> str:
        node = fields.get(key)
        if node is None:
            return default
        if not isinstance(node, ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            self.problem(node, f"'{key}' in {what} must be text")
            return default
        value = node.value.strip()
        if not value:
            self.problem(node, f"'{key}' in {what} is empty")
        return value

    def number(self, node: Node, what: str) -> int:
        """A section or measure number, 1 to MAX_NUMBER; 0 (with a problem) otherwise."""
        value = _whole_number(node)
        if value is None:
            self.problem(node, f"{what} must be a whole number")
        elif value < 1:
            self.problem(node, f"{what} must be 1 or more")
        elif value > MAX_NUMBER:
            self.problem(node, f"{what} must be at most {MAX_NUMBER}")
        else:
            return value
        return 0

    def raw_text(self, fields: dict[str, Node], key: str, what: str, default: str) -> str:
        """Text kept exactly as written (a separator may be a line break)."""
        node = fields.get(key)
        if node is None:
            return default
        if not isinstance(node, ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            self.problem(node, f"'{key}' in {what} must be text")
            return default
        return str(node.value)

    def integer(self, fields: dict[str, Node], key: str, what: str) -> int:
        node = fields.get(key)
        return 0 if node is None else self.number(node, f"'{key}' in {what}")

    def sequence(self, fields: dict[str, Node], key: str, what: str) -> list[Node]:
        node = fields.get(key)
        if node is None:
            return []
        if not isinstance(node, SequenceNode):
            self.problem(node, f"'{key}' in {what} must be a list")
            return []
        return list(node.value)

    def texts(self, fields: dict[str, Node], key: str, what: str) -> tuple[str, ...]:
        values = []
        for item in self.sequence(fields, key, what):
            if not isinstance(item, ScalarNode) or item.tag != "tag:yaml.org,2002:str":
                self.problem(item, f"items of '{key}' in {what} must be text")
            elif not item.value.strip():
                self.problem(item, f"empty item in '{key}' of {what}")
            else:
                values.append(item.value.strip())
        return tuple(values)

    def integers(self, fields: dict[str, Node], key: str, what: str) -> tuple[int, ...]:
        values = []
        for item in self.sequence(fields, key, what):
            number = self.number(item, f"items of '{key}' in {what}")
            if number:
                values.append(number)
        return tuple(values)


def _whole_number(node: Node) -> int | None:
    """The value of a YAML integer as YAML reads it (0x1F, 1_000, 010 is octal 8); None for
    anything else, also for integers too long for Python to read (over 4300 digits)."""
    if not isinstance(node, ScalarNode) or node.tag != "tag:yaml.org,2002:int":
        return None
    try:
        return int(SafeConstructor().construct_yaml_int(node))
    except ValueError:
        return None


_PASSAGE_KEYS = ("questions", "keywords")


def _read_measure(reader: _Reader, node: Node, section: Section) -> Measure:
    what = f"measure of section {section.id}"
    fields = reader.mapping(
        node, what, ("id", "number", "title"), ("text", "marker", "separator", *_PASSAGE_KEYS)
    )
    measure = Measure(
        id=reader.text(fields, "id", what),
        number=reader.integer(fields, "number", what),
        title=reader.text(fields, "title", what),
        text=reader.text(fields, "text", what),
        questions=reader.texts(fields, "questions", what),
        keywords=reader.texts(fields, "keywords", what),
        marker=reader.raw_text(fields, "marker", what, default=""),
        separator=reader.raw_text(fields, "separator", what, default="。"),
    )
    expected = f"{section.id}.m{measure.number}"
    if measure.id and measure.number and measure.id != expected:
        reader.problem(fields.get("id", node), f"measure id '{measure.id}' should be '{expected}'")
    return measure


def _read_section(
    reader: _Reader, node: Node, position: int
) -> tuple[Section, list[tuple[Measure, Node]]]:
    """Read the section at a position (1 for the first); also return each measure with its
    node (for duplicate-id checks).

    Numbers say where things are: section N is the Nth, measures come in order, and every
    number up to the last measure is either present or in ``missing_measures``, so that the
    bot can tell a measure the source lost from one that never existed."""
    what = "section"
    problems_before = len(reader.problems)
    fields = reader.mapping(
        node, what, ("id", "number", "title", "measures"),
        ("text", "marker", "missing_measures", *_PASSAGE_KEYS),
    )
    section = Section(
        id=reader.text(fields, "id", what),
        number=reader.integer(fields, "number", what),
        title=reader.text(fields, "title", what),
        text=reader.text(fields, "text", what),
        missing_measures=reader.integers(fields, "missing_measures", what),
        questions=reader.texts(fields, "questions", what),
        keywords=reader.texts(fields, "keywords", what),
        marker=reader.raw_text(fields, "marker", what, default=""),
    )
    if section.id and section.number and section.id != f"s{section.number}":
        reader.problem(
            fields.get("id", node), f"section id '{section.id}' should be 's{section.number}'"
        )
    if section.number > 0 and section.number != position:
        reader.problem(
            fields["number"],
            f"section number {section.number} is section {position} of the file: "
            "sections are numbered 1, 2, 3, ... in order",
        )
    measures: list[tuple[Measure, Node]] = []
    seen: set[int] = set()
    for item in reader.sequence(fields, "measures", f"section {section.id}"):
        measure = _read_measure(reader, item, section)
        if measure.number in seen:
            reader.problem(item, f"duplicate measure number {measure.number} in {section.id}")
        seen.add(measure.number)
        measures.append((measure, item))
    for missing in section.missing_measures:
        if missing in seen:
            reader.problem(
                fields["missing_measures"],
                f"measure {missing} of {section.id} is listed as missing but present",
            )
    if len(reader.problems) == problems_before:  # numbers that can be read: are they in place?
        _check_measure_numbers(reader, fields, section, measures)
    section = Section(
        section.id, section.number, section.title, section.text,
        tuple(m for m, _ in measures), section.missing_measures,
        section.questions, section.keywords, section.marker,
    )
    return section, measures


def _check_measure_numbers(
    reader: _Reader, fields: dict[str, Node], section: Section,
    measures: list[tuple[Measure, Node]],
) -> None:
    """Measures in order; each missing measure listed once and before the last measure;
    every number up to the last one present or missing."""
    last = 0
    for measure, item in measures:
        if measure.number < last:
            reader.problem(
                item, f"measure {measure.number} of {section.id} comes after measure {last}: "
                "list measures in order",
            )
        last = max(last, measure.number)
    present = {m.number for m, _ in measures}
    listed: set[int] = set()
    for missing in section.missing_measures:
        if missing in listed:
            reader.problem(
                fields["missing_measures"],
                f"measure {missing} of {section.id} is listed as missing twice",
            )
        elif missing > last:
            reader.problem(
                fields["missing_measures"],
                f"missing measure {missing} of {section.id} is beyond its last measure "
                f"({last or 'none'})",
            )
        listed.add(missing)
    accounted = present | listed
    # the first number neither present nor missing (found in len(accounted) steps, so a
    # measure numbered 9999999999 costs nothing)
    unaccounted = next(n for n in itertools.count(1) if n not in accounted)
    if unaccounted < last:
        reader.problem(
            fields["measures"],
            f"measure {unaccounted} of {section.id} is neither present nor listed in "
            "missing_measures",
        )


def _read_report(reader: _Reader, root: Node) -> tuple[Report, dict[str, Node]]:
    """Read one file; also return the node of every id for duplicate checks."""
    top = reader.mapping(root, "the file", ("report", "sections"), ("slogans", "synonyms"))
    what = "report"
    # A missing block is reported once (missing key); its fields are then not checked.
    meta = reader.mapping(
        top["report"], what,
        ("id", "name", "source", "intro"),
        ("author", "role", "byline", "title", "issuer", "date", "doc_number", "closing",
         "author_questions"),
    ) if "report" in top else {}
    intro_fields = reader.mapping(
        meta["intro"], "intro", (), ("text", *_PASSAGE_KEYS)
    ) if "intro" in meta else {}
    closing_fields = reader.mapping(
        meta["closing"], "closing", ("text",), _PASSAGE_KEYS
    ) if "closing" in meta else {}
    id_nodes: dict[str, Node] = {}

    def claim(passage_id: str, node: Node) -> None:
        if passage_id in id_nodes:
            line = id_nodes[passage_id].start_mark.line + 1
            reader.problem(node, f"duplicate id '{passage_id}' (first at line {line})")
        else:
            id_nodes[passage_id] = node

    sections = []
    for position, item in enumerate(reader.sequence(top, "sections", "the file"), start=1):
        section, measures = _read_section(reader, item, position)
        claim(section.id, item)
        for measure, measure_item in measures:
            claim(measure.id, measure_item)
        sections.append(section)
    if "sections" in top and not sections:
        reader.problem(top["sections"], "a report needs at least one section")

    passage_texts = {INTRO_ID: reader.text(intro_fields, "text", "intro")}
    if closing_fields:
        passage_texts[CLOSING_ID] = reader.text(closing_fields, "text", "closing")
    for section in sections:
        passage_texts[section.id] = section.text
        for measure in section.measures:
            passage_texts[measure.id] = measure.title + "。" + measure.text

    slogans = []
    for item in reader.sequence(top, "slogans", "the file"):
        fields = reader.mapping(item, "slogan", ("id", "text", "source"), ("name", *_PASSAGE_KEYS))
        slogan = Slogan(
            id=reader.text(fields, "id", "slogan"),
            text=reader.text(fields, "text", "slogan"),
            source=reader.text(fields, "source", "slogan"),
            name=reader.text(fields, "name", "slogan"),
            questions=reader.texts(fields, "questions", "slogan"),
            keywords=reader.texts(fields, "keywords", "slogan"),
        )
        if slogan.id and not _SLOGAN_ID.match(slogan.id):
            reader.problem(fields["id"], f"slogan id '{slogan.id}' should look like 'sl1'")
        claim(slogan.id, item)
        if slogan.source and slogan.source not in passage_texts:
            reader.problem(fields["source"], f"slogan source '{slogan.source}' is not a passage id")
        elif (
            slogan.source and slogan.text and passage_texts[slogan.source]
            and slogan.text not in passage_texts[slogan.source]
        ):
            reader.problem(fields["text"], f"slogan text not found in its source '{slogan.source}'")
        slogans.append(slogan)

    report = Report(
        id=reader.text(meta, "id", what),
        name=reader.text(meta, "name", what),
        author=reader.text(meta, "author", what),
        role=reader.text(meta, "role", what),
        byline=reader.text(meta, "byline", what),
        source=reader.text(meta, "source", what),
        intro=passage_texts[INTRO_ID],
        sections=tuple(sections),
        slogans=tuple(slogans),
        intro_questions=reader.texts(intro_fields, "questions", "intro"),
        intro_keywords=reader.texts(intro_fields, "keywords", "intro"),
        author_questions=reader.texts(meta, "author_questions", what),
        synonyms=_read_synonyms(
            reader, top.get("synonyms"),
            "".join([*passage_texts.values(), *(s.title for s in sections),
                     reader.text(meta, "byline", what), reader.text(meta, "title", what),
                     reader.text(meta, "issuer", what)]),
        ),
        file=reader.file,
        title=reader.text(meta, "title", what),
        issuer=reader.text(meta, "issuer", what),
        date=reader.text(meta, "date", what),
        doc_number=reader.text(meta, "doc_number", what),
        closing=passage_texts.get(CLOSING_ID, ""),
        closing_questions=reader.texts(closing_fields, "questions", "closing"),
        closing_keywords=reader.texts(closing_fields, "keywords", "closing"),
    )
    if report.byline and report.author and report.author not in report.byline:
        reader.problem(meta["byline"], "byline does not name the author")
    source_path = Path(reader.file).parent / report.source
    if report.source and not source_path.is_file():
        reader.problem(meta["source"], f"source file '{report.source}' not found")
    return report, id_nodes


def _read_synonyms(
    reader: _Reader, node: Node | None, text: str
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``term: [everyday word, ...]``; every term is report text, every word used once."""
    if node is None:
        return ()
    if not isinstance(node, MappingNode):
        reader.problem(node, "'synonyms' must map report terms to lists of words")
        return ()
    owner: dict[str, str] = {}
    synonyms = []
    for key_node, value_node in node.value:
        term = str(key_node.value).strip() if isinstance(key_node, ScalarNode) else ""
        if not term:
            reader.problem(key_node, "a synonym term must be text")
            continue
        if term not in text:
            reader.problem(key_node, f"synonym term '{term}' is not in the report text")
        words = reader.texts({"synonyms": value_node}, "synonyms", f"synonyms of '{term}'")
        if not words:
            reader.problem(value_node, f"synonyms of '{term}' must be a non-empty list of text")
        for word in words:
            if word in owner:
                reader.problem(
                    value_node, f"'{word}' is a synonym of both '{owner[word]}' and '{term}'"
                )
            owner[word] = term
        synonyms.append((term, words))
    return tuple(synonyms)


def _compose(path: Path) -> Node | None:
    try:
        return safe_yaml.load_node(path, MAX_CONTENT_BYTES)
    except safe_yaml.YamlFileError as error:
        raise ContentError([Problem(str(path), error.line, error.message)]) from None


def content_files(paths: Iterable[Path]) -> list[Path]:
    """Expand directories to their *.yaml files, sorted; keep files as given."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.yaml")))
        else:
            files.append(path)
    return files


def load_file(path: Path) -> Report:
    """Load and validate one report file; raise ContentError listing every problem."""
    root = _compose(path)
    if root is None:
        raise ContentError([Problem(str(path), 1, "the file is empty")])
    reader = _Reader(str(path))
    report, _ = _read_report(reader, root)
    if reader.problems:
        raise ContentError(reader.problems)
    return Report(**{**report.__dict__, "passages": build_passages(report)})


def validate(paths: Iterable[Path]) -> list[Problem]:
    """Every problem in the given files or directories (empty when all are valid),
    including every sentence the YAML lost, changed or repeated from its source.

    Each path is loaded as the bot loads its content: a file or a folder of one report
    (load_report), or each report of a folder of several, then the reports together
    (library_problems: ids fit for buttons, names apart), as bot.search.library does.
    """
    problems: list[Problem] = []
    for path in paths:
        files = content_files([path]) if path.is_dir() else []
        if len(files) > 1:  # a content folder of several reports: each, then them together
            loaded = []
            for file in files:
                try:
                    report = load_file(file)
                except ContentError as error:
                    problems.extend(error.problems)
                else:
                    problems.extend(source_problems(report, file))
                    loaded.append((file, report))
            problems.extend(library_problems(loaded))
            continue
        try:
            report = load_report(path)
        except ContentError as error:
            problems.extend(error.problems)
        else:
            problems.extend(source_problems(report, Path(report.file)))
    return problems


# --- several reports in one content folder --------------------------------------------

# A report's id is its file's stem: it goes into button data, deep links and inline result
# ids, which Telegram limits to these characters and to 64 bytes.
REPORT_ID = re.compile(r"[a-z0-9_-]+")
ACTION_BYTES = 64  # Telegram's limit for callback_data and inline result ids
# the longest button data naming a passage: fb:good:<report>/<passage>
LONGEST_PASSAGE_ACTION = "fb:good:{report}/{passage}"
_NAME_LINE = re.compile(r"^\s*name:", re.MULTILINE)


def report_id(file: Path) -> str:
    """The id of the report a content file holds: the file's name without .yaml."""
    return file.stem


def library_problems(reports: Sequence[tuple[Path, Report]]) -> list[Problem]:
    """What keeps several reports from being served together: an id (file name) that is
    not a safe [a-z0-9_-] word or would make button data longer than Telegram allows, and
    two reports of one name (their choice buttons could not be told apart)."""
    problems: list[Problem] = []
    names: dict[str, Path] = {}
    for file, report in reports:
        key = report_id(file)
        if not REPORT_ID.fullmatch(key):
            problems.append(Problem(str(file), 0, f"report id '{key}' (the file's name) may hold "
                                    "only a-z, 0-9, _ and -: rename the file"))
            continue
        longest = max((p.id for p in report.passages), key=len, default="")
        size = len(LONGEST_PASSAGE_ACTION.format(report=key, passage=longest).encode())
        if size > ACTION_BYTES:
            problems.append(Problem(
                str(file), 0, f"report id '{key}' (the file's name) is too long: button data "
                f"for passage {longest} would take {size} bytes, Telegram allows {ACTION_BYTES}; "
                f"rename the file to at most {len(key) - (size - ACTION_BYTES)} characters"))
        other = names.get(report.name)
        if other is not None:
            problems.append(Problem(str(file), _name_line(file), f"report name '{report.name}' "
                                    f"is also the name of {other}: name each report differently"))
        names.setdefault(report.name, file)
    return problems


def _name_line(file: Path) -> int:
    """The line of a report file's name: field (0 when it cannot be found)."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return 0
    found = _NAME_LINE.search(text)
    return text.count("\n", 0, found.start()) + 1 if found else 0


def sentences(line: str) -> list[str]:
    """A line cut after 。！？ (a closing quote stays with its sentence)."""
    return [s for s in _SENTENCE_END.split(line) if s]


def _unwrapped(line: str) -> str:
    """A line without the brackets around it: （作者系…） and 作者系… are the same byline."""
    inside = line[1:-1]
    if line[:1] in "（(" and line[-1:] in "）)" and "）" not in inside and ")" not in inside:
        return line[1:-1]
    return line


def _scalar_lines(node: Node) -> list[tuple[str, int]]:
    if isinstance(node, ScalarNode):
        return [(str(node.value), node.start_mark.line + 1)]
    if isinstance(node, SequenceNode):
        return [pair for item in node.value for pair in _scalar_lines(item)]
    if isinstance(node, MappingNode):
        return [pair for _, value in node.value for pair in _scalar_lines(value)]
    return []


def source_problems(report: Report, path: Path) -> list[Problem]:
    """Compare the YAML with its cleaned ``source:`` file, sentence by sentence: name each
    sentence that is missing, changed or repeated, and metadata not in the source."""
    from bot.cleaning import clean_text  # the cleaner is only needed here

    source = path.parent / report.source
    try:
        raw = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []  # reported by the loader (source file not found)
    root = _compose(path)
    nodes = _scalar_lines(root) if root is not None else []

    def line_of(text: str) -> int:
        """The YAML line holding text: its start, or its end (a heading's title follows
        its number, which the YAML keeps apart)."""
        for probe in (text[:20], text[-12:]):
            line = next((line for value, line in nodes if probe in value), 0)
            if line:
                return line
        return 1

    problems: list[Problem] = []
    lines = [_unwrapped(line) for line in clean_text(raw).text_lines]
    for value in report.metadata_lines():
        if _unwrapped(value) in lines:
            lines.remove(_unwrapped(value))
        else:
            message = f"'{value}' is not a line of {source}"
            problems.append(Problem(str(path), line_of(value), message))
    expected = [s for line in lines for s in sentences(line)]
    actual = [s for line in report.source_lines() for s in sentences(_unwrapped(line))]
    matcher = difflib.SequenceMatcher(None, expected, actual, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        lost, added = expected[i1:i2], actual[j1:j2]
        # where the YAML should hold a lost sentence: beside its neighbour in the YAML
        near = line_of(actual[max(j1 - 1, 0)]) if actual else 1
        changed = min(len(lost), len(added)) if op == "replace" else 0
        for old, new in zip(lost[:changed], added[:changed], strict=True):
            problems.append(Problem(
                str(path), line_of(new),
                f"sentence changed: '{_clip(new)}' (source: '{_clip(old)}')",
            ))
        for sentence in lost[changed:]:
            problems.append(Problem(str(path), near, f"sentence missing: '{_clip(sentence)}'"))
        for sentence in added[changed:]:
            what = "repeated" if sentence in expected else "not in the source"
            problems.append(Problem(
                str(path), line_of(sentence), f"sentence {what}: '{_clip(sentence)}'"
            ))
    return problems


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def load_report(path: Path) -> Report:
    """One report: a YAML file, or a directory holding exactly one (a folder of several
    is served by bot.search.library, each file with load_file)."""
    files = content_files([path])
    if len(files) != 1:
        found = ", ".join(f.name for f in files) or "none"
        raise ContentError(
            [Problem(str(path), 0, f"expected exactly one report (*.yaml), found {found}")]
        )
    return load_file(files[0])


# --- plain data (the index cache) ------------------------------------------------


def report_as_data(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data, without its passages (they are derived)."""
    data = asdict(report)
    del data["passages"]
    return data


def report_from_data(data: dict[str, Any]) -> Report:
    """The report ``report_as_data`` described (after a JSON round trip); TypeError or
    KeyError when data is not of that shape."""
    fields = _as_tuples(data)
    report = Report(**{
        **fields,
        "sections": tuple(
            Section(**{**section, "measures": tuple(Measure(**m) for m in section["measures"])})
            for section in fields["sections"]
        ),
        "slogans": tuple(Slogan(**slogan) for slogan in fields["slogans"]),
    })
    return replace(report, passages=build_passages(report))


def _as_tuples(value: Any) -> Any:
    """JSON arrays back to the tuples the frozen model holds, at any depth."""
    if isinstance(value, list):
        return tuple(_as_tuples(item) for item in value)
    if isinstance(value, dict):
        return {key: _as_tuples(item) for key, item in value.items()}
    return value
