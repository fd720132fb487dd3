"""The matcher: question -> ranked hits with a 0-100 confidence, or a decline.

One module per step of the pipeline, all on normalised text (see bot.textnorm):
``intents`` (a named section, measure, the author, the slogan list, the table of contents),
``typos`` (pinyin homophone correction), ``relatedness`` (everyday words -> report terms),
``scoring`` (coverage, phrase similarity, slogan fragments, calibration, ranking),
``declines`` (whether the best passage can hold what is asked), ``sentences`` (the sentence of
a passage that answers), ``results`` (what a search
returns), ``index`` (the data, how it is built and cached, and ``Index``, the entry point)
and ``library`` (several reports' indexes searched together).

The matcher returns data, never sentences: a ``Kind``, ids, scores and, for a question that
names something, a typed ``Intent``; bot.replies and the config's texts say it to the user.
"""

from bot.content import Kind
from bot.search.index import (
    INDEX_PACKAGES,
    INDEX_VERSION,
    MAX_QUESTION_CHARS,
    Index,
    IndexData,
    index_code,
    index_key,
    package_versions,
)
from bot.search.intents import (
    AskedAuthor,
    AskedMeasure,
    AskedSection,
    Intent,
    LostMeasure,
    NotInReport,
    SloganList,
    TableOfContents,
)
from bot.search.library import Library, ReportResult, equally_good, merged_hits
from bot.search.results import (
    ABSENT,
    SECTIONS_ID,
    SLOGANS_ID,
    Band,
    Hit,
    SearchResult,
    absent_hit,
    missing_measure_hit,
)
from bot.search.scoring import calibrated

__all__ = [
    "ABSENT",
    "AskedAuthor",
    "Band",
    "AskedMeasure",
    "AskedSection",
    "Intent",
    "LostMeasure",
    "NotInReport",
    "SloganList",
    "TableOfContents",
    "INDEX_PACKAGES",
    "INDEX_VERSION",
    "MAX_QUESTION_CHARS",
    "SECTIONS_ID",
    "SLOGANS_ID",
    "Hit",
    "Index",
    "IndexData",
    "Kind",
    "Library",
    "ReportResult",
    "equally_good",
    "merged_hits",
    "SearchResult",
    "absent_hit",
    "calibrated",
    "index_code",
    "index_key",
    "missing_measure_hit",
    "package_versions",
]
