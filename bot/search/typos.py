"""Typo correction: a window of the question that sounds like a report term is that term.

Chinese input methods type by sound, so the usual typo is a homophone (海峡论谈 for
海峡论坛). A window is rewritten only when its coarse pinyin key (pypinyin tables, see
textnorm.pinyin_keys) equals a report term's, few of its characters differ, it does not cut
through a word of the question and it is not report text already.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.textnorm import pinyin_keys

if TYPE_CHECKING:
    from bot.search.index import IndexData

# Homophones that are frequent real words (jieba frequency) are taken as meant.
REAL_WORD_FREQ = 1000
TERM_LENGTHS = range(2, 7)  # report terms a typo is corrected to: 2 to 6 characters
WINDOW_LENGTHS = tuple(reversed(TERM_LENGTHS))  # longest first: a whole term, not a piece


def correct(data: IndexData, text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Replace homophone typos by the report term with the same pinyin; the corrected
    text and the (typed, meant) pairs.

    A window is only rewritten when it does not cut through a dictionary word
    of the question (办公室在 is not 办公实在) and is not itself report text.
    """
    if not data.terms_by_key:
        return text, ()
    corrections: list[tuple[str, str]] = []
    words, guessed = _word_spans(data, text)
    # Characters inside a common word were typed on purpose: 意思 is not a typo of 意识.
    protected = {
        position for start, end in words
        if data.segmenter.freq.get(text[start:end], 0) >= REAL_WORD_FREQ
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
        for length in WINDOW_LENGTHS:
            end = i + length
            window = text[i:end]
            if (
                end > run_end[i]
                or i in inside_word or end in inside_word
                or window in data.report_ngrams
                or window in data.real_words
            ):
                continue
            term = _homophone(data, window)
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


def _word_spans(
    data: IndexData, text: str
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Spans of the dictionary words and of the unknown words jieba's HMM guesses
    (湖人), two characters or more."""
    known: list[tuple[int, int]] = []
    guessed: list[tuple[int, int]] = []
    position = 0
    freq = data.segmenter.freq
    for token in data.segmenter.cut(text):
        if len(token) >= 2:
            span = (position, position + len(token))
            (known if freq.get(token, 0) > 0 else guessed).append(span)
        position += len(token)
    return known, guessed


def _homophone(data: IndexData, window: str) -> str:
    """The report term that window is a likely mistyping of, or ''."""
    segmenter = data.segmenter
    for key in pinyin_keys(window, segmenter.pinyin):
        for term in data.terms_by_key.get(key, ()):
            changed = [(t, w) for t, w in zip(term, window, strict=True) if t != w]
            if (
                # at most a third of the characters differ (one in a short term)
                0 < len(changed) <= max(1, len(term) // 3)
                and len(changed) < len(term)
                and not any(segmenter.is_stopword(w) for _, w in changed)
                # two characters leave little context: there the sound must be exact
                and (len(term) > 2 or all(segmenter.same_sound(t, w) for t, w in changed))
            ):
                return term
    return ""
