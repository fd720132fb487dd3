"""Text normalisation shared by the index and the queries.

Both sides go through the same steps, so a question typed in traditional
script, with full-width characters or with Chinese numerals meets the report
text in one canonical form:

    NFKC (width) -> OpenCC t2s (script) -> lower case -> numerals -> punctuation
"""

from __future__ import annotations

import heapq
import json
import logging
import re
import sys
import unicodedata
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import Any

import opencc

from bot.cache import PrivateCache

_CONVERTER = opencc.OpenCC("t2s")

_NUMERAL_CHARS = "零〇一二两三四五六七八九十百千万亿"
# A Chinese numeral is converted where it is clearly a number: after 第, before a
# counter or unit, or as a digit-by-digit run (二〇一二, 九八). Elsewhere 一 is a word
# part (统一, 一流) and stays.
_UNITS = "年|月|日|号|个|位|名|项|条|次|届|大|点|部分|章|节|万|字|岁|人"
_NUMBER = re.compile(
    rf"(?<=第)[{_NUMERAL_CHARS}\d]+"
    rf"|[{_NUMERAL_CHARS}\d]*[{_NUMERAL_CHARS}][{_NUMERAL_CHARS}\d]*(?={_UNITS})"
    rf"|\d+[{_NUMERAL_CHARS}]+"
    r"|[〇零一二三四五六七八九]{2,}"
)
_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
# Financial numerals (壹贰叁, as on cheques) read as the everyday ones.
_FINANCIAL = str.maketrans("壹贰叁肆伍陆柒捌玖拾佰仟", "一二三四五六七八九十百千")
# Punctuation between digits is a separator inside one number or date (9·8, 9.8).
_DIGIT_PUNCT = re.compile(r"(?<=[\d〇零一二三四五六七八九])[·.\-/](?=[\d〇零一二三四五六七八九])")
_NOT_WORD = re.compile(r"[^\w]+|_+")
_SPACES = re.compile(r"\s+")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def to_simplified(text: str) -> str:
    """Traditional -> simplified Chinese (OpenCC t2s); other text is unchanged."""
    return _CONVERTER.convert(text)


@lru_cache(maxsize=512)
def _number_value(numeral: str) -> str:
    if not any(c in numeral for c in "十百千万亿两"):
        return numeral.translate(_DIGITS)  # digit by digit: 二〇一二 -> 2012
    import cn2an  # loaded only for numerals with units; it costs ~0.1 s to import

    try:
        return str(cn2an.cn2an(numeral, "smart"))
    except (ValueError, KeyError):
        return numeral


def arabic_numerals(text: str) -> str:
    """Write numbers in Arabic digits: 二〇一二年 / 两千零一十二年 -> 2012年, 第二 -> 第2."""
    text = _DIGIT_PUNCT.sub("", text)
    if not any(c in _NUMERAL_CHARS for c in text):
        return text
    return _NUMBER.sub(_number_or_article, text)


def _number_or_article(match: re.Match[str]) -> str:
    """一个 is mostly 'a', not the number one: it stays a (stop)word."""
    if match.group(0) == "一" and match.string.startswith("个", match.end()):
        return "一"
    return _number_value(match.group(0))


@lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """Canonical form for matching: simplified, half-width, lower case, Arabic numbers,
    punctuation folded to single spaces.

    >>> normalize("第二部分講了什麼？")
    '第2部分讲了什么'
    >>> normalize("９·８投洽會")
    '98投洽会'
    """
    text = unicodedata.normalize("NFKC", text)
    text = to_simplified(text).lower().translate(_FINANCIAL)
    text = arabic_numerals(text)
    return _SPACES.sub(" ", _NOT_WORD.sub(" ", text)).strip()


def has_chinese(text: str) -> bool:
    return bool(_CJK.search(text))


def compact(text: str) -> str:
    """Normalised text without spaces: the form fuzzy character scorers compare."""
    return normalize(text).replace(" ", "")


@lru_cache(maxsize=4096)
def compact_report_text(text: str) -> str:
    """compact() of the report's own titles, names and passages, which every question
    compares with: normalised once per process, apart from the questions' cache."""
    return compact(text)


# --- tokens -------------------------------------------------------------------

# Question words, particles and filler: they say how something is asked, not what.
STOPWORDS = frozenset(
    """
    什么 啥 怎么 怎样 怎么样 如何 哪些 哪个 哪里 哪儿 哪 吗 呢 吧 啊
    呀 嘛 哦 哈 么 的 地 得 了 着 过 是 有 在 和 与 及 或 跟 同
    请问 请 麻烦 我 你 您 他 她 它 我们 你们 他们 咱们 想 想要 知道
    问 问问 一下 告诉 讲 讲了 讲的 说 说了 说的 提到 提 提了 关于 这个
    那个 这 那 这些 那些 些 都 也 就 还 又 被 把 对 给 为 为了
    为什么 为啥 多少 几 几个 能 会 可以 要 需要 应该 谁 时候 呢 之 其
    中 里 里面 上面 下面 报告 文章 文中 全文 原文 这篇 那篇 篇 内容
    主要 具体 具体说 到底 究竟 一些 有没有 有无 是否 是不是 吗 呗 嗯 哎
    诶 哟 喔 吧 呐 是的 一个 方面 部分 板块 那块 一块 章节 那段 这段
    段 讲讲 说说 介绍 一下子 个 块 包括 包含 涉及 怎么办 咋 咋办 做了
    做 干 干了 搞 用 通过 进行 开展 有关 相关 情况 问题 写 写了 提出
    采取 哪几 几点
    """.split()
)


def _toneless(reading: str) -> str:
    plain = "".join(
        c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c)
    )
    return plain.replace("ü", "v").replace("u\u0308", "v")


def _coarse(reading: str) -> str:
    """Toneless pinyin with the distinctions input methods blur folded (zh/z, ing/in, ...)."""
    plain = _toneless(reading)
    for blurred, folded in (("zh", "z"), ("ch", "c"), ("sh", "s")):
        if plain.startswith(blurred):
            plain = folded + plain[2:]
    for blurred, folded in (("ing", "in"), ("eng", "en"), ("ang", "an")):
        if plain.endswith(blurred):
            plain = plain[: -len(blurred)] + folded
    return plain


def pinyin_keys(text: str, readings: dict[str, tuple[str, ...]], limit: int = 8) -> list[str]:
    """Coarse pinyin keys of text (one per reading combination, at most ``limit``);
    [] when a character has no known reading."""
    keys = [""]
    for char in text:
        options = readings.get(char)
        if not options:
            return []
        keys = [f"{k} {r}" if k else r for k in keys for r in options][:limit]
    return keys


def _jieba() -> Any:
    """Import jieba quietly and without pkg_resources.

    jieba imports pkg_resources (about 0.1 s, most of a cold question) only to locate its
    own data files, and falls back to plain paths when that import fails; so the import is
    made to fail for the moment jieba is imported, and nothing else is affected.
    """
    if "jieba" not in sys.modules and "pkg_resources" not in sys.modules:
        sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # ImportError
        try:
            import jieba
        finally:
            del sys.modules["pkg_resources"]
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


_FULL_DICTIONARY: dict[str, Any] = {}  # the full jieba tokenizer, while building
_JIEBA_CACHE_PREFIX = "jieba"  # also matches jieba's own jieba.cache, left by older versions


def full_tokenizer(cache: PrivateCache | None = None):  # -> jieba.Tokenizer
    """jieba with its full dictionary (about a second to load): used to build the index only.

    jieba's own cache (a marshal file in the shared temp dir, read back without any
    check) is never used: the dictionary is kept as checked JSON in our private cache,
    or rebuilt from jieba's dict.txt when there is none.
    """
    if "tokenizer" not in _FULL_DICTIONARY:
        jieba = _jieba()
        tokenizer = jieba.Tokenizer()
        name = f"{_JIEBA_CACHE_PREFIX}-{jieba.__version__}.json"
        loaded = _cached_dictionary(cache.read(name)) if cache is not None else None
        if loaded is None:
            loaded = tokenizer.gen_pfdict(tokenizer.get_dict_file())
            if cache is not None:
                freq, total = loaded
                payload = {"freq": _frequencies_as_data(freq), "total": total}
                cache.write(name, json.dumps(payload, ensure_ascii=False).encode(),
                            stale_prefix=_JIEBA_CACHE_PREFIX, keep_versions=1)
        tokenizer.FREQ, tokenizer.total = loaded
        tokenizer.initialized = True  # so that jieba never looks for its own cache
        _FULL_DICTIONARY["tokenizer"] = tokenizer
    return _FULL_DICTIONARY["tokenizer"]


def _cached_dictionary(payload: bytes | None) -> tuple[dict[str, int], int] | None:
    """jieba's (FREQ, total) from our cache, or None when absent or not of that shape."""
    if payload is None:
        return None
    try:
        data = json.loads(payload)
        return _frequencies_from_data(data["freq"]), int(data["total"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _frequencies_as_data(freq: dict[str, int]) -> dict[str, Any]:
    """Words and their counts apart: two arrays read back in about half the time of
    one object of that many keys."""
    words = "\n".join(freq)
    if words.count("\n") != len(freq) - 1:
        raise ValueError("a dictionary word holds a line break")
    return {"words": words, "counts": list(freq.values())}


def _frequencies_from_data(data: dict[str, Any]) -> dict[str, int]:
    # interned: the reports of one bot share most of their words (bot.search.library)
    return dict(zip(map(sys.intern, data["words"].split("\n")), data["counts"], strict=True))


class Segmenter:
    """One jieba tokenizer of our own, holding only what matching needs.

    Its dictionary is the report's vocabulary and terms, the stopwords and the
    most frequent general words, so a query segments like it would with the
    full dictionary while loading in milliseconds. ``as_data`` / ``from_data``
    turn it into plain data for the index cache and back.
    """

    GENERAL_WORDS = 20000
    REPORT_WORD_FREQ = 3000

    def __init__(
        self, freq: dict[str, int], total: int, readings: dict[str, tuple[str, ...]],
        exact: dict[str, tuple[str, ...]] | None = None,
    ):
        self.freq = freq
        self.total = total
        self.pinyin = readings  # coarse readings, for finding candidate terms
        self.exact = exact or {}  # toneless readings, for short words that must sound the same
        self._tokenizer = None
        self._recent: dict[tuple[str, bool], tuple[str, ...]] = {}

    def as_data(self) -> dict[str, Any]:
        """What the segmenter holds, as JSON-ready data."""
        return {
            "freq": _frequencies_as_data(self.freq), "total": self.total,
            "pinyin": _packed(self.pinyin), "exact": _packed(self.exact),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Segmenter:
        """The segmenter ``as_data`` described (after a JSON round trip)."""
        return cls(
            _frequencies_from_data(data["freq"]), data["total"],
            _unpacked(data["pinyin"]), _unpacked(data["exact"]),
        )

    def same_sound(self, a: str, b: str) -> bool:
        """Whether two characters share a toneless reading (涨 zhang and 展 zhan do not)."""
        return not set(self.exact.get(a, ())).isdisjoint(self.exact.get(b, ()))

    @classmethod
    def build(
        cls, terms: list[str], corpus: list[str], cache: PrivateCache | None = None,
        extra_words: Iterable[str] = (),
    ) -> Segmenter:
        """Derive the small dictionary from jieba's full one, the terms, the corpus and
        extra words (everyday synonyms) that must be tokens too."""
        full = full_tokenizer(cache)
        term_freq = max(full.FREQ.get("政府", 1000), 1000)
        for term in terms:
            full.add_word(term, term_freq)
        words: dict[str, int] = {}
        for text in corpus + terms:
            for token in full.cut_for_search(text):
                if token.strip():
                    # The report's own words win segmentation ties (提拔到处级 -> 处级).
                    floor = cls.REPORT_WORD_FREQ if len(token) > 1 else 1
                    words[token] = max(full.FREQ.get(token) or 1, floor)
        for term in terms:
            words[term] = term_freq
        for word in extra_words:
            words[word] = max(full.FREQ.get(word) or 1, cls.REPORT_WORD_FREQ)
        general = heapq.nlargest(
            cls.GENERAL_WORDS, ((f, w) for w, f in full.FREQ.items() if f > 0)
        )
        for frequency, word in general:
            words.setdefault(word, frequency)
        for word in STOPWORDS:
            words.setdefault(word, full.FREQ.get(word) or 1)
        freq: dict[str, int] = {}
        for word, frequency in words.items():
            freq[word] = frequency
            for end in range(1, len(word)):
                freq.setdefault(word[:end], 0)
        report_chars = {c for text in corpus + terms for c in text if has_chinese(c)}
        readings, exact = _readings(report_chars)
        return cls(freq, full.total, readings, exact)

    @property
    def tokenizer(self):  # -> jieba.Tokenizer
        if self._tokenizer is None:
            tokenizer = _jieba().Tokenizer()
            tokenizer.FREQ, tokenizer.total = self.freq, self.total
            tokenizer.initialized = True  # our dictionary is already loaded
            self._tokenizer = tokenizer
        return self._tokenizer

    def is_stopword(self, token: str) -> bool:
        return token in STOPWORDS

    def cut(self, text: str, hmm: bool = True) -> tuple[str, ...]:
        """jieba's segmentation of text; a question is segmented several times while it
        is answered, so recent results are kept."""
        key = (text, hmm)
        tokens = self._recent.get(key)
        if tokens is None:
            if len(self._recent) >= 256:
                self._recent.clear()
            tokens = self._recent[key] = tuple(self.tokenizer.lcut(text, HMM=hmm))
        return tokens

    def content_tokens(self, text: str, hmm: bool = True) -> list[str]:
        """Tokens of normalised text that carry meaning (no stopwords, no spaces)."""
        return [t for t in self.cut(text, hmm) if t.strip() and t not in STOPWORDS]

    def search_tokens(self, text: str) -> list[str]:
        """Tokens and their dictionary sub-words, for indexing passages."""
        return [
            t for t in self.tokenizer.cut_for_search(text, HMM=True)
            if t.strip() and t not in STOPWORDS
        ]

    def homophone_words(self, terms_by_key: dict[str, list[str]], min_freq: int) -> frozenset[str]:
        """Frequent real words that sound like a report term: never 'corrected'."""
        full = _FULL_DICTIONARY.get("tokenizer")
        if full is None:
            return frozenset()
        found = set()
        for word, frequency in full.FREQ.items():
            if frequency >= min_freq and 2 <= len(word) <= 6:
                for key in pinyin_keys(word, self.pinyin):
                    if key in terms_by_key and word not in terms_by_key[key]:
                        found.add(word)
                        break
        return frozenset(found)


def _packed(table: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """{"一": ("yi",), "衣": ("yi",), "长": ("chan", "zan")} as the distinct readings, the
    characters and the index of each one's readings: about three thousand short strings
    instead of twenty thousand lists, so reading them back takes a few milliseconds."""
    readings = list(dict.fromkeys(table.values()))
    position = {options: number for number, options in enumerate(readings)}
    return {
        "readings": [",".join(options) for options in readings],
        "chars": "".join(table),
        "reading_of": [position[options] for options in table.values()],
    }


@cache
def _reading_options(options: str) -> tuple[str, ...]:
    """A character's readings ("zhang,zhan"), one tuple for every table that has them."""
    return tuple(options.split(","))


def _unpacked(packed: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """The inverse of ``_packed``."""
    readings = [_reading_options(options) for options in packed["readings"]]
    if len(packed["chars"]) != len(packed["reading_of"]):
        raise ValueError("packed readings: characters and indexes differ in number")
    # interned: a character is one object in both tables and in every report's index
    # (43,000 characters of 76 bytes each per table, else)
    return dict(zip(map(sys.intern, packed["chars"]),
                    map(readings.__getitem__, packed["reading_of"]), strict=True))


def _readings(
    report_chars: set[str],
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Coarse and toneless readings of every character that sounds like some character
    of the report."""
    from pypinyin.pinyin_dict import pinyin_dict

    def readings_of(code: int) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_coarse(r) for r in pinyin_dict[code].split(",")))

    syllables = {
        r for c in report_chars if ord(c) in pinyin_dict for r in readings_of(ord(c))
    }
    table: dict[str, tuple[str, ...]] = {}
    exact: dict[str, tuple[str, ...]] = {}  # tuples: cheaper to read back from the cache
    for code in pinyin_dict:
        if 0x4E00 <= code <= 0x9FFF:
            options = tuple(r for r in readings_of(code) if r in syllables)
            if options:
                table[chr(code)] = options
                exact[chr(code)] = tuple(
                    dict.fromkeys(_toneless(r) for r in pinyin_dict[code].split(","))
                )
    return table, exact
