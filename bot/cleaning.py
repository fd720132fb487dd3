"""Anti-copy junk removal for scraped report text, deciding token by token.

The forum that published the seed report salted it with junk: runs of 1-2
character ASCII tokens separated by spaces, at line starts and ends and as whole
lines; the token next to the text is often glued to it (``K一是``, ``。9 k&``).
Real text holds ASCII too (``2021年``, ``3.6亿元``, ``97.2%``, ``12345``, ``GDP``,
``5G``, ``(一)``), so a token is junk only when its shape and its neighbours say
so; when unsure the token is kept and reported, never silently dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Whitespace that is layout, not text: ASCII spaces, tabs, full-width indentation.
_LAYOUT = " \t\r\u3000\xa0\ufeff"
# Junk tokens are printable ASCII, never longer than this (seed: ``x-``, ``F6``, ``]``).
JUNK_TOKEN_MAX = 2
# After these a line's text is complete: an ASCII character glued after them is junk.
_SENTENCE_END = set("。！？；：，、”’）】》…」』")
# Two-character tokens that read as words when they stand alone before the text (5G 网络).
_WORDLIKE = re.compile(r"^(?:\d{2}|\d[A-Z]|[A-Z]{2})$")
# A capital glued before these is a grade or type (A级景区, B类), not junk.
_GRADE_WORDS = set("级类型股轮端")


def _is_ascii(text: str) -> bool:
    return all(" " < c <= "~" for c in text)


def _junk_shaped(token: str) -> bool:
    return 0 < len(token) <= JUNK_TOKEN_MAX and _is_ascii(token)


@dataclass(frozen=True)
class LineReport:
    """What cleaning did to one raw line (1-based ``number``)."""

    number: int
    removed: tuple[str, ...] = ()  # the junk taken away, in order
    doubts: tuple[str, ...] = ()  # ASCII kept although it might be junk, with why
    junk_line: bool = False


@dataclass
class Cleaned:
    """Clean paragraphs (with their raw line numbers) and what was removed."""

    lines: list[tuple[int, str]] = field(default_factory=list)
    reports: list[LineReport] = field(default_factory=list)

    @property
    def text_lines(self) -> list[str]:
        return [text for _, text in self.lines]

    def summary(self, limit: int = 40) -> str:
        """A short account a maintainer can check in a minute."""
        changed = [r for r in self.reports if r.removed]
        doubts = [r for r in self.reports if r.doubts]
        whole = sum(1 for r in changed if r.junk_line)
        out = [
            f"junk removed from {len(changed)} lines ({whole} whole junk lines); "
            f"{sum(len(r.doubts) for r in doubts)} unsure"
        ]
        for report in changed[:limit]:
            what = f"the whole line {report.removed[0]!r}" if report.junk_line else (
                ", ".join(report.removed))
            out.append(f"  line {report.number}: removed {what}")
        if len(changed) > limit:
            out.append(f"  ... and {len(changed) - limit} more lines")
        for report in doubts:
            out.extend(f"  line {report.number}: UNSURE, kept {d}" for d in report.doubts)
        return "\n".join(out)


def _unbalanced_openers(text: str) -> int:
    """How many '(' in text are still open at its end."""
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
    return depth


def clean_line(line: str, number: int = 1) -> tuple[str, LineReport]:
    """The real text of one raw line and what was removed from it.

    >>> clean_line("+ |) }* n( U5 J! \\\\/ K一是立足创新高效。7 N2 `. G) ]")[0]
    '一是立足创新高效。'
    >>> clean_line("x- F6 2021年以来,全区GDP增长3.6%。")[0]
    '2021年以来,全区GDP增长3.6%。'
    """
    stripped = line.strip(_LAYOUT)
    if not stripped:
        return "", LineReport(number)
    tokens = re.split(r"([ \t]+)", stripped)  # junk is spaced by ASCII blanks only
    words = tokens[0::2]
    if _is_ascii(stripped.replace(" ", "")):
        if all(_junk_shaped(w) for w in words):
            return "", LineReport(number, (stripped,), junk_line=True)
        return stripped, LineReport(number, doubts=(f"{stripped!r} (a line of ASCII only)",))
    real = [i for i, w in enumerate(words) if not _junk_shaped(w)]
    first, last = real[0], real[-1]
    removed: list[str] = []
    doubts: list[str] = []
    lead = words[:first]
    if lead and _WORDLIKE.match(lead[-1]):  # 5G 网络: the token next to the text reads as a word
        doubts.append(f"{lead[-1]!r} before the text (reads like a word)")
        first, lead = first - 1, lead[:-1]
    tail = words[last + 1:]
    if tail and _WORDLIKE.match(tail[0]):
        doubts.append(f"{tail[0]!r} after the text (reads like a word)")
        last, tail = last + 1, tail[1:]
    text = "".join(tokens[2 * first: 2 * last + 1])
    # A single character glued before the text, after a junk run (K一是, {一、, q(作者).
    glued = re.match(r"[ -~]+", text)
    if lead and glued:
        prefix = glued.group(0)
        head, after = prefix[0], text[1:2]
        if head.isdigit() or (head == "(" and _unbalanced_openers(text) == 0 and ")" in text):
            pass  # 2021年, (一): text
        elif head.isupper() and after in _GRADE_WORDS:
            doubts.append(f"{head!r} glued before {after!r} (a grade like A级?)")
        elif len(prefix) == 1 or not prefix[1].isalnum():
            removed.append(head)
            text = text[1:]
        else:
            doubts.append(f"{prefix!r} glued before the text")
    glued = re.search(r"[ -~]+$", text)
    if glued:
        suffix = glued.group(0)
        body = text[: -len(suffix)]
        keep = 0
        open_count = _unbalanced_openers(body)
        while keep < len(suffix) and suffix[keep] == ")" and open_count:
            keep, open_count = keep + 1, open_count - 1
        rest = suffix[keep:]
        before = (body + suffix[:keep])[-1:]
        if rest and (before in _SENTENCE_END or (keep and before == ")")):
            if tail or len(rest) == 1:
                removed.append(rest)
                text = text[: len(text) - len(rest)]
            else:
                doubts.append(f"{rest!r} after the end of a sentence")
        elif rest and len(rest) == 1 and rest in "!#$*+/<=>?@[\\]^_`{|}~&'\";" and tail:
            removed.append(rest)
            text = text[:-1]
    start = stripped.find(text)
    cut = tuple(
        f"{where} {junk.strip()!r}"
        for where, junk in (("start", stripped[:start]), ("end", stripped[start + len(text):]))
        if junk.strip()
    )
    return text, LineReport(number, cut if removed or lead or tail else (), tuple(doubts))


def clean_text(raw: str) -> Cleaned:
    """Clean every line of a scraped report; blank and junk-only lines are dropped."""
    cleaned = Cleaned()
    for number, line in enumerate(raw.splitlines(), start=1):
        text, report = clean_line(line, number)
        if text:
            cleaned.lines.append((number, text))
        if report.removed or report.doubts:
            cleaned.reports.append(report)
    return cleaned
