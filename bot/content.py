"""The report FAQ: YAML files -> frozen, validated model.

Validation walks the YAML node tree (not the parsed dicts) so that every
problem can name the file and line it comes from: ``FILE:LINE: message``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

NUMERALS = "一二三四五六七八九十"
INTRO_ID = "intro"
AUTHOR_ID = "author"
_SECTION_ID = re.compile(r"^s(\d+)$")
_MEASURE_ID = re.compile(r"^s(\d+)\.m(\d+)$")
_SLOGAN_ID = re.compile(r"^sl\d+$")


def numeral(number: int) -> str:
    """Chinese ordinal numeral for 1..19 as the report writes it (一, 二, ..., 十二)."""
    if number <= 10:
        return NUMERALS[number - 1]
    return "十" + NUMERALS[number - 11]


def chinese_number(numeral: str) -> int:
    """Value of a small Chinese numeral as used for ordinals (一 ... 十九)."""
    if numeral == "十":
        return 10
    if numeral.startswith("十"):
        return 10 + NUMERALS.index(numeral[1]) + 1
    if numeral.endswith("十"):
        return (NUMERALS.index(numeral[0]) + 1) * 10
    if "十" in numeral:
        tens, ones = numeral.split("十")
        return (NUMERALS.index(tens) + 1) * 10 + NUMERALS.index(ones) + 1
    return NUMERALS.index(numeral) + 1


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


class ContentError(Exception):
    """The content has problems; ``problems`` lists each with file and line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


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
            key = key_node.value if isinstance(key_node, ScalarNode) else str(key_node)
            if key not in allowed:
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

    def integer(self, fields: dict[str, Node], key: str, what: str) -> int:
        node = fields.get(key)
        if node is None:
            return 0
        if not isinstance(node, ScalarNode) or node.tag != "tag:yaml.org,2002:int":
            self.problem(node, f"'{key}' in {what} must be a whole number")
            return 0
        value = int(node.value)
        if value < 1:
            self.problem(node, f"'{key}' in {what} must be 1 or more")
        return value

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
            if not isinstance(item, ScalarNode) or item.tag != "tag:yaml.org,2002:int":
                self.problem(item, f"items of '{key}' in {what} must be whole numbers")
            else:
                values.append(int(item.value))
        return tuple(values)


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


def _read_section(reader: _Reader, node: Node) -> tuple[Section, list[tuple[Measure, Node]]]:
    """Read a section; also return each measure with its node (for duplicate-id checks)."""
    what = "section"
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
    section = Section(
        section.id, section.number, section.title, section.text,
        tuple(m for m, _ in measures), section.missing_measures,
        section.questions, section.keywords,
    )
    return section, measures


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
    for item in reader.sequence(top, "sections", "the file"):
        section, measures = _read_section(reader, item)
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
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise ContentError([Problem(str(path), line, "not UTF-8 text")]) from None
    except OSError as error:
        raise ContentError([Problem(str(path), 0, f"cannot read ({error.strerror})")]) from None
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise ContentError([Problem(str(path), line, f"invalid YAML: {error.problem}")]) from None
    except yaml.reader.ReaderError as error:  # a control character: it has a position, no mark
        line = text[: error.position].count("\n") + 1
        message = f"invalid YAML: character #x{error.character:04x}: {error.reason}"
        raise ContentError([Problem(str(path), line, message)]) from None


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
    if not path.is_file():
        raise ContentError([Problem(str(path), 0, "file not found")])
    root = _compose(path)
    if root is None:
        raise ContentError([Problem(str(path), 1, "the file is empty")])
    reader = _Reader(str(path))
    report, _ = _read_report(reader, root)
    if reader.problems:
        raise ContentError(reader.problems)
    return Report(**{**report.__dict__, "passages": build_passages(report)})


def validate(paths: Iterable[Path]) -> list[Problem]:
    """Every problem in the given files or directories (empty when all are valid)."""
    files = content_files(paths)
    if not files:
        return [Problem(str(p), 0, "no content (*.yaml) found") for p in paths]
    problems: list[Problem] = []
    for path in files:
        try:
            load_file(path)
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
