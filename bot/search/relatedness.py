"""Relatedness: the everyday words people type, read as the report's own terms.

The content's ``synonyms:`` list, per report term, the words people use for it (稿子 for
文稿, 升职 for 走上处级领导岗位); a question word the index does not know is read as its term.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot.content import Report
from bot.search.intents import SELF_REFERENCE
from bot.textnorm import compact

if TYPE_CHECKING:
    from bot.search.index import IndexData


def report_synonyms(report: Report) -> dict[str, str]:
    """Everyday word -> report term, as the content lists them (compacted)."""
    return {compact(word): compact(term) for term, words in report.synonyms for word in words}


def usable_synonyms(synonyms: Mapping[str, str], idf: Mapping[str, float]) -> dict[str, str]:
    """Only words the index does not know already, for terms it does (an alternate
    question may use 老百姓 itself)."""
    return {w: t for w, t in synonyms.items() if t in idf and w not in idf}


def query_tokens(data: IndexData, text: str) -> list[str]:
    """Content tokens of a (corrected) question, everyday words read as report terms.

    Without jieba's HMM: the words it would guess (年区 of 那年区里, 电要 of 低压电要) are
    fragments no passage holds; unknown characters stay single and the report's words whole."""
    return [
        data.synonyms.get(t, t)
        for t in data.segmenter.content_tokens(SELF_REFERENCE.sub(" ", text), hmm=False)
    ]
