"""Index and matcher: question -> ranked hits with a 0-100 confidence, or a decline.

Signals, all on normalised text (see textnorm):
- coverage: how much of the question's content (IDF-weighted tokens) the passage
  holds, counting partial credit for shared character bigrams (q–A relevance);
- phrase similarity: the question against the passage's title, alternate
  questions and keywords (q–Q similarity, rapidfuzz);
- slogan overlap: a fragment of a quoted formula inside the question.
Homophone typos are corrected before segmentation with pinyin keys, and
section / author / slogan-list questions are recognised as intents.

Building the index is the slow part (jieba's full dictionary, pypinyin's
tables); the result is kept as plain data (JSON, no pickle: nothing read back
can run code) in the private cache directory (see bot.cache: checked owner and
mode, authenticated), under a key covering the content, all of the bot's code and
the versions of the packages that build it, so a cold process only reads it back.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import math
import os
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from bot.cache import PrivateCache, private_cache
from bot.content import (
    AUTHOR_ID,
    Passage,
    Report,
    Section,
    content_files,
    load_report,
    numeral,
    parse_number,
    report_as_data,
    report_from_data,
    short_title,
)
from bot.textnorm import Segmenter, compact, normalize, pinyin_keys

logger = logging.getLogger(__name__)

INDEX_VERSION = "8"
# Packages whose behaviour shapes the index: a new version of any may segment, read or
# score differently, so it must not meet an index an older one built.
INDEX_PACKAGES = ("jieba", "pypinyin", "opencc", "cn2an", "rapidfuzz", "PyYAML")
_INDEX_FILE_PREFIX = "index-"
_DIST_INFO = re.compile(r"(?P<name>[^-]+)-(?P<version>[^-]+)\.dist-info")
MAX_QUESTION_CHARS = 300  # a question, not a document: the rest is not matched
SLOGANS_ID = "slogans"
SECTIONS_ID = "sections"

_PARTIAL_CREDIT = 0.7  # a token found only as shared character pairs counts this much
_SINGLE_CHAR_WEIGHT = 0.4  # single characters say little on their own
_CANDIDATES = 40  # passages, by coverage, that get the finer (rapidfuzz) scoring
# Homophones that are frequent real words (jieba frequency) are taken as meant.
_REAL_WORD_FREQ = 1000

_SECTION_REF = re.compile(r"第(\d+)(?:个)?(?:大)?(?:部分|章|节|板块|方面|块|段|篇|大点|部)")
_MEASURE_REF = re.compile(
    r"第(\d+)(?:个)?(?:小)?(?:点|条|项|措施|做法|方面)|([一二三四五六七八九十]+|\d+)是"
    r"|(最后)(?:1|一)?(?:个)?(?:点|条|项|是|小点)"
)
# What a question asks for, and what a passage must hold to answer it.
_ASKS_COUNT = re.compile(
    r"(?:多少|(?<![哪那这好])几)(个|位|名|人|项|次|条|家|分|字|年|天|届|所|座|元|万|亿)?"
)
_COUNTERS = "个位名人项次条家"
_ASKS_TIME = re.compile(r"哪1?年|什么时候|何时|几月|哪1?天|几号|多久|多长时间|频率|每隔")
_ASKS_REASON = re.compile(r"为什么|为何|为啥|什么原因|原因是|起因")
_AUTHOR_WORDS = frozenset("单位 上班 工作 职务 职位 身份 名字 姓名 担任 作者".split())
_BIOGRAPHY = re.compile(r"以前|之前|曾经|过去|后来|现在在|调到|升任")
_ASKS_LIST = re.compile(r"哪(?:\d+|几)(?:个|项|条|种|句|大)")
_ASKS_NAME = re.compile(r"叫什么名字|叫啥|姓名|名字")
_NEVER_IN_REPORT = re.compile(
    r"电话|号码|地址|邮箱|网址|官网|在哪里办公|在哪办公|怎么走|位置在|在什么地方|预算|经费|工资|待遇"
    r"|招聘|报考|应聘|录用|考公|资格|履历|简历|毕业|学历|籍贯|老家|出生|生日|年龄|多大年纪"
    # the report is a work summary, not a service guide
    r"|投诉|举报|信访|办事指南|办理流程|办事流程|预约|怎么申请|如何申请"
)
_SECTION_CUE = ("部分", "板块", "那块", "一块", "章节", "方面", "那段", "这段")
_TOC_CUE = re.compile(
    r"(?:几|多少)(?:个)?(?:大)?部分|目录|结构|框架|提纲|大纲|分为哪|分成哪|哪几(?:个)?部分"
    r"|(?:大|小|各部分的?|每部分的?)?标题"
)
# "This report" refers to the whole document, not to a topic in it.
_SELF_REFERENCE = re.compile(r"(?:这|那|本|该)(?:1)?(?:份|篇|个)?(?:材料|报告|文章|文件|稿子)")
# Words that name the report itself or a listing, not a topic in it.
_DOCUMENT_WORDS = frozenset(
    "材料 报告 文章 一共 总共 共 所有 全部 列 列出 列举 一下 分 哪几个".split()
)
_SLOGAN_CUE = re.compile(r"口号|提法|标语|顺口溜|金句|格言|名言|警句|说法")
_AUTHOR_CUE = re.compile(
    r"作者|谁写|写的|撰写|执笔|署名|尤小波|写(?:这|那)?(?:篇|份)?.{0,3}的人"
    # a document issued by an office: who issued it and when
    r"|谁(?:发布|印发|发的|制定)|哪个(?:单位|部门|机关)(?:发布|印发|发的|制定)"
    r"|发文(?:单位|机关|日期|时间)|(?:发布|印发|成文)(?:单位|日期|时间)"
    r"|什么时候(?:发布|印发|出台)"
)


@dataclass(frozen=True)
class Hit:
    """One ranked passage with a 0-100 confidence."""

    id: str
    kind: str
    title: str
    text: str
    path: str
    score: int

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "kind": self.kind, "title": self.title,
            "text": self.text, "path": self.path, "score": self.score,
        }


ABSENT = "absent"  # kind of the hit for a section or measure the report does not have


def absent_hit(section: int, measure: int | None = None) -> Hit:
    """第四部分 of a three-part report, 第五点 of a four-point section: asked for, not there.

    Its id names what was asked for (s4, s2.m5); it is never a passage, so never answered.
    """
    passage_id = f"s{section}" if measure is None else f"s{section}.m{measure}"
    return Hit(passage_id, ABSENT, "", "", "", 0)


@dataclass(frozen=True)
class SearchResult:
    question: str
    hits: tuple[Hit, ...]
    answered: bool
    corrections: tuple[tuple[str, str], ...] = ()  # (typed, meant) pairs: (海峡论谈, 海峡论坛)


@dataclass
class _Doc:
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

    docs: list[_Doc]
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


# Raw score (0-1) -> confidence (0-100): anchors read off the question sets, so that
# a confidence is roughly the share of answers at that level that were right.
_CALIBRATION = ((0.0, 0), (0.2, 10), (0.3, 30), (0.4, 50), (0.5, 72), (0.7, 90), (1.0, 100))


def calibrated(raw: float) -> float:
    """Piecewise-linear map of a raw score onto the calibrated 0-100 confidence."""
    raw = max(0.0, min(1.0, raw))
    for (x0, y0), (x1, y1) in zip(_CALIBRATION, _CALIBRATION[1:], strict=False):
        if raw <= x1:
            return y0 + (y1 - y0) * (raw - x0) / (x1 - x0)
    return 100.0


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


class Index:
    """The matcher over one report's passages."""

    def __init__(self, report: Report, data: IndexData, answer_threshold: int = 50,
                 suggest_threshold: int = 20) -> None:
        self.report = report
        self.data = data
        self.answer_threshold = answer_threshold
        self.suggest_threshold = suggest_threshold
        self.passages = {d.passage.id: d.passage for d in data.docs}
        self._sentences: dict[str, list[str]] = {}

    # --- building -------------------------------------------------------------

    @classmethod
    def build(cls, report: Report, *, passages: Sequence[Passage] | None = None,
              segmenter: Segmenter | None = None, cache: PrivateCache | None = None,
              answer_threshold: int = 50, suggest_threshold: int = 20) -> Index:
        """Build from scratch (seconds: loads jieba's dictionary and pinyin tables)."""
        passages = report.passages if passages is None else passages
        terms = sorted({compact(k) for p in passages for k in p.keywords if compact(k)})
        synonyms = {
            compact(word): compact(term) for term, words in report.synonyms for word in words
        }
        if segmenter is None:
            corpus = [compact(t) for p in passages for t in (p.title, p.text, *p.questions)]
            segmenter = Segmenter.build(terms, corpus, cache, extra_words=synonyms)
        data = _build_data(passages, segmenter, terms)
        # only words the index does not know already (an alternate question may use 老百姓)
        data.synonyms = {
            w: t for w, t in synonyms.items() if t in data.idf and w not in data.idf
        }
        return cls(report, data, answer_threshold, suggest_threshold)

    @classmethod
    def load(cls, content: Path, cache_dir: Path | None, *, answer_threshold: int = 50,
             suggest_threshold: int = 20) -> Index:
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
                    return cls(report, data, answer_threshold, suggest_threshold)
                except (ValueError, KeyError, TypeError, IndexError) as error:
                    cache.warn(name, f"does not hold an index ({error!r}); rebuilding it")
            report = load_report(content)
            index = cls.build(
                report, cache=cache,
                answer_threshold=answer_threshold, suggest_threshold=suggest_threshold,
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
        """Rank passages for a question; ``answered`` is False when the bot should decline."""
        text = normalize(question[:MAX_QUESTION_CHARS])
        if not text:
            return SearchResult(question, (), False)
        intent = self._intent(text)
        if intent is not None and intent.kind == ABSENT:
            return SearchResult(question, (intent,), False)
        if intent is not None:
            answered = self._answers(text, intent)
            return SearchResult(question, (intent,), answered)
        corrected, corrections = self._correct(text)
        tokens = self._query_tokens(corrected)
        hits = self._rank(corrected, tokens, k)
        answered = (
            bool(hits)
            and hits[0].score >= self.answer_threshold
            and self._answers(corrected, hits[0])
        )
        if not answered:
            hits = tuple(h for h in hits if h.score >= self.suggest_threshold)
        return SearchResult(question, hits, answered, corrections)

    def _answers(self, text: str, hit: Hit) -> bool:
        """Whether the passage can hold what the question asks for.

        A count needs a number and a date a year in the sentence the question is
        about; a name only the byline holds; contact details, budgets, careers and
        other places are never in the report.
        """
        if _NEVER_IN_REPORT.search(text) or self._other_place(text):
            return False
        if hit.kind in ("slogans", "sections", "missing", "section"):
            return True
        if hit.kind == "author":
            return self._about_author(text)
        if _ASKS_NAME.search(text):
            return False
        sentence = self._answer_sentence(text, hit.id)
        count = _ASKS_COUNT.search(text)
        if count:
            unit = count.group(1)
            pattern = rf"\d+[{_COUNTERS}]" if unit is None or unit in _COUNTERS else rf"\d+{unit}"
            if not re.search(pattern, sentence):
                return False
        if _ASKS_TIME.search(text) and not re.search(r"\d+年|以来|去年", sentence):
            return False
        if _ASKS_REASON.search(text) and self._only_listed(text, hit.id):
            return False  # 出租车罢运 is listed among events; the report never says why
        if _ASKS_LIST.search(text) and hit.kind == "slogan" and not re.search("[、,]", hit.title):
            return False  # 五大战役 and 三个留人 are named, never spelled out
        return True

    def _query_tokens(self, text: str) -> list[str]:
        """Content tokens of a (corrected) question, everyday words read as report terms."""
        return [
            self.data.synonyms.get(t, t)
            for t in self.data.segmenter.content_tokens(_SELF_REFERENCE.sub(" ", text))
        ]

    def _answer_sentence(self, text: str, passage_id: str) -> str:
        """The sentence of a passage that holds most of the question's (IDF-weighted) words;
        shared character pairs break ties."""
        sentences = self._sentences.get(passage_id)
        if sentences is None:
            passage = self.passages.get(passage_id)
            raw = passage.text if passage else ""
            sentences = [compact(s) for s in re.split("[。；！？]", raw) if s.strip()] or [""]
            self._sentences[passage_id] = sentences
        weights = self._weights(self._query_tokens(text))
        grams = _bigrams(text.replace(" ", ""))
        return max(sentences, key=lambda s: (
            sum(w for t, w in weights.items() if t in s), len(grams & _bigrams(s))
        ))

    def _only_listed(self, text: str, passage_id: str) -> bool:
        """Whether the question's main term appears in the passage only as a list item."""
        tokens = [t for t in self.data.segmenter.content_tokens(text) if len(t) > 1]
        passage = self.passages.get(passage_id)
        if not tokens or passage is None:
            return False
        main = max(tokens, key=lambda t: self.data.idf.get(t, 0.0))
        if len(main) < 3:  # a named event or thing (出租车罢运), not a quality (可靠)
            return False
        items = [compact(part) for part in passage.text.split("、")]
        listed = [
            item for position, item in enumerate(items)
            if (position > 0 and item.startswith(main))
            or (position < len(items) - 1 and item.endswith(main))
        ]
        return bool(listed) and compact(passage.text).count(main) == len(listed)

    def _about_author(self, text: str) -> bool:
        """A question the byline answers names nothing the byline lacks (区委办主任 is not
        the author's office, 以前 not a thing the byline tells)."""
        author = next((d for d in self.data.docs if d.passage.kind == "author"), None)
        if author is None:
            return False
        tokens = self.data.segmenter.content_tokens(_SELF_REFERENCE.sub(" ", text))
        foreign = [
            t for t in tokens
            if t in self.data.report_terms and t not in author.tokens
            and t not in _DOCUMENT_WORDS and t not in _AUTHOR_WORDS
        ]
        # a date is known only for a document that states one (发布日期)
        asks_time = _ASKS_TIME.search(text) and not self.report.date
        return not foreign and not asks_time and not _BIOGRAPHY.search(text)

    def passage(self, passage_id: str) -> Passage | None:
        """A passage by id; a long measure split into parts (s2.m2) is found as its first."""
        return self.passages.get(passage_id) or self.passages.get(f"{passage_id}.p1")

    def _hit(self, passage: Passage, score: float) -> Hit:
        return Hit(passage.id, passage.kind, passage.title, passage.text, passage.path,
                   max(0, min(100, round(score))))

    def _other_place(self, text: str) -> bool:
        """A province, city, district or county the report is not about (北京市, 海淀区)."""
        tokens = self.data.segmenter.cut(text, hmm=False)
        for token, following in zip(tokens, [*tokens[1:], ""], strict=True):
            place = token if token[-1:] in "省市区县" and len(token) >= 3 else ""
            if not place and following[:1] in ("省", "市", "县") and len(token) >= 2:
                place = token + following[0]
            if place and place not in self.data.report_ngrams and self.data.segmenter.freq.get(
                place.rstrip("省市区县") or place, 0
            ) > 0:
                return True
        return False

    def _intent(self, text: str) -> Hit | None:
        """Questions that name a section, a measure of a section, the author or the slogans."""
        section_ref = _SECTION_REF.search(text)
        section_number = parse_number(section_ref.group(1)) if section_ref else None
        if section_ref and section_number is not None:
            section = self.report.section(section_number)
            if section is None:
                return absent_hit(section_number)
            rest = text[section_ref.end():]
        else:
            section_ref = None
            section, rest = self._section_by_name(text)
        if section is not None:
            measure_ref = _MEASURE_REF.search(rest)
            measure_number = _measure_number(measure_ref, section) if measure_ref else None
            if measure_number is not None:
                measure = section.measure(measure_number)
                if measure is not None:
                    return self._hit(self.passage(measure.id) or self.passages[section.id], 100)
                if measure_number in section.missing_measures:
                    return missing_measure_hit(section, measure_number)
                return absent_hit(section.number, measure_number)
            if section_ref and not self._content_beyond(rest):
                return self._hit(self.passages[section.id], 100)
        content = self.data.segmenter.content_tokens(text)
        if _TOC_CUE.search(text) and not self._content_beyond(_TOC_CUE.sub("", text)):
            return Hit(SECTIONS_ID, "sections", "报告目录", "", "全文", 100)
        if _SLOGAN_CUE.search(text) and not self._content_beyond(_SLOGAN_CUE.sub("", text)):
            return Hit(SLOGANS_ID, "slogans", "报告中的口号和提法", "", "全文", 100)
        if _AUTHOR_CUE.search(text) and len(content) <= 3:
            author = self.passages.get(AUTHOR_ID)
            return self._hit(author, 100) if author else None
        return None

    def _section_by_name(self, text: str) -> tuple[Section | None, str]:
        """A section named before a measure reference (业务提速部分的三是), and the text
        after the name; a section named alone is left to ranking."""
        for section in self.report.sections:
            name = compact(short_title(section.title).removeprefix("着力"))
            position = text.find(name) if len(name) >= 2 else -1
            if position >= 0 and _MEASURE_REF.search(text[position + len(name):]):
                return section, text[position + len(name):]
        return None, ""

    def _content_beyond(self, text: str) -> bool:
        """Whether text holds report terms beyond question words and cues."""
        tokens = self.data.segmenter.content_tokens(text)
        return any(
            t in self.data.report_terms and t not in _SECTION_CUE and t not in _DOCUMENT_WORDS
            for t in tokens
        )

    def _correct(self, text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Replace homophone typos by the report term with the same pinyin.

        A window is only rewritten when it does not cut through a dictionary word
        of the question (办公室在 is not 办公实在) and is not itself report text.
        """
        data = self.data
        if not data.terms_by_key:
            return text, ()
        corrections: list[tuple[str, str]] = []
        words, guessed = self._word_spans(text)
        # Characters inside a common word were typed on purpose: 意思 is not a typo of 意识.
        protected = {
            position for start, end in words
            if data.segmenter.freq.get(text[start:end], 0) >= _REAL_WORD_FREQ
            for position in range(start, end)
        }
        # Runs of characters that sound like the report: windows never leave one.
        sounds = data.segmenter.pinyin
        run_end = list(range(len(text) + 1))  # run_end[p]: first position >= p without a sound
        for position in range(len(text) - 1, -1, -1):
            if text[position] in sounds:
                run_end[position] = run_end[position + 1]
        inside_word = {p for start, end in words for p in range(start + 1, end)}
        out: list[str] = []
        i = 0
        while i < len(text):
            for length in (6, 5, 4, 3, 2):
                end = i + length
                window = text[i:end]
                if (
                    end > run_end[i]
                    or i in inside_word or end in inside_word
                    or window in data.report_ngrams
                    or window in data.real_words
                ):
                    continue
                term = self._homophone(window)
                if not term:
                    continue
                changed = [
                    i + n for n, (a, b) in enumerate(zip(term, window, strict=True)) if a != b
                ]
                if any(p in protected for p in changed) or any(
                    # cutting through a guessed word is fine only where the typo is in it
                    (s < i < e or s < end < e) and not any(s <= p < e for p in changed)
                    for s, e in guessed
                ):
                    continue
                out.append(term)
                corrections.append((window, term))
                i = end
                break
            else:
                out.append(text[i])
                i += 1
        return "".join(out), tuple(corrections)

    def _word_spans(self, text: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Spans of the dictionary words and of the unknown words jieba's HMM guesses
        (湖人), two characters or more."""
        known: list[tuple[int, int]] = []
        guessed: list[tuple[int, int]] = []
        position = 0
        freq = self.data.segmenter.freq
        for token in self.data.segmenter.cut(text):
            if len(token) >= 2:
                span = (position, position + len(token))
                (known if freq.get(token, 0) > 0 else guessed).append(span)
            position += len(token)
        return known, guessed

    def _homophone(self, window: str) -> str:
        """The report term that window is a likely mistyping of, or ''."""
        for key in pinyin_keys(window, self.data.segmenter.pinyin):
            for term in self.data.terms_by_key.get(key, ()):
                changed = [(t, w) for t, w in zip(term, window, strict=True) if t != w]
                segmenter = self.data.segmenter
                if (
                    0 < len(changed) <= max(1, len(term) // 3)
                    and len(changed) < len(term)
                    and not any(segmenter.is_stopword(w) for _, w in changed)
                    # two characters leave little context: there the sound must be exact
                    and (len(term) > 2 or all(segmenter.same_sound(t, w) for t, w in changed))
                ):
                    return term
        return ""

    def _weights(self, tokens: Iterable[str]) -> dict[str, float]:
        weights: dict[str, float] = {}
        freq = self.data.segmenter.freq
        for token in tokens:
            weight = self.data.idf.get(token, 0.0)
            if not weight:
                # A word the report never uses: a common one (强调, 控制) says less about
                # what is asked than a rare one (GDP, 深圳).
                common = freq.get(token, 0)
                weight = self.data.unknown_weight * (
                    0.5 if common >= 3000 else 0.75 if common >= 300 else 1.0
                )
            if len(token) == 1:
                weight *= _SINGLE_CHAR_WEIGHT
            weights[token] = weight
        return weights

    def _coverage(self, weights: dict[str, float]) -> dict[int, float]:
        """IDF-weighted share of the question each candidate passage holds."""
        data = self.data
        total = sum(weights.values())
        if total <= 0:
            return {}
        matched: dict[int, float] = defaultdict(float)
        for token, weight in weights.items():
            exact = data.postings.get(token, ())
            for doc in exact:
                matched[doc] += weight
            if len(token) < 2:
                continue
            grams = _bigrams(token)
            counts: dict[int, int] = defaultdict(int)
            for gram in grams:
                for doc in data.bigram_postings.get(gram, ()):
                    counts[doc] += 1
            exact_set = set(exact)
            for doc, count in counts.items():
                share = count / len(grams)
                if doc not in exact_set and share >= 0.5:
                    matched[doc] += weight * _PARTIAL_CREDIT * share
        return {doc: value / total for doc, value in matched.items()}

    def _rank(self, text: str, tokens: list[str], k: int) -> tuple[Hit, ...]:
        data = self.data
        weights = self._weights(tokens)
        coverage = self._coverage(weights)
        if not coverage:
            return ()
        query = "".join(tokens)
        query_grams = _bigrams(text.replace(" ", ""))
        section_cue = any(cue in text for cue in _SECTION_CUE)
        candidates = heapq.nlargest(_CANDIDATES, coverage.items(), key=lambda item: item[1])
        scored: list[tuple[float, int]] = []
        for doc_index, cover in candidates:
            doc = data.docs[doc_index]
            best_phrase = process.extractOne(query, doc.phrases, scorer=fuzz.ratio)
            phrase = best_phrase[1] / 100 if best_phrase else 0.0
            score = 0.62 * cover + 0.38 * phrase * min(1.0, cover * 2)
            if doc.quote:
                # A fragment of a quoted formula: count its character pairs in the question.
                shared = len(query_grams & doc.quote_grams)
                needed = min(len(doc.quote_grams), 4)
                if needed and shared >= needed:
                    score = max(score, 0.6 + 0.4 * min(1.0, shared / len(doc.quote_grams)))
            if section_cue and doc.passage.kind == "section":
                score += 0.12
            scored.append((score, doc_index))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return tuple(self._hit(data.docs[i].passage, calibrated(s)) for s, i in scored[:k])


def _measure_number(match: re.Match[str], section: Section) -> int | None:
    """The measure a reference names: 第3点, 三是, 最后一条 (the section's last); None
    when the reference holds no number (十十是)."""
    if match.group(3):
        return section.measure_count or None
    return parse_number(match.group(1) or match.group(2))


def missing_measure_hit(section: Section, number: int) -> Hit:
    """A measure the source lost (section 三 keeps only its 四是): one of its
    ``missing_measures``, never a number the section does not have."""
    kept = "、".join(f"{numeral(m.number)}是" for m in section.measures) or "无"
    return Hit(
        f"{section.id}.m{number}", "missing", f"{numeral(number)}是（原文缺失）",
        f"原文此处缺失：{section.heading}的{numeral(number)}是在来源中已丢失，报告只保留了{kept}。",
        f"{section.short_heading} › {numeral(number)}是", 100,
    )


def _build_data(passages: Sequence[Passage], segmenter: Segmenter, terms: list[str]) -> IndexData:
    docs: list[_Doc] = []
    for passage in passages:
        fields = [passage.title, passage.text, *passage.questions, *passage.keywords]
        if passage.kind == "slogan":
            fields = [passage.title, *passage.questions, *passage.keywords]
        tokens: set[str] = set()
        grams: set[str] = set()
        for value in fields:
            value = compact(value)
            tokens.update(segmenter.search_tokens(value))
            grams |= _bigrams(value)
        phrases = tuple(
            p for p in ("".join(segmenter.content_tokens(compact(v)))
                        for v in (passage.title, *passage.questions, *passage.keywords)) if p
        )
        quote = compact(passage.title) if passage.kind == "slogan" else ""
        docs.append(_Doc(
            passage, frozenset(tokens), frozenset(grams), phrases,
            quote, frozenset(_bigrams(quote)),
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
        if 2 <= len(term) <= 6 and not segmenter.is_stopword(term):
            for key in pinyin_keys(term, segmenter.pinyin):
                terms_by_key[key].append(term)
    return IndexData(
        docs=docs,
        idf=idf,
        postings=dict(postings),
        bigram_postings=dict(bigram_postings),
        segmenter=segmenter,
        unknown_weight=math.log(1 + count / 0.5),
        terms_by_key=dict(terms_by_key),
        real_words=segmenter.homophone_words(terms_by_key, _REAL_WORD_FREQ),
        vocabulary=vocabulary,
        report_terms=report_terms,
        report_ngrams=frozenset(
            text[i : i + n]
            for text in {compact(p.text) for p in passages} | {compact(p.title) for p in passages}
            for n in range(2, 7) for i in range(len(text) - n + 1)
        ),
    )


# --- the index cache -----------------------------------------------------------------


def index_code() -> list[Path]:
    """The bot's modules: all of them, since any may take part in building the index
    (hashing them all takes about a millisecond; missing one keeps a stale index)."""
    return sorted(Path(__file__).parent.glob("*.py"))


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
        for file in group:
            body = file.read_bytes() if file.is_file() else b""
            digest.update(f"{file.name}\0{len(body)}\0".encode() + body)
    return digest.hexdigest()[:32]


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
    }
    return json.dumps(plain, ensure_ascii=False, separators=(",", ":")).encode()


def _index_from_json(payload: bytes) -> tuple[Report, IndexData]:
    """What ``_index_as_json`` wrote, rebuilt field by field."""
    plain = json.loads(payload)
    report = report_from_data(plain["report"])
    docs = [
        _Doc(passage, frozenset(tokens), frozenset(bigrams), tuple(phrases), quote,
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
    )
