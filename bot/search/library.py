"""Several reports: one ``Index`` per report of a content folder, searched together.

``Library.load(content, cache_dir)`` loads each ``*.yaml`` of a folder (or the one file
given) as its own ``Index``, each cached as one report is; ``search(question)`` asks every
index and ranks the results best first, so the cost of a question grows with the number of
reports and nothing else. A report is named by its id, the file's stem (bot.content).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.content import ContentError, Problem, content_files, library_problems, report_id
from bot.search.index import Index
from bot.search.results import Band, Hit, SearchResult

# Two reports' best hits this close (confidence points, 0-100) answer a question equally
# well: the user chooses. Scores of one search differ by a few points between near
# paraphrases; ten would offer a choice for questions one report plainly answers better.
EQUAL_MARGIN = 5
_BAND_ORDER = {Band.ANSWER: 2, Band.PROBABLE: 1, Band.DECLINE: 0}


@dataclass(frozen=True)
class ReportResult:
    """One report's search of a question."""

    report: str  # the report's id
    result: SearchResult

    @property
    def score(self) -> int:
        return self.result.hits[0].score if self.result.hits else 0


@dataclass(frozen=True)
class Library:
    """The indexes of the reports the bot serves, by report id, in file order."""

    indexes: dict[str, Index]

    @classmethod
    def load(cls, content: Path, cache_dir: Path | None, *, answer_threshold: int = 50,
             suggest_threshold: int = 20, probable_threshold: int = 25) -> Library:
        """Each report of a content file or folder, its index read from the cache or built
        (Index.load); ContentError when two reports cannot be served together."""
        files = content_files([content]) if content.is_dir() else [content]
        if len(files) <= 1:  # one report: loaded, checked and named exactly as ever
            index = Index.load(content, cache_dir, answer_threshold=answer_threshold,
                               suggest_threshold=suggest_threshold,
                               probable_threshold=probable_threshold)
            return cls({report_id(files[0]) if files else index.report.id: index})
        indexes: dict[str, Index] = {}
        problems: list[Problem] = []
        for file in files:
            try:
                indexes[report_id(file)] = Index.load(
                    file, cache_dir, answer_threshold=answer_threshold,
                    suggest_threshold=suggest_threshold, probable_threshold=probable_threshold)
            except ContentError as error:
                problems.extend(error.problems)
        if not problems:
            problems = library_problems([(file, indexes[report_id(file)].report)
                                         for file in files])
        if problems:
            raise ContentError(problems)
        return cls(indexes)

    def __iter__(self) -> Iterator[tuple[str, Index]]:
        return iter(self.indexes.items())

    def __len__(self) -> int:
        return len(self.indexes)

    def search(self, question: str, k: int = 5) -> list[ReportResult]:
        """Every report's search of the question, best first: an answer before a hedge
        before a decline, then by the best hit's confidence (file order breaks ties)."""
        results = [ReportResult(key, index.search(question, k)) for key, index in self]
        return sorted(results, key=lambda r: (-_BAND_ORDER[r.result.band], -r.score))


def equally_good(results: list[ReportResult], margin: int = EQUAL_MARGIN) -> list[ReportResult]:
    """The results (of ``Library.search``, best first) that answer as well as the best:
    answered in the same band, their best hit within ``margin`` of its confidence. One
    result when a single report answers best; none when no report answers."""
    if not results or not results[0].result.answered:
        return []
    best = results[0]
    return [r for r in results if r.result.band == best.result.band
            and r.score >= best.score - margin]


def merged_hits(results: list[ReportResult], k: int) -> list[tuple[str, Hit]]:
    """The hits of every report's search with their report, by confidence (``k`` best)."""
    hits = [(r.report, hit) for r in results for hit in r.result.hits]
    return sorted(hits, key=lambda pair: -pair[1].score)[:k]
