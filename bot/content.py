"""The report FAQ: YAML files -> frozen, validated model.

Validation walks the YAML node tree (not the parsed dicts) so that every
problem can name the file and line it comes from: ``FILE:LINE: message``.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot import safe_yaml
from bot.errors import FaqbotError

NUMERALS = "一二三四五六七八九十"
INTRO_ID = "intro"
AUTHOR_ID = "author"
_SECTION_ID = re.compile(r"^s(\d+)$")
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

    @property
    def heading(self) -> str:
        return f"{numeral(self.number)}是{self.title}"

    @property
    def source_line(self) -> str:
        """The measure as one line of the report."""
        return f"{self.heading}。{self.text}"


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

    @property
    def heading(self) -> str:
        return f"{numeral(self.number)}、{self.title}"

    @property
    def short_heading(self) -> str:
        return f"{numeral(self.number)}、{short_title(self.title)}"

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


@dataclass(frozen=True)
class Passage:
    """Anything the bot can answer with, flattened for search and replies."""

    id: str
    kind: str  # intro | section | measure | slogan | author
    title: str
    text: str
    path: str
    questions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    parent: str = ""  # section id of a measure, source passage of a slogan


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

    def section(self, number: int) -> Section | None:
        return next((s for s in self.sections if s.number == number), None)

    def source_lines(self) -> list[str]:
        """The report text as lines, in source order: what the raw file holds minus junk."""
        lines = [self.intro]
        for section in self.sections:
            lines.append(section.heading)
            lines.append(section.text)
            lines.extend(m.source_line for m in section.measures)
        lines.append(self.byline)
        return lines


def build_passages(report: Report) -> tuple[Passage, ...]:
    """Flatten a report into passages, in reading order (◀ ▶ follow this order)."""
    passages = [
        Passage(
            INTRO_ID, "intro", "引言", report.intro, "引言",
            report.intro_questions, report.intro_keywords,
        )
    ]
    by_id: dict[str, Passage] = {INTRO_ID: passages[0]}
    for section in report.sections:
        passage = Passage(
            section.id, "section", section.heading, section.text, section.short_heading,
            section.questions, section.keywords,
        )
        passages.append(passage)
        by_id[section.id] = passage
        for measure in section.measures:
            short = f"{numeral(measure.number)}是{short_title(measure.title)}"
            path = f"{section.short_heading} › {short}"
            passage = Passage(
                measure.id, "measure", measure.heading, measure.text, path,
                measure.questions, measure.keywords, section.id,
            )
            passages.append(passage)
            by_id[measure.id] = passage
    passages.append(
        Passage(
            AUTHOR_ID, "author", "作者", report.byline, "作者",
            report.author_questions, (report.author, report.role),
        )
    )
    for slogan in report.slogans:
        source = by_id[slogan.source]
        title = f"“{slogan.text}”" if "“" not in slogan.text else slogan.text
        passages.append(
            Passage(
                slogan.id, "slogan", title, source.text, source.path,
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
    fields = reader.mapping(node, what, ("id", "number", "title", "text"), _PASSAGE_KEYS)
    measure = Measure(
        id=reader.text(fields, "id", what),
        number=reader.integer(fields, "number", what),
        title=reader.text(fields, "title", what),
        text=reader.text(fields, "text", what),
        questions=reader.texts(fields, "questions", what),
        keywords=reader.texts(fields, "keywords", what),
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
        node, what, ("id", "number", "title", "text", "measures"),
        ("missing_measures", *_PASSAGE_KEYS),
    )
    section = Section(
        id=reader.text(fields, "id", what),
        number=reader.integer(fields, "number", what),
        title=reader.text(fields, "title", what),
        text=reader.text(fields, "text", what),
        missing_measures=reader.integers(fields, "missing_measures", what),
        questions=reader.texts(fields, "questions", what),
        keywords=reader.texts(fields, "keywords", what),
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
        section.questions, section.keywords,
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
        ("id", "name", "author", "role", "byline", "source", "intro"), ("author_questions",),
    ) if "report" in top else {}
    intro_fields = reader.mapping(
        meta["intro"], "intro", ("text",), _PASSAGE_KEYS
    ) if "intro" in meta else {}
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
                     reader.text(meta, "byline", what)]),
        ),
        file=reader.file,
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
    """Every problem in the given files or directories (empty when all are valid).

    Each path is loaded exactly as the bot loads its content (load_report), so a
    directory holding two reports fails here as it would fail there.
    """
    problems: list[Problem] = []
    for path in paths:
        try:
            load_report(path)
        except ContentError as error:
            problems.extend(error.problems)
    return problems


def load_report(path: Path) -> Report:
    """The one report the bot serves: a YAML file, or a directory holding exactly one."""
    files = content_files([path])
    if len(files) != 1:
        found = ", ".join(f.name for f in files) or "none"
        raise ContentError(
            [Problem(str(path), 0, f"expected exactly one report (*.yaml), found {found}")]
        )
    return load_file(files[0])
