"""Scoring: how much of a question a passage holds, mapped onto a 0-100 confidence.

- coverage: the IDF-weighted share of the question's tokens a passage holds, with partial
  credit for tokens found only as shared character pairs (question-answer relevance);
- phrase similarity: the question against the passage's title, alternate questions and
  keywords (question-question similarity, rapidfuzz);
- slogan overlap: a fragment of a quoted formula inside the question.
The weights were read off the question sets (``faqbot eval``); the raw score is calibrated so
that a confidence is roughly the share of answers at that level that were right.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

from bot.content import Kind
from bot.search.intents import SECTION_CUES
from bot.search.results import Hit, passage_hit
from bot.textnorm import compact_report_text

if TYPE_CHECKING:
    from bot.search.index import IndexData

# Coverage carries most of the score: it says whether the passage holds what is asked.
COVERAGE_WEIGHT = 0.62
# Phrase similarity tells apart passages that cover a question alike (its wording is ours).
PHRASE_WEIGHT = 0.38
# ... but only counts in full from half coverage up: a title alone is not an answer.
PHRASE_FULL_FROM_COVERAGE = 2  # min(1, coverage * 2)
PARTIAL_CREDIT = 0.7  # a token found only as shared character pairs counts this much
PARTIAL_SHARE = 0.5  # ... when at least half of its character pairs are in the passage
SINGLE_CHAR_WEIGHT = 0.4  # single characters say little on their own
# A word the report never uses weighs as if it were in half a passage (rarer than any word
# the report has) when it is rare in general Chinese too (粮荒, 货款); a common one (不能,
# 自己, 处理) says little about what is asked: its general IDF (jieba's frequencies) from
# GENERAL_IDF_FLOOR (自己 6.5, 不能 7.5) up to GENERAL_IDF_FULL (办公楼 12.2) scales it,
# never below RARITY_MIN.
UNKNOWN_DOCUMENT_FREQUENCY = 0.5
GENERAL_IDF_FLOOR = 6.0
GENERAL_IDF_FULL = 12.0
RARITY_MIN = 0.15
CANDIDATES = 40  # passages, by coverage, that get the finer (rapidfuzz) scoring
# A slogan fragment: at least this many of the formula's character pairs in the question
# (or all of a shorter one) make the slogan a match scored from SLOGAN_BASE up.
SLOGAN_MIN_PAIRS = 4
SLOGAN_BASE = 0.6
SLOGAN_SPAN = 0.4  # the rest, by the share of the formula quoted
SECTION_CUE_BONUS = 0.12  # 部分, 板块 in the question: a section rather than one measure
# Two neighbouring words of the question standing close in the passage too (省级…指挥部, 一般性
# 支出) are evidence that it says what is asked, not only that it uses the words: up to this
# much, by the share of neighbouring pairs so placed (read off the dev sets: 0.1-0.15 raise
# right answers on imported reports; 0.2 starts to move wrong ones up on the seed report).
PROXIMITY_WEIGHT = 0.15
PROXIMITY_CHARS = 8  # "close": within this many characters (a short clause)

# Raw score (0-1) -> confidence (0-100): anchors read off the question sets, so that
# a confidence is roughly the share of answers at that level that were right.
CALIBRATION = ((0.0, 0), (0.2, 10), (0.3, 30), (0.4, 50), (0.5, 72), (0.7, 90), (1.0, 100))


def calibrated(raw: float) -> float:
    """Piecewise-linear map of a raw score onto the calibrated 0-100 confidence."""
    raw = max(0.0, min(1.0, raw))
    for (x0, y0), (x1, y1) in zip(CALIBRATION, CALIBRATION[1:], strict=False):
        if raw <= x1:
            return y0 + (y1 - y0) * (raw - x0) / (x1 - x0)
    return 100.0


def bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def weights(data: IndexData, tokens: Iterable[str]) -> dict[str, float]:
    """Each token's IDF weight (a made-up one for words the report never uses)."""
    result: dict[str, float] = {}
    freq = data.segmenter.freq
    for token in tokens:
        weight = data.idf.get(token, 0.0)
        if not weight:
            weight = data.unknown_weight * _rarity(freq.get(token, 0), data.segmenter.total)
        if len(token) == 1:
            weight *= SINGLE_CHAR_WEIGHT
        result[token] = weight
    return result


def _rarity(frequency: int, total: int) -> float:
    """How much a word the report never uses says, by how rare it is in general Chinese."""
    if frequency <= 0:
        return 1.0
    general_idf = math.log(total / frequency)
    share = (general_idf - GENERAL_IDF_FLOOR) / (GENERAL_IDF_FULL - GENERAL_IDF_FLOOR)
    return max(RARITY_MIN, min(1.0, share))


def coverage(data: IndexData, token_weights: dict[str, float]) -> dict[int, float]:
    """IDF-weighted share of the question each candidate passage holds."""
    total = sum(token_weights.values())
    if total <= 0:
        return {}
    matched: dict[int, float] = defaultdict(float)
    for token, weight in token_weights.items():
        exact = data.postings.get(token, ())
        for doc in exact:
            matched[doc] += weight
        if len(token) < 2:
            continue
        grams = bigrams(token)
        counts: dict[int, int] = defaultdict(int)
        for gram in grams:
            for doc in data.bigram_postings.get(gram, ()):
                counts[doc] += 1
        exact_set = set(exact)
        for doc, count in counts.items():
            share = count / len(grams)
            if doc not in exact_set and share >= PARTIAL_SHARE:
                matched[doc] += weight * PARTIAL_CREDIT * share
    return {doc: value / total for doc, value in matched.items()}


def _near(text: str, first: str, second: str) -> bool:
    """Whether two words of the question stand close together in the text (省级…指挥部)."""
    start = text.find(first)
    while start >= 0:
        window = text[max(0, start - PROXIMITY_CHARS): start + len(first) + PROXIMITY_CHARS]
        if second in window:
            return True
        start = text.find(first, start + 1)
    return False


def rank(data: IndexData, text: str, tokens: list[str], k: int) -> tuple[Hit, ...]:
    """The k best passages for a (corrected) question and its content tokens."""
    cover_by_doc = coverage(data, weights(data, tokens))
    if not cover_by_doc:
        return ()
    query = "".join(tokens)
    query_grams = bigrams(text.replace(" ", ""))
    section_cue = any(cue in text for cue in SECTION_CUES)
    content = [t for t in tokens if len(t) > 1]
    pairs = list(zip(content, content[1:], strict=False))
    candidates = heapq.nlargest(CANDIDATES, cover_by_doc.items(), key=lambda item: item[1])
    scored: list[tuple[float, int]] = []
    for doc_index, cover in candidates:
        doc = data.docs[doc_index]
        best_phrase = process.extractOne(query, doc.phrases, scorer=fuzz.ratio)
        phrase = best_phrase[1] / 100 if best_phrase else 0.0
        score = COVERAGE_WEIGHT * cover + PHRASE_WEIGHT * phrase * min(
            1.0, cover * PHRASE_FULL_FROM_COVERAGE
        )
        if doc.quote:
            # A fragment of a quoted formula: count its character pairs in the question.
            shared = len(query_grams & doc.quote_grams)
            needed = min(len(doc.quote_grams), SLOGAN_MIN_PAIRS)
            if needed and shared >= needed:
                score = max(
                    score, SLOGAN_BASE + SLOGAN_SPAN * min(1.0, shared / len(doc.quote_grams))
                )
        if pairs and doc.passage.kind != Kind.SLOGAN:
            held = compact_report_text(doc.passage.text)
            near = sum(1 for a, b in pairs if _near(held, a, b))
            score += PROXIMITY_WEIGHT * near / len(pairs)
        if section_cue and doc.passage.kind == Kind.SECTION:
            score += SECTION_CUE_BONUS
        scored.append((score, doc_index))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return tuple(passage_hit(data.docs[i].passage, calibrated(s)) for s, i in scored[:k])
