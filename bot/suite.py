"""An evaluation suite: several reports, each with its question sets, beside BM25.

A suite file is a YAML list of entries::

    - name: caizheng-blind
      raw: reports/caizheng-2021.txt      # or report: a content YAML
      questions: blind/caizheng.yaml
      untouched: true                     # a final check: never tuned on
      aliases: {"heading as quoted": "heading as printed"}   # optional, see below

An entry may give ``conversations:`` (a file of ``{persona, turns: [{say, expect}]}``, see
bot.evaluation) instead of ``questions:``: each conversation is put through FaqBot.handle
with its own chat key, so small talk and follow-ups are measured too.

Paths are relative to the suite file's folder. ``raw:`` is imported in memory with
the code of ``faqbot import`` (``build_draft``) and loaded as the bot loads a
content file, so nothing hand-written enters that report. ``aliases`` maps an
expected heading a question writer quoted wrongly to the heading the report
prints; each one is listed in the output, so a repaired set never passes
silently. Wrong answers of an untouched entry are never listed (not even with
``--verbose`` or in JSON): only its figures are reported.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot import safe_yaml
from bot.cache import private_cache
from bot.config import DEFAULT_TEXTS, MatchSettings, Settings, TelegramSettings
from bot.content import ContentError, load_file
from bot.evaluation import (
    Comparison,
    EvaluationError,
    as_dict,
    compare,
    compare_conversations,
    format_text,
    load_conversations,
    load_questions,
)
from bot.importer import DraftError, build_draft
from bot.replies import FaqBot
from bot.search import Index

DEFAULT_SUITE = Path("tests/data/suite.yaml")
MAX_SUITE_BYTES = 256 * 1024  # a suite is a few dozen lines
MAX_RAW_BYTES = 4 * 1024 * 1024  # the cap of `faqbot import` (bot/cli.py MAX_IMPORT_BYTES)
_REQUIRED = ("name", "untouched")
_SOURCES = ("report", "raw")
_SETS = ("questions", "conversations")
_KEYS = (*_REQUIRED[:1], *_SETS, *_REQUIRED[1:], *_SOURCES, "aliases")


class SuiteError(EvaluationError):
    """A suite file or one of its entries is broken: ``FILE:LINE: message``."""


@dataclass(frozen=True)
class SuiteEntry:
    name: str
    questions: Path
    untouched: bool
    report: Path | None = None  # a content YAML ...
    raw: Path | None = None  # ... or a raw report imported in memory
    aliases: tuple[tuple[str, str], ...] = ()
    line: int = 0
    conversational: bool = False  # questions names a conversation set

    @property
    def source(self) -> Path:
        """The report file as the suite names it."""
        source = self.report or self.raw
        assert source is not None  # load_suite requires one of them
        return source


def _tidy(path: Path) -> Path:
    """tests/data/../../content/x.yaml -> content/x.yaml (paths are shown as well as used)."""
    return Path(os.path.normpath(path))


def load_suite(path: Path) -> list[SuiteEntry]:
    """Read and check a suite file; SuiteError names the file and line of a mistake."""
    try:
        root = safe_yaml.load_node(path, MAX_SUITE_BYTES)
    except safe_yaml.YamlFileError as error:
        raise SuiteError(str(error)) from None

    def fail(node: Node, message: str) -> SuiteError:
        return SuiteError(f"{path}:{node.start_mark.line + 1}: {message}")

    def text(node: Node, what: str) -> str:
        if not (isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:str"
                and node.value.strip()):
            raise fail(node, f"{what} must be non-empty text")
        return str(node.value).strip()

    if root is None:
        raise SuiteError(f"{path}:1: the suite file is empty")
    if not isinstance(root, SequenceNode) or not root.value:
        raise fail(root, "a suite is a list of entries with name, report or raw, questions "
                         "and untouched")
    entries: list[SuiteEntry] = []
    names: set[str] = set()
    for item in root.value:
        if not isinstance(item, MappingNode):
            raise fail(item, "each entry must be a mapping with name, report or raw, "
                             "questions and untouched")
        fields: dict[str, Node] = {}
        for key_node, value_node in item.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else str(key_node)
            if key not in _KEYS:
                raise fail(key_node, f"unknown key '{key}' (expected {', '.join(_KEYS)})")
            if key in fields:
                raise fail(key_node, f"duplicate key '{key}'")
            fields[key] = value_node
        for key in _REQUIRED:
            if key not in fields:
                raise fail(item, f"missing key '{key}'")
        sets = [key for key in _SETS if key in fields]
        if len(sets) != 1:
            raise fail(item, "give exactly one of questions (a question set) and "
                             "conversations (a conversation set)")
        sources = [key for key in _SOURCES if key in fields]
        if len(sources) != 1:
            raise fail(item, "give exactly one of report (a content YAML) and raw "
                             "(a raw report imported in memory)")
        name = text(fields["name"], "'name'")
        if name in names:
            raise fail(fields["name"], f"duplicate entry name '{name}'")
        names.add(name)
        untouched = fields["untouched"]
        if not (isinstance(untouched, ScalarNode) and untouched.tag == "tag:yaml.org,2002:bool"):
            raise fail(untouched, "'untouched' must be true or false")
        files: dict[str, Path] = {}
        for key in (*sets, *sources):
            file = _tidy(path.parent / text(fields[key], f"'{key}'"))
            if not file.is_file():
                raise fail(fields[key], f"{key} file {file} not found")
            files[key] = file
        entries.append(SuiteEntry(
            name, files[sets[0]], safe_yaml.construct(path, untouched) is True,
            files.get("report"), files.get("raw"),
            _aliases(fields.get("aliases"), fail, text), item.start_mark.line + 1,
            sets[0] == "conversations",
        ))
    return entries


def _aliases(node: Node | None, fail: Callable[[Node, str], SuiteError],
             text: Callable[[Node, str], str]) -> tuple[tuple[str, str], ...]:
    if node is None:
        return ()
    if not isinstance(node, MappingNode):
        raise fail(node, "'aliases' maps a heading as quoted to the heading as printed")
    return tuple((text(k, "an alias"), text(v, "an alias target")) for k, v in node.value)


# --- running ----------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """The bot's match settings (config.yaml match:), applied to every report."""

    answer: int = 50
    suggest: int = 20
    probable: int = 25


@dataclass(frozen=True)
class EntryResult:
    entry: SuiteEntry
    comparison: Comparison
    report: str  # how the report was loaded, for the table's heading


def imported_index(raw: Path, cache_dir: Path | None, thresholds: Thresholds) -> Index:
    """The index of a raw report imported in memory exactly as `faqbot import` drafts it,
    then loaded as the bot loads a content file."""
    try:
        text = safe_yaml.read_text(raw, MAX_RAW_BYTES)
        # source: is read relative to the draft's folder, so an absolute path finds it
        draft = build_draft(text, raw.resolve().as_posix(), raw.stem)
    except safe_yaml.YamlFileError as error:
        raise SuiteError(str(error)) from None
    except DraftError as error:
        raise SuiteError(f"{raw}: {error}") from None
    with tempfile.TemporaryDirectory(prefix="faqbot-suite-") as folder:
        draft_file = Path(folder) / f"{raw.stem}.yaml"
        draft_file.write_text(draft.yaml, encoding="utf-8")
        try:
            report = load_file(draft_file)
        except ContentError as error:  # an importer bug: its drafts must load as written
            first = error.problems[0]
            raise SuiteError(f"{raw}: the imported draft does not load: line {first.line}: "
                             f"{first.message}") from None
    with private_cache(cache_dir) as cache:  # jieba's dictionary only; no index is kept
        return Index.build(report, cache=cache, answer_threshold=thresholds.answer,
                           suggest_threshold=thresholds.suggest,
                           probable_threshold=thresholds.probable)


def _settings(content: Path, cache_dir: Path | None, thresholds: Thresholds) -> Settings:
    """The bot's settings for a conversation entry: default texts, the suite's thresholds,
    no use log (nothing recorded)."""
    match = MatchSettings(answer_threshold=thresholds.answer,
                          suggest_threshold=thresholds.suggest,
                          probable_threshold=thresholds.probable)
    return Settings(content=content, cache_dir=cache_dir or Path(), feedback_db=Path(),
                    match=match, telegram=TelegramSettings(), texts=dict(DEFAULT_TEXTS))


def run_suite(entries: list[SuiteEntry], cache_dir: Path | None,
              thresholds: Thresholds = Thresholds()) -> list[EntryResult]:
    """Each entry's question set through the bot and BM25 on its report (each report
    loaded once)."""
    indexes: dict[tuple[str, Path], tuple[Index, str]] = {}
    results = []
    for entry in entries:
        key = ("raw" if entry.raw else "report", entry.source)
        if key not in indexes:
            if entry.raw is not None:
                index = imported_index(entry.raw, cache_dir, thresholds)
                sections = index.report.sections
                label = (f"{entry.raw}, imported in memory as `faqbot import` does "
                         f"({len(sections)} sections, "
                         f"{sum(len(s.measures) for s in sections)} measures)")
            else:
                try:
                    index = Index.load(entry.source, cache_dir,
                                       answer_threshold=thresholds.answer,
                                       suggest_threshold=thresholds.suggest,
                                       probable_threshold=thresholds.probable)
                except ContentError as error:
                    raise SuiteError(f"{error.problems[0]} (report of suite entry "
                                     f"'{entry.name}')") from None
                label = str(entry.source)
            indexes[key] = (index, label)
        index, label = indexes[key]
        if entry.conversational:
            comparison = compare_conversations(
                FaqBot(_settings(entry.source, cache_dir, thresholds), index),
                load_conversations(entry.questions), str(entry.questions),
                dict(entry.aliases))
        else:
            questions = load_questions(entry.questions)
            comparison = compare(index, questions, str(entry.questions), dict(entry.aliases))
        results.append(EntryResult(entry, comparison, label))
    return results


# --- output -----------------------------------------------------------------------


def _lowest(comparison: Comparison) -> tuple[str, float]:
    category, scores = min(comparison.bot.categories().items(), key=lambda c: c[1].top1)
    return category, scores.top1


def format_suite_text(suite: Path, results: list[EntryResult], verbose: bool = False) -> str:
    """One table per entry (bot | bm25 per category), then a summary table."""
    lines = [f"suite: {suite} ({len(results)} entries; an untouched set is a final check, "
             "never tuned on: its wrong answers are not listed)"]
    for result in results:
        entry = result.entry
        lines += ["", f"== {entry.name}{' (untouched)' if entry.untouched else ''}: "
                      f"report {result.report}"]
        lines.extend(f"alias: '{quoted}' read as '{printed}' (the set quotes it wrongly)"
                     for quoted, printed in entry.aliases)
        lines.append(format_text(result.comparison, verbose=verbose and not entry.untouched))
        if verbose and entry.untouched:
            lines.append("bot wrong answers: not listed (untouched set)")
    width = max(5, *(len(r.entry.name) for r in results))
    report_width = max(6, *(len(str(r.entry.source)) for r in results))
    lines += [
        "",
        "summary: top-1 accuracy (share of all questions handled right), %",
        f"{'entry':{width}}  {'report':{report_width}}  {'questions':>9}  {'bot':>5}  "
        f"{'bm25':>5}  {'lowest bot category':<24}  untouched",
    ]
    for result in results:
        bot, bm25 = result.comparison.bot.overall, result.comparison.bm25.overall
        category, top1 = _lowest(result.comparison)
        lines.append(
            f"{result.entry.name:{width}}  {str(result.entry.source):{report_width}}  "
            f"{bot.n:>9}  {100 * bot.top1:>5.1f}  {100 * bm25.top1:>5.1f}  "
            f"{f'{category} {100 * top1:.1f}':<24}  {'yes' if result.entry.untouched else 'no'}"
        )
    return "\n".join(lines)


def suite_as_dict(suite: Path, results: list[EntryResult]) -> dict[str, object]:
    entries = []
    for result in results:
        entry = result.entry
        figures = as_dict(result.comparison)
        if entry.untouched:  # the final check reports figures only
            for side in ("bot", "bm25"):
                side_figures = figures[side]
                assert isinstance(side_figures, dict)
                del side_figures["wrong"]
        category, top1 = _lowest(result.comparison)
        entries.append({
            "name": entry.name, "report": str(entry.source), "loaded": result.report,
            "raw": entry.raw is not None, "untouched": entry.untouched,
            "aliases": dict(entry.aliases), "lowest_bot_category": {category: top1},
            **figures,
        })
    return {"suite": str(suite), "entries": entries}


def format_suite_json(suite: Path, results: list[EntryResult]) -> str:
    return json.dumps(suite_as_dict(suite, results), ensure_ascii=False, indent=2)
