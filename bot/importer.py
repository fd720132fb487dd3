"""Raw scraped report text -> a draft YAML FAQ for a maintainer to finish.

The forum that published the report salted it with anti-copy junk: runs of
random ASCII letter/punctuation pairs glued to the start and end of lines, and
whole junk lines. Real text always starts with a Chinese character and ends
with one or with Chinese punctuation, so everything outside that span goes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.content import parse_number

# A real line runs from its first Chinese character to its last Chinese
# character or closing Chinese punctuation; the junk never contains either.
_REAL_SPAN = re.compile(r"[\u4e00-\u9fff].*[\u4e00-\u9fff\u3001\u3002\u201d\uff09\uff01\uff1f]")
_SECTION = re.compile(r"^([一二三四五六七八九十]+)、(.+)$")
_MEASURE = re.compile(r"^([一二三四五六七八九十]+)是([^。]+)。(.+)$")
_QUOTE = re.compile(r"“([^”]+)”")
_BYLINE = re.compile(r"^作者系(.+?)([\u4e00-\u9fff]{2,3})$")
_ASCII_LETTER = re.compile(r"[A-Za-z]")



class DraftError(ValueError):
    """The raw text cannot be turned into a draft."""


def clean_line(line: str) -> str:
    """Return the real text of one scraped line, or '' for a junk-only line.

    >>> clean_line("+ |) }* n( U5 J! \\\\/ K一是立足创新高效。7 N2 `. G) ]")
    '一是立足创新高效。'
    """
    match = _REAL_SPAN.search(line)
    return match.group(0) if match else ""


def clean_text(raw: str) -> list[str]:
    """Clean every line of a scraped report, dropping junk-only lines."""
    return [text for text in (clean_line(line) for line in raw.splitlines()) if text]


@dataclass
class _Draft:
    intro: list[str] = field(default_factory=list)
    sections: list[dict] = field(default_factory=list)
    byline: str = ""
    author: str = ""
    role: str = ""


# Headings are numbered 一 ... 九十九; a larger number is no heading (and the missing
# measures below it would have to be listed one by one).
_LARGEST_HEADING_NUMBER = 99


def _ordinal(numeral: str, line: str) -> int:
    """The number of a heading (十二、...); a numeral that is none (十十) is an error."""
    number = parse_number(numeral)
    if number is None or not 1 <= number <= _LARGEST_HEADING_NUMBER:
        raise DraftError(f"not a heading number: {line[:40]}")
    return number


def _parse(lines: list[str]) -> _Draft:
    draft = _Draft()
    for line in lines:
        if _ASCII_LETTER.search(line):
            raise DraftError(f"junk left after cleaning: {line[:40]}")
        if section := _SECTION.match(line):
            number = _ordinal(section.group(1), line)
            draft.sections.append(
                {
                    "id": f"s{number}",
                    "number": number,
                    "title": section.group(2),
                    "text": "",
                    "questions": [],
                    "keywords": [],
                    "measures": [],
                }
            )
        elif (measure := _MEASURE.match(line)) and draft.sections:
            current = draft.sections[-1]
            number = _ordinal(measure.group(1), line)
            current["measures"].append(
                {
                    "id": f"{current['id']}.m{number}",
                    "number": number,
                    "title": measure.group(2),
                    "text": measure.group(3),
                    "questions": [],
                    "keywords": [],
                }
            )
        elif byline := _BYLINE.match(line):
            draft.byline = line
            draft.role, draft.author = byline.group(1), byline.group(2)
        elif draft.sections:
            current = draft.sections[-1]
            current["text"] = (current["text"] + line) if current["text"] else line
        else:
            draft.intro.append(line)
    if not draft.sections:
        raise DraftError("no sections (lines like '一、...') found")
    return draft


def _mark_missing(sections: list[dict]) -> None:
    """Record measure numbers the source skipped (section 三 starts at 四是)."""
    for section in sections:
        numbers = [m["number"] for m in section["measures"]]
        if numbers:
            missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
            if missing:
                section["missing_measures"] = missing


def _slogans(draft: _Draft) -> list[dict]:
    """One draft slogan per sentence-level group of quotes, sourced to its passage."""
    passages = [("intro", "".join(draft.intro))]
    for section in draft.sections:
        passages.append((section["id"], section["text"]))
        passages.extend((m["id"], m["title"] + "。" + m["text"]) for m in section["measures"])
    slogans: list[dict[str, str]] = []
    for source, text in passages:
        for quote in _QUOTE.findall(text):
            slogans.append({"id": f"sl{len(slogans) + 1}", "text": quote, "source": source})
    return slogans


def draft_yaml(raw: str, source_name: str) -> str:
    """Build the draft YAML text for a raw scraped report."""
    draft = _parse(clean_text(raw))
    _mark_missing(draft.sections)
    document = {
        "report": {
            "id": Path(source_name).stem,
            "name": "TODO: a short descriptive name",
            "author": draft.author,
            "role": draft.role,
            "byline": draft.byline,
            "source": f"raw/{Path(source_name).name}",
            "intro": {"text": "".join(draft.intro), "questions": [], "keywords": []},
        },
        "sections": draft.sections,
        "slogans": _slogans(draft),
    }
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=1000)
