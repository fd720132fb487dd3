"""Content fidelity: the YAML holds the scraped report's text exactly once, junk removed.

The raw file is cleaned here by an implementation of our own (deliberately not
bot.importer): strip the printable-ASCII junk glued to the ends of each line.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.content import load_report

ROOT = Path(__file__).resolve().parents[1]
YAML_FILE = ROOT / "content" / "siming-report.yaml"
RAW_FILE = ROOT / "content" / "raw" / "siming-report.txt"
SEED_FILE = ROOT.parent / "shared" / "seed" / "report-raw.txt"

# The junk is runs of printable ASCII (letters, digits, punctuation, spaces); the report
# itself is Chinese and never starts or ends a line with ASCII.
_ASCII = "".join(chr(c) for c in range(0x20, 0x7F)) + "\t\r\n"
JUNK_PUNCTUATION = set("!#$%&*+/;<=>?@[\\]^_`{|}~")
ORDINALS = "一二三四五六七八九十"


def cleaned_raw_lines() -> list[str]:
    lines = (line.strip(_ASCII) for line in RAW_FILE.read_text(encoding="utf-8").split("\n"))
    return [line for line in lines if line]


def sentences(text: str) -> list[str]:
    """Split after 。！？; a heading without a full stop is one sentence."""
    return [s for s in re.split(r"(?<=[。！？])", text) if s]


def yaml_document() -> dict:
    return yaml.safe_load(YAML_FILE.read_text(encoding="utf-8"))


def yaml_report_lines(document: dict) -> list[str]:
    """The report's lines rebuilt from the YAML fields (headings get their numerals back)."""
    lines = [document["report"]["intro"]["text"]]
    for section in document["sections"]:
        lines.append(f"{ORDINALS[section['number'] - 1]}、{section['title']}")
        lines.append(section["text"])
        for measure in section["measures"]:
            ordinal = ORDINALS[measure["number"] - 1]
            lines.append(f"{ordinal}是{measure['title']}。{measure['text']}")
    lines.append(document["report"]["byline"])
    return lines


RAW_SENTENCES = [s for line in cleaned_raw_lines() for s in sentences(line)]
YAML_SENTENCES = [s for line in yaml_report_lines(yaml_document()) for s in sentences(line)]


def test_raw_file_is_the_seed() -> None:
    if not SEED_FILE.is_file():
        pytest.skip(f"{SEED_FILE} not present")
    assert RAW_FILE.read_bytes() == SEED_FILE.read_bytes()


def test_cleaning_leaves_no_junk_in_the_raw_lines() -> None:
    lines = cleaned_raw_lines()
    raw = RAW_FILE.read_text(encoding="utf-8").splitlines()
    assert len(lines) == sum(1 for line in raw if re.search(r"[\u4e00-\u9fff]", line))
    for line in lines:
        assert not re.search(r"[A-Za-z]", line), line
        assert not JUNK_PUNCTUATION & set(line), line


@pytest.mark.parametrize("sentence", RAW_SENTENCES, ids=lambda s: s[:12])
def test_every_report_sentence_is_in_the_yaml_exactly_once(sentence: str) -> None:
    assert YAML_SENTENCES.count(sentence) == RAW_SENTENCES.count(sentence) == 1


@pytest.mark.parametrize("sentence", YAML_SENTENCES, ids=lambda s: s[:12])
def test_no_yaml_sentence_is_invented(sentence: str) -> None:
    assert sentence in RAW_SENTENCES


def test_sentences_keep_the_report_order() -> None:
    assert YAML_SENTENCES == RAW_SENTENCES


def test_model_source_lines_are_the_cleaned_raw_lines() -> None:
    report = load_report(YAML_FILE)
    assert [*report.source_lines(), *report.metadata_lines()] == cleaned_raw_lines()


def _strings(node: object, key: str = "") -> Iterator[tuple[str, str]]:
    """Every text value of the YAML with its key, ids and file references excluded."""
    if isinstance(node, dict):
        for k, value in node.items():
            if k not in ("id", "source"):
                yield from _strings(value, k)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value, key)
    elif isinstance(node, str):
        yield key, node


TEXT_FIELDS = list(_strings(yaml_document()))


@pytest.mark.parametrize(("key", "text"), TEXT_FIELDS, ids=lambda v: v[:12])
def test_no_junk_left_in_any_text_field(key: str, text: str) -> None:
    assert not re.search(r"[A-Za-z]", text)
    assert not JUNK_PUNCTUATION & set(text)
    if key in ("text", "title", "byline", "author", "role"):
        assert not set("'\"()") & set(text)  # the report quotes and brackets in Chinese


# --- the importer ---------------------------------------------------------------


@pytest.fixture(scope="module")
def draft(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """`faqbot import content/raw/siming-report.txt -o draft.yaml`, parsed."""
    directory = tmp_path_factory.mktemp("draft")
    (directory / "raw").mkdir()
    shutil.copy(RAW_FILE, directory / "raw" / RAW_FILE.name)
    path = directory / "draft.yaml"
    assert main(["import", str(RAW_FILE), "-o", str(path)]) == 0
    return yaml.safe_load(path.read_text(encoding="utf-8")), path


def test_import_draft_has_the_yaml_report_texts(draft: tuple[dict, Path]) -> None:
    document, final = draft[0], yaml_document()
    for key in ("author", "role", "byline"):
        assert document["report"][key] == final["report"][key], key
    # source: is written relative to the draft's folder, so it validates where it is
    assert (draft[1].parent / document["report"]["source"]).resolve() == RAW_FILE.resolve()
    assert document["report"]["intro"]["text"] == final["report"]["intro"]["text"]
    assert yaml_report_lines(document) == yaml_report_lines(final)


@pytest.mark.parametrize("number", [1, 2, 3])
def test_import_draft_sections_equal_the_yaml(draft: tuple[dict, Path], number: int) -> None:
    fields = ("id", "number", "title", "text")
    ours = next(s for s in draft[0]["sections"] if s["number"] == number)
    final = next(s for s in yaml_document()["sections"] if s["number"] == number)
    assert {k: ours[k] for k in fields} == {k: final[k] for k in fields}
    assert ours.get("missing_measures", []) == final.get("missing_measures", [])
    assert [{k: m[k] for k in fields} for m in ours["measures"]] == [
        {k: m[k] for k in fields} for m in final["measures"]
    ]


def test_import_draft_slogans_match_the_curated_ones(draft: tuple[dict, Path]) -> None:
    """Each quote the importer finds is in a curated slogan of the same passage, and
    each curated slogan holds at least one of them (curators may join quotes)."""
    found = [(s["text"], s["source"]) for s in draft[0]["slogans"]]
    curated = [(s["text"], s["source"]) for s in yaml_document()["slogans"]]
    for text, source in found:
        assert any(text in c and source == s for c, s in curated), text
    for text, source in curated:
        assert any(f in text and source == s for f, s in found), text


def test_import_draft_is_valid_content(draft: tuple[dict, Path]) -> None:
    report = load_report(draft[1])
    assert [*report.source_lines(), *report.metadata_lines()] == cleaned_raw_lines()


def test_importer_cleans_each_line_like_the_independent_cleaner() -> None:
    from bot.cleaning import clean_text

    lines = clean_text(RAW_FILE.read_text(encoding="utf-8")).text_lines
    # the byline keeps its own brackets: (作者系…尤小波); the test's cleaner strips all ASCII
    assert [line.strip("()") for line in lines] == cleaned_raw_lines()
