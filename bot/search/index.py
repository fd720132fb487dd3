"""The index: one report's passages as data the matcher reads, built once and cached.

``Index`` is the one entry point: ``Index.load(content, cache_dir)`` (or ``Index.build``)
and ``index.search(question) -> SearchResult``. A search runs the pipeline: normalise
(textnorm), recognise an intent (intents), else correct homophone typos (typos), read
everyday words as report terms (relatedness), rank (scoring) and check the best passage
can hold what is asked (declines).

Building is the slow part (jieba's full dictionary, pypinyin's tables); the result is kept
as plain data (JSON, no pickle: nothing read back can run code) in the private cache
directory (see bot.cache: checked owner and mode, authenticated), under a key covering the
content, all of the bot's code (bot/ and bot/search/) and the versions of the packages that
build it, so a cold process only reads it back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.cache import PrivateCache, private_cache
from bot.content import (
    AUTHOR_ID,
    Kind,
    Passage,
    Report,
    content_files,
    load_report,
    report_as_data,
    report_from_data,
)
from bot.search import intents
from bot.search.asked import asked_part
from bot.search.declines import AnswerCheck, asks_number
from bot.search.pinyin_input import PinyinVocabulary, folded, latin_words
from bot.search.relatedness import query_tokens, report_synonyms, usable_synonyms
from bot.search.results import (
    CERTAIN,
    Band,
    Hit,
    SearchResult,
    absent_hit,
    list_hit,
    missing_measure_hit,
    passage_hit,
)
from bot.search.scoring import UNKNOWN_DOCUMENT_FREQUENCY, bigrams, rank
from bot.search.typos import REAL_WORD_FREQ, TERM_LENGTHS, correct
from bot.textnorm import Segmenter, compact, normalize, pinyin_keys

logger = logging.getLogger(__name__)

INDEX_VERSION = "8"
# Packages whose behaviour shapes the index: a new version of any may segment, read or
# score differently, so it must not meet an index an older one built.
INDEX_PACKAGES = ("jieba", "pypinyin", "opencc", "cn2an", "rapidfuzz", "PyYAML")
_INDEX_FILE_PREFIX = "index-"
_DIST_INFO = re.compile(r"(?P<name>[^-]+)-(?P<version>[^-]+)\.dist-info")
MAX_QUESTION_CHARS = 300  # a question, not a document: the rest is not matched


@dataclass
class Doc:
    """One passage as the matcher sees it."""

    passage: Passage
    tokens: frozenset[str]
    bigrams: frozenset[str]
    phrases: tuple[str, ...]  # content-only compact strings of title, questions, keywords
    quote: str = ""  # compact slogan text, for fragment matching
    quote_grams: frozenset[str] = frozenset()


@dataclass
class IndexData:
    """Everything matching needs; ``_index_as_json`` / ``_index_from_json`` keep it as
    plain data."""

    docs: list[Doc]
    idf: dict[str, float]
    postings: dict[str, list[int]]
    bigram_postings: dict[str, list[int]]
    segmenter: Segmenter
    unknown_weight: float
    terms_by_key: dict[str, list[str]] = field(default_factory=dict)
    real_words: frozenset[str] = frozenset()
    vocabulary: frozenset[str] = frozenset()
    report_ngrams: frozenset[str] = frozenset()
    synonyms: dict[str, str] = field(default_factory=dict)  # everyday word -> report term
    # words (two characters or more) of the report's own text, not of our alternate questions
    report_terms: frozenset[str] = frozenset()
    # the titles and texts of the passages, normalised as questions are: what the report names
    # (built once: normalising it costs a cold start cn2an's import, ~0.15 s)
    report_text: str = ""
    # how questions typed in pinyin letters are read (see pinyin_input)
    pinyin: PinyinVocabulary = field(default_factory=PinyinVocabulary)


class Index:
    """The matcher over one report's passages."""

    def __init__(self, report: Report, data: IndexData, answer_threshold: int = 50,
                 suggest_threshold: int = 20, probable_threshold: int = 25) -> None:
        self.report = report
        self.data = data
        self.answer_threshold = answer_threshold
        self.suggest_threshold = suggest_threshold
        # below the answer threshold, a best hit this sure is shown with a hedge
        self.probable_threshold = min(probable_threshold, answer_threshold)
        self.passages = {d.passage.id: d.passage for d in data.docs}
        self._checks = AnswerCheck(report, data, self.passages)

    # --- building -------------------------------------------------------------

    @classmethod
    def build(cls, report: Report, *, passages: Sequence[Passage] | None = None,
              segmenter: Segmenter | None = None, cache: PrivateCache | None = None,
              answer_threshold: int = 50, suggest_threshold: int = 20,
              probable_threshold: int = 25) -> Index:
        """Build from scratch (seconds: loads jieba's dictionary and pinyin tables)."""
        passages = report.passages if passages is None else passages
        terms = sorted({compact(k) for p in passages for k in p.keywords if compact(k)})
        synonyms = report_synonyms(report)
        if segmenter is None:
            corpus = [compact(t) for p in passages for t in (p.title, p.text, *p.questions)]
            segmenter = Segmenter.build(terms, corpus, cache, extra_words=synonyms)
        data = _build_data(passages, segmenter, terms)
        data.synonyms = usable_synonyms(synonyms, data.idf)
        data.report_text = "\n".join(
            compact(value) for p in passages for value in (p.title, p.text)
        )
        data.pinyin = PinyinVocabulary.build(
            data.vocabulary | data.report_terms | set(terms),
            segmenter.freq,
            (w for w in segmenter.freq if segmenter.is_stopword(w)),
            latin_words(normalize(v) for p in passages
                        for v in (p.title, p.text, *p.questions, *p.keywords)),
        )
        return cls(report, data, answer_threshold, suggest_threshold, probable_threshold)

    @classmethod
    def load(cls, content: Path, cache_dir: Path | None, *, answer_threshold: int = 50,
             suggest_threshold: int = 20, probable_threshold: int = 25) -> Index:
        """The index for a content file or directory, read back from the cache when
        nothing it depends on changed, else loaded, validated, built and cached.

        The cache is optional: when it is unusable or a file in it is refused, one
        warning is logged and the index is built in memory.
        """
        name = f"{_INDEX_FILE_PREFIX}{index_key(content_files([content]))}.json"
        with private_cache(cache_dir) as cache:
            payload = cache.read(name) if cache is not None else None
            if cache is not None and payload is not None:
                try:
                    report, data = _index_from_json(payload)
                    return cls(report, data, answer_threshold, suggest_threshold,
                               probable_threshold)
                except (ValueError, KeyError, TypeError, IndexError) as error:
                    cache.warn(name, f"does not hold an index ({error!r}); rebuilding it")
            report = load_report(content)
            index = cls.build(
                report, cache=cache,
                answer_threshold=answer_threshold, suggest_threshold=suggest_threshold,
                probable_threshold=probable_threshold,
            )
            if cache is not None:
                try:
                    payload = _index_as_json(report, index.data)
                except ValueError as error:  # a bug, not a reason to stop: serve from memory
                    cache.warn(name, f"cannot be written: {error}")
                else:
                    cache.write(name, payload, stale_prefix=_INDEX_FILE_PREFIX)
        return index

    # --- querying -------------------------------------------------------------

    def search(self, question: str, k: int = 5) -> SearchResult:
        """Rank passages for a question, in a band: ANSWER (a named thing, or a best hit at
        least ``answer_threshold`` sure), PROBABLE (at least ``probable_threshold``), else
        DECLINE, whose hits are those at least ``suggest_threshold`` sure. A hit that cannot
        hold what is asked (bot.search.declines) declines whatever its confidence."""
        text = normalize(question[:MAX_QUESTION_CHARS])
        # ducha wenxiao -> 督查问效: read as Chinese, then normalised as typed Chinese is
        read_text, readings = self.data.pinyin.read(text)
        if readings:
            text = normalize(read_text)
        if not text:
            return SearchResult(question, (), False)
        intent = intents.recognise(text, self.report, self.data)
        named = self._intent_hit(intent) if intent is not None else None
        if named is not None:
            checked = intent.question if isinstance(intent, intents.AskedAuthor) else ""
            answered = named.kind != Kind.ABSENT and self._checks.answers(checked or text, named)
            return SearchResult(question, (named,), answered, readings, intent=intent)
        # a long question's context (我是…, 最近…) is no part of what it asks
        corrected, corrections = correct(self.data, asked_part(self.data, text))
        tokens = query_tokens(self.data, corrected)
        hits = rank(self.data, corrected, tokens, k)
        band = Band.DECLINE
        if hits and hits[0].score >= self.probable_threshold and self._checks.answers(
            corrected, hits[0]
        ):
            band = Band.ANSWER if hits[0].score >= self.answer_threshold else Band.PROBABLE
        if band == Band.DECLINE:
            hits = tuple(h for h in hits if h.score >= self.suggest_threshold)
            return SearchResult(question, hits, False, folded(readings, corrections), band=band)
        return SearchResult(
            question, hits, True, folded(readings, corrections), band=band,
            answer_span=self._checks.sentences.answer_span(corrected, hits[0].id),
            asks_number=asks_number(corrected),
        )

    def passage(self, passage_id: str) -> Passage | None:
        """A passage by id; a long measure split into parts (s2.m2) is found as its first."""
        return self.passages.get(passage_id) or self.passages.get(f"{passage_id}.p1")

    def _intent_hit(self, intent: intents.Intent) -> Hit | None:
        """The hit for what a question named; None when the report has no such passage."""
        match intent:
            case intents.NotInReport(section, measure):
                return absent_hit(section, measure)
            case intents.AskedMeasure(section, measure):
                return passage_hit(self.passage(measure.id) or self.passages[section.id], CERTAIN)
            case intents.LostMeasure(section, number):
                return missing_measure_hit(section, number)
            case intents.AskedSection(section):
                return passage_hit(self.passages[section.id], CERTAIN)
            case intents.TableOfContents():
                return list_hit(Kind.TABLE_OF_CONTENTS)
            case intents.SloganList():
                return list_hit(Kind.SLOGAN_LIST)
            case intents.AskedAuthor():
                author = self.passages.get(AUTHOR_ID)
                return passage_hit(author, CERTAIN) if author else None
        return None


def _build_data(passages: Sequence[Passage], segmenter: Segmenter, terms: list[str]) -> IndexData:
    docs: list[Doc] = []
    for passage in passages:
        fields = [passage.title, passage.text, *passage.questions, *passage.keywords]
        if passage.kind == Kind.SLOGAN:
            fields = [passage.title, *passage.questions, *passage.keywords]
        tokens: set[str] = set()
        grams: set[str] = set()
        for value in fields:
            value = compact(value)
            tokens.update(segmenter.search_tokens(value))
            grams |= bigrams(value)
        phrases = tuple(
            p for p in ("".join(segmenter.content_tokens(compact(v)))
                        for v in (passage.title, *passage.questions, *passage.keywords)) if p
        )
        quote = compact(passage.title) if passage.kind == Kind.SLOGAN else ""
        docs.append(Doc(
            passage, frozenset(tokens), frozenset(grams), phrases,
            quote, frozenset(bigrams(quote)),
        ))
    document_frequency: dict[str, int] = defaultdict(int)
    postings: dict[str, list[int]] = defaultdict(list)
    bigram_postings: dict[str, list[int]] = defaultdict(list)
    for number, doc in enumerate(docs):
        for token in doc.tokens:
            document_frequency[token] += 1
            postings[token].append(number)
        for gram in doc.bigrams:
            bigram_postings[gram].append(number)
    count = len(docs)
    idf = {t: math.log(1 + count / df) for t, df in document_frequency.items()}
    vocabulary = frozenset(t for t in idf if len(t) >= 2)
    report_terms = frozenset(
        t for p in passages for value in (p.title, p.text)
        for t in segmenter.search_tokens(compact(value)) if len(t) >= 2
    )
    terms_by_key: dict[str, list[str]] = defaultdict(list)
    for term in sorted(vocabulary | set(terms)):
        if len(term) in TERM_LENGTHS and not segmenter.is_stopword(term):
            for key in pinyin_keys(term, segmenter.pinyin):
                terms_by_key[key].append(term)
    return IndexData(
        docs=docs,
        idf=idf,
        postings=dict(postings),
        bigram_postings=dict(bigram_postings),
        segmenter=segmenter,
        unknown_weight=math.log(1 + count / UNKNOWN_DOCUMENT_FREQUENCY),
        terms_by_key=dict(terms_by_key),
        real_words=segmenter.homophone_words(terms_by_key, REAL_WORD_FREQ),
        vocabulary=vocabulary,
        report_terms=report_terms,
        report_ngrams=frozenset(
            text[i : i + n]
            for text in {compact(p.text) for p in passages} | {compact(p.title) for p in passages}
            for n in TERM_LENGTHS for i in range(len(text) - n + 1)
        ),
    )


# --- the index cache -----------------------------------------------------------------


def index_code() -> list[Path]:
    """The bot's modules, bot/search/ included: all of them, since any may take part in
    building the index (hashing them all takes about a millisecond; missing one keeps a
    stale index)."""
    return sorted(Path(__file__).parents[1].rglob("*.py"))


def package_versions() -> dict[str, str]:
    """Python's and INDEX_PACKAGES' versions.

    Read from the name of each package's ``name-version.dist-info`` directory on
    sys.path (the wheel convention); only a package installed without one is asked
    through importlib.metadata, whose import alone costs about a tenth of a cold question.
    """
    versions = {"python": sys.version}
    wanted = {_distribution_key(name): name for name in INDEX_PACKAGES}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue  # a zip file or a directory that is not there
        for name in names:
            found = _DIST_INFO.fullmatch(name)
            package = wanted.get(_distribution_key(found["name"])) if found else None
            if found and package and package not in versions:
                versions[package] = found["version"]
    missing = [name for name in INDEX_PACKAGES if name not in versions]
    if missing:
        from importlib import metadata

        for package in missing:
            try:
                versions[package] = metadata.version(package)
            except metadata.PackageNotFoundError:
                versions[package] = "not installed"
    return versions


def _distribution_key(name: str) -> str:
    """PyYAML, pyyaml and py_yaml are one distribution (PEP 503 normalisation)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def index_key(content: Sequence[Path], code: Sequence[Path] | None = None,
              versions: Mapping[str, str] | None = None) -> str:
    """What an index depends on, hashed: the content files, the code that builds it
    (``index_code()``) and the versions of what it runs on (``package_versions()``)."""
    digest = hashlib.sha256(f"faqbot index {INDEX_VERSION}\0".encode())
    for name, version in sorted((package_versions() if versions is None else versions).items()):
        digest.update(f"{name}={version}\0".encode())
    for group in (index_code() if code is None else code, content):
        digest.update(b"\1")  # code and content never run into each other
        for name, file in _relative_names(group):
            body = file.read_bytes() if file.is_file() else b""
            digest.update(f"{name}\0{len(body)}\0".encode() + body)
    return digest.hexdigest()[:32]


def _relative_names(files: Sequence[Path]) -> list[tuple[str, Path]]:
    """Each file named by its path below the files' common folder (search/index.py, not
    index.py: two modules may share a name, __init__.py)."""
    if not files:
        return []
    root = os.path.commonpath([os.path.abspath(file.parent) for file in files])
    return [(Path(os.path.relpath(os.path.abspath(file), root)).as_posix(), file)
            for file in files]


def _index_as_json(report: Report, data: IndexData) -> bytes:
    """The report and its index as JSON (sets as sorted lists; passages by position)."""
    if [doc.passage for doc in data.docs] != list(report.passages):
        raise ValueError("only an index of the report's own passages is cached")
    plain: dict[str, Any] = {
        "report": report_as_data(report),
        "docs": [
            [sorted(d.tokens), sorted(d.bigrams), list(d.phrases), d.quote, sorted(d.quote_grams)]
            for d in data.docs
        ],
        "idf": data.idf,
        "postings": data.postings,
        "bigram_postings": data.bigram_postings,
        "segmenter": data.segmenter.as_data(),
        "unknown_weight": data.unknown_weight,
        "terms_by_key": data.terms_by_key,
        "real_words": sorted(data.real_words),
        "vocabulary": sorted(data.vocabulary),
        "report_ngrams": sorted(data.report_ngrams),
        "synonyms": data.synonyms,
        "report_terms": sorted(data.report_terms),
        "report_text": data.report_text,
        "pinyin": data.pinyin.as_data(),
    }
    return json.dumps(plain, ensure_ascii=False, separators=(",", ":")).encode()


def _index_from_json(payload: bytes) -> tuple[Report, IndexData]:
    """What ``_index_as_json`` wrote, rebuilt field by field."""
    plain = json.loads(payload)
    report = report_from_data(plain["report"])
    docs = [
        Doc(passage, frozenset(tokens), frozenset(bigrams), tuple(phrases), quote,
             frozenset(quote_grams))
        for passage, (tokens, bigrams, phrases, quote, quote_grams)
        in zip(report.passages, plain["docs"], strict=True)
    ]
    return report, IndexData(
        docs=docs,
        idf=plain["idf"],
        postings=plain["postings"],
        bigram_postings=plain["bigram_postings"],
        segmenter=Segmenter.from_data(plain["segmenter"]),
        unknown_weight=plain["unknown_weight"],
        terms_by_key=plain["terms_by_key"],
        real_words=frozenset(plain["real_words"]),
        vocabulary=frozenset(plain["vocabulary"]),
        report_ngrams=frozenset(plain["report_ngrams"]),
        synonyms=plain["synonyms"],
        report_terms=frozenset(plain["report_terms"]),
        report_text=plain["report_text"],
        pinyin=PinyinVocabulary.from_data(plain["pinyin"]),
    )
