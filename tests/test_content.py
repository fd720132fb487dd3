"""The content loader: YAML -> frozen model, and every validation error with its FILE:LINE."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.content import (
    ContentError,
    Measure,
    Passage,
    Report,
    Section,
    Slogan,
    load_file,
    load_report,
    validate,
)

ROOT = Path(__file__).resolve().parents[1]
CONTENT = ROOT / "content"
QUESTIONS = ROOT / "tests" / "data" / "questions.yaml"

# A small valid report that exercises every kind of field. The broken variants below
# are one edit away from it, and each expected problem names the line it is on.
MINIMAL = """\
report:
  id: mini
  name: 小报告
  author: 张三
  role: 某区政府办公室主任
  byline: 作者系某区政府办公室主任张三
  source: raw/mini.txt
  intro:
    text: 政府办认真履行“参谋、服务”的职责。
    questions: [政府办的职责是什么]
    keywords: [职责]
  author_questions: [作者是谁]
sections:
  - id: s1
    number: 1
    title: 着力思想提标,增强大局意识
    text: 提出“对党忠诚、爱国为民”的精神。
    questions: [思想方面怎么做]
    keywords: [思想提标]
    measures:
      - id: s1.m1
        number: 1
        title: 立足对党忠诚,坚定政治信仰
        text: 增强党性意识。
      - id: s1.m2
        number: 2
        title: 立足爱国为民,贯彻宗旨意识
        text: 保持为民服务的本色。
  - id: s2
    number: 2
    title: 着力作风提效,确保工作落实
    text: 厚植高效的作风。
    missing_measures: [1]
    measures:
      - id: s2.m2
        number: 2
        title: 营造合干氛围
        text: 鼓励新老结对。
slogans:
  - id: sl1
    text: 参谋、服务
    name: 职责
    source: intro
  - id: sl2
    text: 对党忠诚、爱国为民
    source: s1
"""


def line_of(text: str, marker: str) -> int:
    """1-based line on which ``marker`` (unique in ``text``) starts."""
    assert text.count(marker) == 1, f"marker {marker!r} must occur exactly once"
    return text[: text.index(marker)].count("\n") + 1


# The source MINIMAL was cleaned from: validate compares the two sentence by sentence.
MINIMAL_RAW = """\
政府办认真履行“参谋、服务”的职责。
一、着力思想提标,增强大局意识
提出“对党忠诚、爱国为民”的精神。
一是立足对党忠诚,坚定政治信仰。增强党性意识。
二是立足爱国为民,贯彻宗旨意识。保持为民服务的本色。
二、着力作风提效,确保工作落实
厚植高效的作风。
二是营造合干氛围。鼓励新老结对。
（作者系某区政府办公室主任张三）
"""


def write_report(directory: Path, text: str, raw: bool = True) -> Path:
    """Write a report file (and, unless ``raw`` is False, the raw source it names)."""
    path = directory / "mini.yaml"
    path.write_text(text, encoding="utf-8")
    if raw:
        (directory / "raw").mkdir(exist_ok=True)
        (directory / "raw" / "mini.txt").write_text(MINIMAL_RAW, encoding="utf-8")
    return path


def replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert text.count(old) == 1, f"{old!r} must occur exactly once in the minimal report"
        return text.replace(old, new)

    return edit


# (case, edit of MINIMAL, [(marker of the line in the edited text, message), ...])
BROKEN: list[tuple[str, Callable[[str], str], list[tuple[str, str]]]] = [
    (
        "invalid-yaml-syntax",
        replace("title: 着力思想提标,增强", "title: 着力思想提标: 增强"),
        [("title: 着力思想提标: 增强", "invalid YAML: mapping values are not allowed here")],
    ),
    (
        "invalid-yaml-unclosed-list",
        replace("keywords: [思想提标]", "keywords: [思想提标"),
        [("    measures:\n      - id: s1.m1",
          "invalid YAML: expected ',' or ']', but got ':'")],
    ),
    (
        "unknown-key-in-section",
        replace("    keywords: [思想提标]\n", "    keywords: [思想提标]\n    colour: red\n"),
        [("colour: red", "unknown key 'colour' in section")],
    ),
    (
        "unknown-key-in-report",
        replace("  name: 小报告\n", "  name: 小报告\n  editor: 李四\n"),
        [("editor: 李四", "unknown key 'editor' in report")],
    ),
    (
        "unknown-key-in-measure",
        replace(
            "        text: 增强党性意识。\n",
            "        text: 增强党性意识。\n        note: x\n",
        ),
        [("note: x", "unknown key 'note' in measure of section s1")],
    ),
    (
        "unknown-key-in-slogan",
        replace("    name: 职责\n", "    name: 职责\n    author: 张三\n"),
        [("    author: 张三", "unknown key 'author' in slogan")],
    ),
    (
        "unknown-top-level-key",
        lambda text: text + "extra: 1\n",
        [("extra: 1", "unknown key 'extra' in the file")],
    ),
    (
        "duplicate-key",
        replace("    number: 1\n    title", "    number: 1\n    number: 1\n    title"),
        [("    number: 1\n    title", "duplicate key 'number' (first at line 15)")],
    ),
    (
        "missing-key-in-section",
        replace("    title: 着力作风提效,确保工作落实\n", ""),
        [("  - id: s2\n", "missing key 'title' in section")],
    ),
    (
        "missing-key-in-measure",
        replace("        title: 立足对党忠诚,坚定政治信仰\n", ""),
        [("      - id: s1.m1", "missing key 'title' in measure of section s1")],
    ),
    (
        "missing-key-in-report",
        replace("  name: 小报告\n", ""),
        [("  id: mini", "missing key 'name' in report")],
    ),
    (
        "missing-key-in-slogan",
        replace("    source: s1\n", ""),
        [("  - id: sl2", "missing key 'source' in slogan")],
    ),
    (
        "missing-report-block",
        lambda text: text[text.index("sections:"):],
        [("sections:", "missing key 'report' in the file")],
    ),
    (
        "missing-intro",
        replace(
            "  intro:\n    text: 政府办认真履行“参谋、服务”的职责。\n"
            "    questions: [政府办的职责是什么]\n    keywords: [职责]\n", "",
        ),
        [("  id: mini", "missing key 'intro' in report")],
    ),
    (
        "wrong-type-text",
        replace("    title: 着力作风提效,确保工作落实", "    title: 2024"),
        [("title: 2024", "'title' in section must be text")],
    ),
    (
        "wrong-type-text-list",
        replace("    text: 厚植高效的作风。", "    text: [厚植高效的作风。]"),
        [("text: [厚植", "'text' in section must be text")],
    ),
    (
        "wrong-type-number",
        replace("        number: 2\n        title: 营造",
                "        number: 二\n        title: 营造"),
        [("number: 二", "'number' in measure of section s2 must be a whole number")],
    ),
    (
        "wrong-type-number-float",
        replace("    number: 2\n    title: 着力作风", "    number: 2.5\n    title: 着力作风"),
        [("number: 2.5", "'number' in section must be a whole number")],
    ),
    (
        "number-below-one",
        replace("        number: 1\n", "        number: 0\n"),
        [("number: 0", "'number' in measure of section s1 must be 1 or more")],
    ),
    (
        "wrong-type-list",
        replace("missing_measures: [1]", "missing_measures: 1"),
        [("missing_measures: 1", "'missing_measures' in section must be a list")],
    ),
    (
        "wrong-type-list-of-questions",
        replace("questions: [思想方面怎么做]", "questions: 思想方面怎么做"),
        [("questions: 思想方面怎么做", "'questions' in section must be a list")],
    ),
    (
        "wrong-type-list-item-number",
        replace("missing_measures: [1]", "missing_measures: [一]"),
        [("missing_measures: [一]",
          "items of 'missing_measures' in section must be a whole number")],
    ),
    (
        "wrong-type-list-item-text",
        replace("keywords: [思想提标]", "keywords: [思想提标, 2]"),
        [("keywords: [思想提标, 2]", "items of 'keywords' in section must be text")],
    ),
    (
        "wrong-type-mapping",
        replace(
            "      - id: s2.m2\n        number: 2\n        title: 营造合干氛围\n"
            "        text: 鼓励新老结对。\n", "      - 营造合干氛围\n",
        ),
        [("      - 营造合干氛围", "measure of section s2 must be a mapping")],
    ),
    (
        "empty-text",
        replace("    text: 厚植高效的作风。", '    text: ""'),
        [('text: ""', "'text' in section is empty")],
    ),
    (
        "blank-text-in-measure",
        replace("        text: 鼓励新老结对。", "        text: '   '"),
        [("text: '   '", "'text' in measure of section s2 is empty")],
    ),
    (
        "empty-list-item",
        replace("keywords: [职责]", "keywords: [职责, '']"),
        [("keywords: [职责, '']", "empty item in 'keywords' of intro")],
    ),
    (
        "duplicate-id",
        replace("  - id: sl2\n", "  - id: sl1\n"),
        [("  - id: sl1\n    text: 对党忠诚",
          f"duplicate id 'sl1' (first at line {line_of(MINIMAL, '  - id: sl1')})")],
    ),
    (
        "duplicate-measure-number",
        replace("      - id: s1.m2\n        number: 2", "      - id: s1.m1\n        number: 1"),
        [
            ("      - id: s1.m1\n        number: 1\n        title: 立足爱国",
             "duplicate measure number 1 in s1"),
            ("      - id: s1.m1\n        number: 1\n        title: 立足爱国",
             f"duplicate id 's1.m1' (first at line {line_of(MINIMAL, '      - id: s1.m1')})"),
        ],
    ),
    (
        "measure-id-not-matching-number",
        replace("      - id: s1.m2", "      - id: s1.m3"),
        [("id: s1.m3", "measure id 's1.m3' should be 's1.m2'")],
    ),
    (
        "section-id-not-matching-number",
        replace("  - id: s2\n", "  - id: s3\n"),
        [
            ("  - id: s3", "section id 's3' should be 's2'"),
            ("      - id: s2.m2", "measure id 's2.m2' should be 's3.m2'"),
        ],
    ),
    (
        "slogan-id-form",
        replace("  - id: sl2\n", "  - id: slogan2\n"),
        [("id: slogan2", "slogan id 'slogan2' should look like 'sl1'")],
    ),
    (
        "dangling-slogan-source",
        replace("    source: s1\n", "    source: s9\n"),
        [("source: s9", "slogan source 's9' is not a passage id")],
    ),
    (
        "slogan-text-not-in-source",
        replace("    text: 对党忠诚、爱国为民\n", "    text: 对党忠诚、保障有力\n"),
        [("text: 对党忠诚、保障有力", "slogan text not found in its source 's1'")],
    ),
    (
        "missing-measure-present",
        replace("missing_measures: [1]", "missing_measures: [1, 2]"),
        [("missing_measures: [1, 2]", "measure 2 of s2 is listed as missing but present")],
    ),
    (
        "section-number-out-of-place",
        replace("    number: 2\n    title: 着力作风", "    number: 3\n    title: 着力作风"),
        [("  - id: s2\n", "section id 's2' should be 's3'"),
         ("    number: 3\n", "section number 3 is section 2 of the file: "
                              "sections are numbered 1, 2, 3, ... in order")],
    ),
    (
        "first-measure-unaccounted",
        replace(
            "      - id: s1.m1\n        number: 1\n        title: 立足对党忠诚,坚定政治信仰\n"
            "        text: 增强党性意识。\n",
            "",
        ),
        [("      - id: s1.m2",
          "measure 1 of s1 is neither present nor listed in missing_measures")],
    ),
    (
        "measure-before-a-lower-one",
        lambda text: text.replace(
            "      - id: s1.m1\n        number: 1\n        title: 立足对党忠诚,坚定政治信仰\n"
            "        text: 增强党性意识。\n", "",
        ).replace(
            "        text: 保持为民服务的本色。\n",
            "        text: 保持为民服务的本色。\n      - id: s1.m1\n        number: 1\n"
            "        title: 立足对党忠诚,坚定政治信仰\n        text: 增强党性意识。\n",
        ),
        [("      - id: s1.m1", "measure 1 of s1 comes after measure 2: list measures in order")],
    ),
    (
        "missing-measure-twice",
        replace("missing_measures: [1]", "missing_measures: [1, 1]"),
        [("missing_measures: [1, 1]", "measure 1 of s2 is listed as missing twice")],
    ),
    (
        "missing-measure-beyond-the-last",
        replace("missing_measures: [1]", "missing_measures: [1, 3]"),
        [("missing_measures: [1, 3]", "missing measure 3 of s2 is beyond its last measure (2)")],
    ),
    (
        "missing-measure-below-one",
        replace("missing_measures: [1]", "missing_measures: [0, 1]"),
        [("missing_measures: [0, 1]",
          "items of 'missing_measures' in section must be 1 or more")],
    ),
    (
        "missing-measure-not-listed",
        replace("    missing_measures: [1]\n", ""),
        [("      - id: s2.m2",
          "measure 1 of s2 is neither present nor listed in missing_measures")],
    ),
    (
        "measure-number-far-beyond-the-others",
        replace("      - id: s2.m2\n        number: 2\n",
                "      - id: s2.m9999999999\n        number: 9999999999\n"),
        [("        number: 9999999999",
          "'number' in measure of section s2 must be at most 99")],
    ),
    (
        "number-too-long-to-read",
        replace("        number: 1\n", "        number: " + "9" * 5000 + "\n"),
        [("number: 999", "'number' in measure of section s1 must be a whole number")],
    ),
    (
        "byline-without-author",
        replace("byline: 作者系某区政府办公室主任张三", "byline: 作者系某区政府办公室主任李四"),
        [("byline: 作者系", "byline does not name the author")],
    ),
    (
        "no-sections",
        lambda text: text[: text.index("sections:")] + "sections: []\n",
        [("sections: []", "a report needs at least one section")],
    ),
    (
        "file-not-a-mapping",
        lambda text: "- 一、着力思想提标\n- 二、着力业务提速\n",
        [("- 一、", "the file must be a mapping")],
    ),
]

BROKEN_BY_NAME = {case: edit for case, edit, _ in BROKEN}


def test_minimal_report_is_valid(tmp_path: Path) -> None:
    path = write_report(tmp_path, MINIMAL)
    assert validate([path]) == []
    report = load_file(path)
    assert [s.id for s in report.sections] == ["s1", "s2"]
    assert report.section(2).missing_measures == (1,)


@pytest.mark.parametrize(
    ("edit", "expected"), [pytest.param(e, x, id=case) for case, e, x in BROKEN]
)
def test_validation_names_file_and_line(
    tmp_path: Path, edit: Callable[[str], str], expected: list[tuple[str, str]]
) -> None:
    text = edit(MINIMAL)
    path = write_report(tmp_path, text)
    wanted = [f"{path}:{line_of(text, marker)}: {message}" for marker, message in expected]
    assert [str(p) for p in validate([path])] == wanted
    with pytest.raises(ContentError) as error:
        load_file(path)
    assert str(error.value) == "\n".join(wanted)


def test_missing_source_file(tmp_path: Path) -> None:
    path = write_report(tmp_path, MINIMAL, raw=False)
    line = line_of(MINIMAL, "  source: raw/mini.txt")
    assert [str(p) for p in validate([path])] == [
        f"{path}:{line}: source file 'raw/mini.txt' not found"
    ]


@pytest.mark.parametrize(
    "text", ["", "\n\n", "# only a comment\n"], ids=["empty", "blank", "comment"]
)
def test_empty_file(tmp_path: Path, text: str) -> None:
    path = write_report(tmp_path, text)
    assert [str(p) for p in validate([path])] == [f"{path}:1: the file is empty"]


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        ("report:\n  name: 小报告\n".encode("gb18030"), 2, "not UTF-8 text"),
        (b"report:\n  id: mini\n  name: a\x00b\n", 3,
         "invalid YAML: character #x0000: special characters are not allowed"),
    ],
    ids=["not-utf8", "control-character"],
)
def test_unreadable_text_names_its_line(
    tmp_path: Path, data: bytes, line: int, message: str
) -> None:
    path = tmp_path / "mini.yaml"
    path.write_bytes(data)
    assert [str(p) for p in validate([path])] == [f"{path}:{line}: {message}"]


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "nothing.yaml"
    assert [str(p) for p in validate([path])] == [f"{path}:0: file not found"]


def test_directory_without_yaml(tmp_path: Path) -> None:
    assert [str(p) for p in validate([tmp_path])] == [
        f"{tmp_path}:0: expected exactly one report (*.yaml), found none"
    ]


def test_every_problem_of_a_file_is_reported(tmp_path: Path) -> None:
    edits = [BROKEN_BY_NAME["unknown-key-in-section"], BROKEN_BY_NAME["dangling-slogan-source"]]
    text = MINIMAL
    for edit in edits:
        text = edit(text)
    problems = validate([write_report(tmp_path, text)])
    assert [p.message for p in problems] == [
        "unknown key 'colour' in section", "slogan source 's9' is not a passage id",
    ]


@pytest.mark.parametrize(("found", "names"), [(0, "none"), (2, "a.yaml, b.yaml")])
def test_load_report_needs_exactly_one_file(tmp_path: Path, found: int, names: str) -> None:
    for name in ["a.yaml", "b.yaml"][:found]:
        (tmp_path / name).write_text(MINIMAL, encoding="utf-8")
    with pytest.raises(ContentError, match=re.escape(f"found {names}")) as error:
        load_report(tmp_path)
    if not found:  # a folder of several is served as several reports (tests/test_reports.py)
        assert validate([tmp_path]) == error.value.problems  # validate loads as the bot loads


# --- the real content -----------------------------------------------------------


@pytest.fixture(scope="module")
def report() -> Report:
    return load_report(CONTENT)


def test_real_content_validates() -> None:
    assert validate([CONTENT]) == []


def test_passage_ids_are_unique(report: Report) -> None:
    ids = [p.id for p in report.passages]
    assert len(ids) == len(set(ids))


def test_ids_follow_numbers(report: Report) -> None:
    for section in report.sections:
        assert section.id == f"s{section.number}"
        assert [m.id for m in section.measures] == [
            f"{section.id}.m{m.number}" for m in section.measures
        ]
    assert [s.id for s in report.slogans] == [f"sl{n}" for n in range(1, len(report.slogans) + 1)]


def test_ids_used_by_the_question_set_exist(report: Report) -> None:
    """Ids are stable: the evaluation set (and users' deep links) rely on them."""
    ids = {p.id for p in report.passages}
    lost = {f"{s.id}.m{n}" for s in report.sections for n in s.missing_measures}
    entries = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    used = {i for e in entries for i in e["expect"] if re.fullmatch(r"s\d+(\.m\d+)?|sl\d+", i)}
    assert used, "the question set should reference passages"
    assert used - ids - lost == set()


def test_section_three_records_lost_measures(report: Report) -> None:
    section = report.section(3)
    assert section is not None
    assert section.missing_measures == (1, 2, 3)
    assert [m.number for m in section.measures] == [4]


def test_passages_follow_reading_order(report: Report) -> None:
    expected = ["intro"]
    for section in report.sections:
        expected += [section.id, *(m.id for m in section.measures)]
    expected += ["author", *(s.id for s in report.slogans)]
    assert [p.id for p in report.passages] == expected


def test_slogan_passages_show_their_source(report: Report) -> None:
    passages = {p.id: p for p in report.passages}
    for slogan in report.slogans:
        passage, source = passages[slogan.id], passages[slogan.source]
        assert passage.kind == "slogan"
        assert (passage.text, passage.path, passage.parent) == (source.text, source.path, source.id)


@pytest.mark.parametrize(
    ("get", "attribute"),
    [
        (lambda r: r, "intro"),
        (lambda r: r.sections[0], "title"),
        (lambda r: r.sections[0].measures[0], "text"),
        (lambda r: r.slogans[0], "source"),
        (lambda r: r.passages[0], "path"),
    ],
    ids=["Report", "Section", "Measure", "Slogan", "Passage"],
)
def test_model_is_frozen(report: Report, get: Callable, attribute: str) -> None:
    obj = get(report)
    assert isinstance(obj, Report | Section | Measure | Slogan | Passage)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, attribute, "changed")
    assert isinstance(report.sections, tuple) and isinstance(report.sections[0].measures, tuple)


@pytest.mark.parametrize(
    ("synonyms", "marker", "message"),
    [
        ("synonyms:\n  作风: [风气]\n  天气: [气候]\n", "天气:",
         "synonym term '天气' is not in the report text"),
        ("synonyms:\n  作风: [风气]\n  本色: [风气]\n", "本色:",
         "'风气' is a synonym of both '作风' and '本色'"),
        ("synonyms:\n  作风: []\n", "作风:", "synonyms of '作风' must be a non-empty list of text"),
        ("synonyms: [作风]\n", "synonyms:", "'synonyms' must map report terms to lists of words"),
    ],
)
def test_synonym_problems_name_their_line(
    tmp_path: Path, synonyms: str, marker: str, message: str
) -> None:
    text = MINIMAL + synonyms
    path = write_report(tmp_path, text)
    line = line_of(text, marker)  # the term's own line (its list sits there too)
    assert [str(p) for p in validate([path])] == [f"{path}:{line}: {message}"]


def test_synonyms_are_loaded_in_order(tmp_path: Path) -> None:
    synonyms = "synonyms:\n  作风: [风气, 工作作风]\n  本色: [初心]\n"
    path = write_report(tmp_path, MINIMAL + synonyms)
    assert load_file(path).synonyms == (("作风", ("风气", "工作作风")), ("本色", ("初心",)))
