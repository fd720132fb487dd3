"""Pinyin letters: a question typed in Latin pinyin is read as Chinese through the report's
own words.

People on a phone with a broken input method, and learners, type ``ducha wenxiao``,
``zonghexietiao``, ``dū chá wèn xiào`` or ``du1cha2``. Such a run of Latin letters is read
as the cheapest sequence of words whose toneless syllables spell it: the report's words
first, then common general words, then lone question words and particles (是, 的, 有), so
``zhengfuban de jingshen shi shenme`` reads 政府办的精神是什么 and ``xian`` is 西安 only
where the report speaks of 西安. Spaces and tone digits the user typed are syllable
boundaries; a word may span them (``zonghe xietiao`` is the report's term 综合协调), at a
small cost, since a space is more often a word boundary.

Real input is never taken: a run is read only when every Latin word in it is pinyin or
Latin the report itself uses (PPP, GDP stay as typed, so a URL or an English sentence stays
whole); a question in pure letters must read with at least one word of two syllables or
more (``open`` is not 哦盆). One slip of a letter is mended only towards a report word
(``ducha wenxao`` is 督查问效), never in a short word.

Everything that needs pypinyin is built with the index (``PinyinVocabulary.build``) and kept
as plain strings; the table is parsed on the first question with Latin letters.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from rapidfuzz import process
from rapidfuzz.distance import OSA

# Word costs (a report word's is at most REPORT_WORD_COST, every other word's more):
# fewer words is the better reading; on a tie the report's own word wins
# (xian: 西安 in a report about 西安), and a lone syllable is the least telling reading:
# a question word or particle (shi: 是) before any other character.
REPORT_WORD_COST = 1.0
GENERAL_WORD_COST = 1.2
FUNCTION_CHAR_COST = 1.3
SINGLE_CHAR_COST = 1.5  # any other character standing alone (zi: 字): the last resort
REPORT_CHAR_COST = 1.4  # ... one of the report's characters first (da jiangtang: 大讲堂)
OTHER_READING_COST = 0.12  # a rarer reading: tian is 天 before 典 (dian, tian); shui still 谁
# A word spanning a space the user typed: allowed (zonghe xietiao -> 综合协调), but a space is
# more often a word boundary (shi shenme is 是什么, not 失神么).
SPACE_INSIDE_WORD_COST = 0.2
# A word read across an unmarked start of a vowel syllable (jiang as ji'ang): possible,
# since people skip the apostrophe (xian for 西安), but the plain syllable comes first.
MISSING_APOSTROPHE_COST = 0.35  # more than a lone character's: tian is 天, not 提案
REPORT_MISSING_APOSTROPHE_COST = 0.15  # below the report's edge: its fangan is 方案, not 反感
_VOWEL_INITIALS = "aoe"
_LONGEST_SYLLABLE = 6  # zhuang, chuang, shuang
# Among readings of equal cost the more frequent words win; log10 of a jieba frequency is
# at most about 6, so this never outweighs the gaps between the costs above.
FREQUENCY_BONUS = 0.01
# One slip of a letter (missing, extra, wrong, or two swapped: OSA distance) is mended in a
# word that does not read, to a report word of two syllables or more, and only over letters
# enough that one letter is a slip, not another word (hi, ok); a word typed alone must be
# longer still, since an English word may well be a letter away from some pinyin.
MEND_MAX_EDITS = 1
MEND_MIN_LETTERS = 5
MEND_ALONE_MIN_LETTERS = 8
MEND_WINDOW = 4  # words of a report term typed apart (du cha wen xiao)
# Questions ask: naxie is 哪些 rather than 那些, a word of the same frequency.
QUESTION_CHARS = "哪什怎谁几啥咋吗"
QUESTION_WORD_BONUS = 0.05
WORD_LENGTHS = range(2, 9)  # words read from pinyin: two to eight characters
TONE_DIGITS = "012345"  # 5 (and 0 in some input methods) marks the neutral tone

_LATIN = "a-z\u00e0-\u024f\u1e3f"  # ASCII and the accented letters tone marks make
_TOKEN = rf"[{_LATIN}][{_LATIN}0-9]*"
# a run stands apart from other letters and digits (not 5g's g, not duß's du); Chinese
# may touch it (政府办de作风)
_APART = r"[^\W\u4e00-\u9fff]"
_LATIN_RUN = re.compile(rf"(?<!{_APART}){_TOKEN}(?: {_TOKEN})*(?!{_APART})")
_HAS_LATIN = re.compile(rf"[{_LATIN}]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_ALL_CJK = re.compile(r"[\u4e00-\u9fff]+")
# letters with at most one tone digit after each stretch: du1cha2, not g20 or pm25
# (written so that no two ways match one string: nothing to backtrack over)
_PINYIN_TOKEN = re.compile(rf"[a-z]+(?:[{TONE_DIGITS}][a-z]+)*[{TONE_DIGITS}]?")
_SYLLABLES_AND_TONE = re.compile(rf"([a-z]+)([{TONE_DIGITS}]?)")
_LATIN_WORD = re.compile(r"[a-z0-9]*[a-z][a-z0-9]*")  # report Latin: ppp, gdp, 5g, g20


def toneless(text: str) -> str:
    """Latin pinyin without tone marks, ü written v (as input methods and pypinyin do).

    >>> toneless("dū chá nǚ")
    'du cha nv'
    """
    decomposed = unicodedata.normalize("NFD", text).replace("u\u0308", "v")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ü", "v")


def split_syllables(
    letters: str, syllables: frozenset[str] | set[str], boundaries: Iterable[int] = ()
) -> tuple[str, ...] | None:
    """Letters as the fewest valid syllables (the usual reading: xian, not xi an), meeting
    every boundary given (positions where the user put a space or a tone digit); None when
    they do not spell pinyin.

    >>> split_syllables("zonghexietiao", {"zong", "he", "xie", "tiao", "zon", "ghe"})
    ('zong', 'he', 'xie', 'tiao')
    """
    if not letters:
        return None
    forced = set(boundaries)
    longest = _LONGEST_SYLLABLE
    best: list[tuple[str, ...] | None] = [None] * (len(letters) + 1)
    best[0] = ()
    for start in range(len(letters)):
        route = best[start]
        if route is None:
            continue
        for end in range(start + 1, min(len(letters), start + longest) + 1):
            if any(start < b < end for b in forced):
                break
            if letters[start:end] in syllables:
                known = best[end]
                if known is None or len(route) + 1 < len(known):
                    best[end] = (*route, letters[start:end])
    return best[len(letters)]


class _Word(NamedTuple):
    word: str
    inner: int  # syllable boundaries inside the word: bit n set for one after n letters
    cost: float
    vowel_starts: int  # those of them before a syllable starting with a, o or e (xi'an)
    apostrophe_cost: float  # for each of those the user did not mark off


@dataclass
class PinyinVocabulary:
    """What pinyin is read through: the valid syllables, the words a report's questions may
    be made of with their toneless syllables and costs, and the Latin words of the report
    (never read as pinyin).

    Kept as plain strings (``as_data`` / ``from_data``); ``read`` parses them on first use.
    """

    syllables_text: str = ""  # valid toneless syllables, space-separated
    # one line per spelling: toneless letters, then its words cheapest first, each as
    # word,mask,cost (mask: bit n set when a syllable ends after n letters inside the word)
    words_text: str = ""
    latin_words: frozenset[str] = frozenset()
    _syllables: frozenset[str] | None = field(default=None, repr=False, compare=False)
    _packed: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    _by_letters: dict[str, list[_Word]] | None = field(default=None, repr=False, compare=False)
    _report_keys: list[str] | None = field(default=None, repr=False, compare=False)

    # --- building ---------------------------------------------------------------

    @classmethod
    def build(
        cls, report_words: Iterable[str], general_words: Mapping[str, int],
        function_words: Iterable[str], latin_words: Iterable[str],
    ) -> PinyinVocabulary:
        """The vocabulary from a report's words, general words with their frequencies
        (jieba's), the question words and particles (stopwords) and the report's Latin
        words; readings from pypinyin's phrase and character tables (index build
        only: importing them takes about half a second)."""
        from pypinyin import Style, lazy_pinyin
        from pypinyin.constants import PHRASES_DICT
        from pypinyin.pinyin_dict import pinyin_dict

        def spellings(word: str) -> list[tuple[tuple[str, ...], float]]:
            """A word's toneless syllables, with the extra cost of a rarer reading."""
            if len(word) == 1:  # a lone character: any of its readings (谁 shei, shui)
                options = dict.fromkeys(toneless(r) for r in pinyin_dict[ord(word)].split(","))
                return [((option,), OTHER_READING_COST if n else 0.0)
                        for n, option in enumerate(options)]
            phrase = PHRASES_DICT.get(word)
            if phrase is not None and len(phrase) == len(word):
                return [(tuple(toneless(options[0]) for options in phrase), 0.0)]
            readings = [pinyin_dict[ord(c)] for c in word]
            if all("," not in r for r in readings):  # one reading each: nothing to choose
                return [(tuple(toneless(r) for r in readings), 0.0)]
            # pypinyin reads it by the phrases in it (协调 xie tiao, not xie diao)
            return [(tuple(lazy_pinyin(word, style=Style.NORMAL)), 0.0)]

        syllables = sorted({
            toneless(option)
            for code, options in pinyin_dict.items() if 0x4E00 <= code <= 0x9FFF
            for option in options.split(",")
        } - {""})
        # hm, ng, m, n: interjections without a vowel would make stray consonants pinyin
        syllables = [s for s in syllables if re.search("[aeiouv]", s)]
        costs: dict[str, float] = {}

        def add(word: str, cost: float, frequency: int) -> None:
            if _ALL_CJK.fullmatch(word) and all(ord(c) in pinyin_dict for c in word):
                cost -= FREQUENCY_BONUS * math.log10(max(frequency, 1))
                costs[word] = min(cost, costs.get(word, cost))

        function = set(function_words)
        report = {w for w in report_words if len(w) in WORD_LENGTHS}
        for word in report:
            add(word, REPORT_WORD_COST, general_words.get(word, 1))
        for word, frequency in general_words.items():
            if frequency > 0 and len(word) in WORD_LENGTHS and word not in report:
                add(word, GENERAL_WORD_COST, frequency)
        report_chars = {char for word in report for char in word}
        for word, frequency in general_words.items():
            if len(word) == 1 and frequency > 0:
                add(word, REPORT_CHAR_COST if word in report_chars else SINGLE_CHAR_COST,
                    frequency)
        for word in function:
            if len(word) == 1:
                add(word, FUNCTION_CHAR_COST, general_words.get(word, 1))
        for word in function & costs.keys():
            if any(char in QUESTION_CHARS for char in word):
                costs[word] -= QUESTION_WORD_BONUS
        valid = set(syllables)
        spelled_words: dict[str, list[tuple[float, str, int]]] = {}
        for word, cost in costs.items():
            for spelled, extra in spellings(word):
                if all(s in valid for s in spelled):
                    mask = sum(1 << n for n in itertools.accumulate(map(len, spelled[:-1])))
                    spelled_words.setdefault("".join(spelled), []).append(
                        (cost + extra, word, mask)
                    )
        lines = []
        for letters, words in sorted(spelled_words.items()):
            # of the words split into the same syllables only the cheapest can be read
            cheapest = {mask: (cost, w) for cost, w, mask in sorted(words, reverse=True)}
            lines.append(f"{letters}\t" + ";".join(
                f"{w},{mask},{cost:.4f}" for mask, (cost, w) in
                sorted(cheapest.items(), key=lambda item: item[1])
            ))
        return cls(" ".join(syllables), "\n".join(lines), frozenset(latin_words))

    def as_data(self) -> dict[str, Any]:
        return {
            "syllables": self.syllables_text, "words": self.words_text,
            "latin": sorted(self.latin_words),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> PinyinVocabulary:
        return cls(data["syllables"], data["words"], frozenset(data["latin"]))

    # --- reading ----------------------------------------------------------------

    @property
    def syllables(self) -> frozenset[str]:
        if self._syllables is None:
            self._syllables = frozenset(self.syllables_text.split())
        return self._syllables

    def _words(self, letters: str) -> list[_Word]:
        """The words spelled by toneless letters, cheapest first."""
        if self._by_letters is None:
            # kept as text until a question has letters; each spelling decoded when asked
            self._packed = dict(line.split("\t", 1) for line in self.words_text.splitlines())
            self._by_letters = {}
        words = self._by_letters.get(letters)
        if words is None:
            packed = self._packed.get(letters)
            vowels = sum(1 << n for n, char in enumerate(letters) if char in _VOWEL_INITIALS)
            words = [] if packed is None else [
                _Word(word, int(mask), float(cost), int(mask) & vowels,
                      REPORT_MISSING_APOSTROPHE_COST if float(cost) <= REPORT_WORD_COST
                      else MISSING_APOSTROPHE_COST)
                for word, mask, cost in (entry.split(",") for entry in packed.split(";"))
            ]
            self._by_letters[letters] = words
        return words

    def read(self, text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Normalised text with its runs of pinyin read as Chinese, and the (typed, read)
        pairs; text without such a run comes back as it is.

        >>> # with a report that has 督查问效:
        >>> # vocabulary.read("ducha wenxiao") -> ("督查问效", (("ducha wenxiao", "督查问效"),))
        """
        if not self.words_text or not _HAS_LATIN.search(text):
            return text, ()
        pieces: list[str] = []
        readings: list[tuple[str, str]] = []
        position = 0
        has_chinese = bool(_CJK.search(text))
        for run in _LATIN_RUN.finditer(text):
            read = self._read_run(run.group(0), has_chinese)
            if read is None:
                continue
            before = text[position:run.start()]
            if before.endswith(" ") and _CJK.match(read[:1]) and _CJK.search(before[-2:-1]):
                before = before[:-1]  # 政府办 de zuofeng -> 政府办的作风
            pieces.append(before)
            pieces.append(read)
            readings.append((run.group(0), read))
            position = run.end()
            after = text[position:position + 2]
            if after[:1] == " " and _CJK.match(after[1:]) and _CJK.match(read[-1:]):
                position += 1
        if not readings:
            return text, ()
        pieces.append(text[position:])
        return "".join(pieces), tuple(readings)

    def _read_run(self, run: str, has_chinese: bool) -> str | None:
        """A run of Latin words read as Chinese (one slip of a letter mended, see
        ``_mended``); None when it does not read."""
        tokens = run.split(" ")
        read = self._read_tokens(tokens, has_chinese)
        if read is None:
            mended = self._mended(tokens)
            if mended is not None:
                read = self._read_tokens(mended, has_chinese)
        return read

    def _mended(self, tokens: list[str]) -> list[str] | None:
        """The tokens with the one that is no pinyin, alone or with its neighbours, spelled
        as the report word one slip away (ducha wenxao, wenxioa -> duchawenxiao); None when
        there is no such single token, the nearest report words are tied, or the mend is
        not safe: a short word (ok, hi), or a lone word shorter than a long term."""
        broken = [n for n, token in enumerate(tokens) if token not in self.latin_words
                  and (not self._is_pinyin(token) or self._route([token]) is None)]
        if len(broken) != 1:
            return None
        number = broken[0]
        plain = [toneless(token) for token in tokens]
        if not all(token.isascii() and token.isalpha() for token in plain):
            return None  # tone digits or other letters: no mending
        if len(tokens) == 1 and len(plain[number]) < MEND_ALONE_MIN_LETTERS:
            return None
        spellings = self._report_spellings()
        # the widest window of words around the broken one first: a term typed in pieces
        windows = sorted(
            ((first, last) for first in range(max(0, number - MEND_WINDOW + 1), number + 1)
             for last in range(number, min(len(tokens), first + MEND_WINDOW))),
            key=lambda window: window[0] - window[1],
        )
        for first, last in windows:
            letters = "".join(plain[first:last + 1])
            if len(letters) < MEND_MIN_LETTERS:
                continue
            nearest = process.extract(
                letters, spellings, scorer=OSA.distance,
                score_cutoff=MEND_MAX_EDITS, limit=2,
            )
            if not nearest:
                continue
            if len(nearest) == 2 and nearest[1][1] == nearest[0][1]:
                return None  # two report words one slip away: no guessing
            return [*tokens[:first], nearest[0][0], *tokens[last + 1:]]
        return None

    def _report_spellings(self) -> list[str]:
        """The letters of the report's own words of two syllables or more."""
        if self._report_keys is None:
            self._words("")
            self._report_keys = [
                letters for letters, packed in self._packed.items()
                if any(
                    float(cost) <= REPORT_WORD_COST and mask != "0"
                    for _, mask, cost in (entry.split(",") for entry in packed.split(";"))
                )
            ]
        return self._report_keys

    def _read_tokens(self, tokens: list[str], has_chinese: bool) -> str | None:
        """Latin words read as Chinese, the report's own Latin words kept; None when a
        word is neither pinyin nor the report's, or they do not read well."""
        parts: list[str] = []  # read pieces and kept Latin words, in order
        pending: list[str] = []  # pinyin words waiting to be read together
        words_read: list[_Word] = []

        def flush() -> bool:
            if not pending:
                return True
            route = self._route(pending)
            if route is None:
                return False
            words_read.extend(route)
            parts.append("".join(w.word for w in route))
            pending.clear()
            return True

        for token in tokens:
            if token in self.latin_words:
                if not flush():
                    return None
                parts.append(token)
            elif self._is_pinyin(token):
                pending.append(token)
            else:
                return None
        if not flush() or not words_read:
            return None
        if not any(len(w.word) >= 2 for w in words_read):
            # lone particles (shi, a, de) only beside Chinese the user typed, never one letter
            if not has_chinese or len("".join(tokens)) < 2:
                return None
        out = parts[0]
        for part in parts[1:]:
            joined = _CJK.match(out[-1:]) and _CJK.match(part[:1])
            out += part if joined else f" {part}"
        return out

    def _is_pinyin(self, token: str) -> bool:
        letters, boundaries = _letters_and_boundaries([token])
        if letters is None:
            return False
        return split_syllables(letters, self.syllables, boundaries) is not None

    def _route(self, tokens: list[str]) -> list[_Word] | None:
        """The cheapest words spelling the tokens' letters, every typed boundary at a
        syllable boundary; None when no words spell them."""
        letters, boundaries = _letters_and_boundaries(tokens)
        if letters is None:
            return None
        self._words("")  # the table, parsed on first use
        size = len(letters)
        syllables = self.syllables
        # where a syllable starting at each position may end: words end only there
        syllable_ends = [
            [end for end in range(start + 1, min(size, start + _LONGEST_SYLLABLE) + 1)
             if letters[start:end] in syllables]
            for start in range(size)
        ]
        best: list[tuple[int, _Word] | None] = [None] * (size + 1)
        cost_to = [math.inf] * (size + 1)
        cost_to[0] = 0.0
        for start in range(size):
            if cost_to[start] == math.inf:
                continue
            # the boundaries typed after start, as bits counted from start
            typed_after = sum(1 << (b - start) for b in set(boundaries) if b > start)
            unmarked_start = (
                0 < start and start not in boundaries and letters[start] in _VOWEL_INITIALS
            )
            ends: set[int] = set()
            frontier = {start}
            for _ in range(max(WORD_LENGTHS)):
                frontier = {end for p in frontier if p < size for end in syllable_ends[p]}
                if not frontier:
                    break
                ends |= frontier
            for end in sorted(ends):
                candidates = self._words(letters[start:end])
                typed = typed_after & ((1 << (end - start)) - 1)
                for candidate in candidates:
                    if typed & ~candidate.inner:
                        continue  # a typed boundary inside one of its syllables
                    if unmarked_start and not candidate.inner:
                        continue  # xioa is no xi o a: a lone vowel syllable is marked off
                    # xi'an: a syllable starting with a vowel is marked off when meant;
                    # jiang unmarked is 讲, not 激昂
                    unmarked = candidate.vowel_starts & ~typed
                    cost = (
                        cost_to[start] + candidate.cost
                        + SPACE_INSIDE_WORD_COST * typed.bit_count()
                        + candidate.apostrophe_cost * unmarked.bit_count()
                    )
                    if cost < cost_to[end]:
                        cost_to[end] = cost
                        best[end] = (start, candidate)
        if best[size] is None:
            return None
        route: list[_Word] = []
        end = size
        while end > 0:
            step = best[end]
            assert step is not None
            end, word = step
            route.append(word)
        return route[::-1]


def _letters_and_boundaries(tokens: list[str]) -> tuple[str | None, tuple[int, ...]]:
    """The tokens' toneless letters run together and the positions of the boundaries the
    user typed (spaces, tone digits); None when a digit is no tone digit (g20, pm25)."""
    letters = ""
    boundaries: list[int] = []
    for token in tokens:
        plain = toneless(token)
        if not _PINYIN_TOKEN.fullmatch(plain):
            return None, ()
        if letters:
            boundaries.append(len(letters))
        for piece, digit in _SYLLABLES_AND_TONE.findall(plain):
            letters += piece
            if digit:
                boundaries.append(len(letters))
    return letters, tuple(b for b in boundaries if 0 < b < len(letters))


def folded(
    readings: tuple[tuple[str, str], ...], corrections: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    """The pinyin readings and the typo corrections made after them as one list, a typo
    corrected inside a reading folded into it: (zonghe xietao, 综合协调), not (zonghe
    xietao, 综合些套) and (综合些套, 综合协调)."""
    out = list(readings)
    for typed, meant in corrections:
        inside = next((n for n, (_, read) in enumerate(out) if typed in read), None)
        if inside is None:
            out.append((typed, meant))
        else:
            letters, read = out[inside]
            out[inside] = (letters, read.replace(typed, meant, 1))
    return tuple(out)


def latin_words(texts: Iterable[str]) -> frozenset[str]:
    """The Latin words of normalised report text (ppp, gdp, 5g): they stay as typed."""
    return frozenset(w for text in texts for w in _LATIN_WORD.findall(text))
