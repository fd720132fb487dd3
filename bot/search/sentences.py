"""The sentence of a passage that answers a question.

One place finds it for everyone: the decline checks read the sentence (does it hold an
amount, a date?) and the reply marks it (its character span in ``passage.text``). The
sentence is the one holding most of the question's IDF-weighted words, except that among
those holding nearly as much, one naming no year other than the asked or the report's own is
preferred; then shared character pairs break ties, then the earlier sentence wins.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.content import Passage
from bot.search.relatedness import query_tokens
from bot.search.scoring import bigrams, weights
from bot.textnorm import compact, to_simplified

if TYPE_CHECKING:
    from bot.search.index import IndexData

SENTENCE_END = re.compile("[。；！？\n]")
YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)年")
# A year a sentence tells of (2020年受疫情冲击), not one it measures against (较2017年压缩,
# 2021年以来): a sentence telling of a year not asked about is a figure of another year.
TOLD_YEAR = re.compile(r"(?<![较比与自从])((?:19|20)\d\d)年(?!以来|起|来|底前|前)")
NEARLY_AS_MUCH = 0.6  # a sentence with this share of the best one's words is a candidate


@dataclass(frozen=True)
class Sentence:
    """One sentence of a passage: as written (NFKC, simplified), compact for matching, and
    where it stands in ``passage.text`` (its end mark included); None for the title,
    which is a candidate too but no part of the text."""

    written: str
    compact: str
    span: tuple[int, int] | None


def split_sentences(passage: Passage) -> list[Sentence]:
    """The sentences of a passage's text, then its title (never empty: one blank sentence
    for a passage without words)."""
    sentences = []
    text = passage.text
    start = 0
    for end_mark in [*SENTENCE_END.finditer(text), None]:
        end = end_mark.start() if end_mark else len(text)
        raw = text[start:end]
        if raw.strip():
            first = start + len(raw) - len(raw.lstrip())
            # the end mark belongs to the sentence (。；！？), a line break does not
            last = end + 1 if end_mark and end_mark.group() != "\n" else end - (
                len(raw) - len(raw.rstrip())
            )
            sentences.append(_sentence(raw, (first, last)))
        start = end + 1
    sentences.extend(
        _sentence(raw, None) for raw in SENTENCE_END.split(passage.title) if raw.strip()
    )
    return sentences or [Sentence("", "", None)]


def _sentence(raw: str, span: tuple[int, int] | None) -> Sentence:
    written = to_simplified(unicodedata.normalize("NFKC", raw))
    return Sentence(written, compact(written), span)


class AnswerSentences:
    """The answering sentence of any passage of one index (passages split once, then kept)."""

    def __init__(self, data: IndexData, passages: Mapping[str, Passage],
                 own_year: str = "") -> None:
        self.data = data
        self.passages = passages
        self.own_year = own_year  # the year the report is about (2021 of a 2021 summary)
        self._sentences: dict[str, list[Sentence]] = {}
        self._last: tuple[tuple[str, str], Sentence] | None = None

    def sentences(self, passage_id: str) -> list[Sentence]:
        """A passage's sentences (its title last); one blank one for an unknown id."""
        found = self._sentences.get(passage_id)
        if found is None:
            passage = self.passages.get(passage_id)
            found = split_sentences(passage) if passage else [Sentence("", "", None)]
            self._sentences[passage_id] = found
        return found

    def answering(self, text: str, passage_id: str) -> Sentence:
        """The sentence of the passage that answers a (normalised) question (the last one
        found is kept: the decline checks and then the reply's mark ask for it in turn)."""
        key, last = (text, passage_id), self._last  # one read: threads may ask at once
        if last is not None and last[0] == key:
            return last[1]
        found = self._answering(text, passage_id)
        self._last = (key, found)
        return found

    def _answering(self, text: str, passage_id: str) -> Sentence:
        token_weights = weights(self.data, query_tokens(self.data, text))
        grams = bigrams(text.replace(" ", ""))
        asked_years = set(YEAR.findall(text)) | {self.own_year}
        sentences = self.sentences(passage_id)
        held = [sum(w for t, w in token_weights.items() if t in s.compact) for s in sentences]
        best = max(held)
        # 全区收入完成了多少 of a 2021 summary: 2021's figure, not 2020's beside it, among the
        # sentences holding nearly as much of the question
        return max(
            (s for s, weight in zip(sentences, held, strict=True)
             if weight >= best * NEARLY_AS_MUCH),
            key=lambda s: (
                -len(set(TOLD_YEAR.findall(s.compact)) - asked_years),
                held[sentences.index(s)],
                len(grams & bigrams(s.compact)),
            ),
        )

    def answer_span(self, text: str, passage_id: str) -> tuple[int, int] | None:
        """Where the answering sentence stands in ``passage.text``; None when there is
        nothing to point at: a passage of one sentence, or the title answers."""
        in_text = [s for s in self.sentences(passage_id) if s.span is not None]
        if len(in_text) < 2:
            return None
        return self.answering(text, passage_id).span
