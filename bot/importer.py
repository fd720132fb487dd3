"""Raw scraped report text -> a draft YAML FAQ that validates as written.

Junk removal is bot.cleaning's; here the clean paragraphs become structure. The
genre numbers its parts in a few styles: sections ``一、`` / ``第一部分`` / ``第一章``;
measures ``一是``, ``（一）``/``(一)``, ``1.``/``1、``, ``（1）``, ``第一，``/``首先``. The
highest numbering level that heads short lines is the section level; in each section
the next level that starts paragraphs is its measures; lower levels and bullets
(``——``) stay in the measure's text. Around the body: a title, a document number,
a byline, an issuer and a date, a closing paragraph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.cleaning import Cleaned, clean_text

_CN = "一二三四五六七八九十"
# (style, pattern): group 1 is the marker as written, group 2 its number, group 3 the rest.
_LEVELS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("part", re.compile(rf"^(第([{_CN}]+)(?:部分|章)[ \u3000]*)(\S.*)$")),
    ("dun", re.compile(rf"^(([{_CN}]+)、)(.+)$")),
    # decimal numbering of plans: 1　总则 / 1.1　编制目的 (a space after the number)
    ("decimal", re.compile(r"^((\d{1,2})[ \u3000]+)(\S.*)$")),
    ("decimal2", re.compile(r"^(\d{1,2}\.(\d{1,2})[ \u3000]+)(\S.*)$")),
    ("paren", re.compile(rf"^([（(]([{_CN}]+)[）)])(.+)$")),
    ("shi", re.compile(rf"^(([{_CN}]+)是)(.+)$")),
    ("arabic", re.compile(r"^((\d{1,2})(?:[.．、](?!\d)))(.+)$")),
    ("paren_arabic", re.compile(r"^([（(](\d{1,2})[）)])(.+)$")),
    ("ordinal", re.compile(rf"^((第[{_CN}]+|首先|其次|再次|最后)[，,、：])(.+)$")),
)
_SECTION_STYLES = ("part", "dun", "decimal")
_ORDINAL_WORDS = {"首先": 1, "其次": 2, "再次": 3}
# A section heading is one short line; longer lines with these marks are paragraphs.
HEADING_MAX_CHARS = 60
TITLE_MAX_CHARS = 60
_TITLE_END = re.compile(r"[。；：:！？]")
_QUOTE = re.compile(r"“([^”]+)”")

_DATE = re.compile(r"^[（(]?[\d〇零一二三四五六七八九十]{4}年[\d〇一二三四五六七八九十]{1,3}月"
                   r"[\d〇一二三四五六七八九十]{1,3}日[）)]?$")
_DOC_NUMBER = re.compile(r"^\S{1,10}[〔\[［]\d{4}[〕\]］]\d+号$")
_ISSUER = re.compile(
    r"^[\u4e00-\u9fff]{2,30}(?:人民政府|办公厅|办公室|委员会|政府|国务院|局|厅|委|部|院|中心)$"
)
_NOTE = re.compile(r"^[（(][^（()）]{1,20}[）)]$")
_BYLINE = re.compile(r"^[（(]?(作者[系：:].+|作者单位[：:].+)[）)]?$")
# Words that end a title in a byline: the name follows the last of them.
_TITLE_WORDS = re.compile(
    r"秘书长|董事长|总经理|主任|局长|书记|处长|区长|科长|市长|县长|镇长|乡长|部长|厅长|主席|"
    r"院长|所长|组长|委员|经理|调研员|巡视员|干部|科员|专员|馆长|校长|站长|队长|社长|行长|会长|"
    r"常委|研究员|教授|记者"
)
_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,4}$")
_CLOSING_CUE = re.compile(
    r"^(总之|今后|下一步|展望|让我们|同志们|以上|特此|各(?:地区|地|级|县|市|区|部门|单位|有关部门)|"
    r"本(?:意见|办法|通知|方案|规定|细则|实施意见)(?:自|由)|\d{4}年，[^。]{0,12}将)"
)


class DraftError(ValueError):
    """The raw text cannot be turned into a draft."""


@dataclass(frozen=True)
class Marker:
    style: str
    marker: str
    number: int
    rest: str


def _marker(text: str, styles: tuple[str, ...] | None = None) -> Marker | None:
    for style, pattern in _LEVELS:
        if styles is not None and style not in styles:
            continue
        match = pattern.match(text)
        if match:
            word = match.group(2)
            if word.isdigit():
                number = int(word)
            elif word in _ORDINAL_WORDS:
                number = _ORDINAL_WORDS[word]
            elif word == "最后":
                number = 0  # the next number in its list
            else:
                heading_number = _heading_number(word.removeprefix("第"))
                if heading_number is None:
                    continue
                number = heading_number
            return Marker(style, match.group(1), number, match.group(3))
    return None


def _is_heading(text: str) -> bool:
    return len(text) <= HEADING_MAX_CHARS and not _TITLE_END.search(text[:-1])


def split_byline(byline: str) -> tuple[str, str]:
    """(author, role) of a byline; the name follows the last title word, never a fixed
    length: 作者系某市某区财政局局长张明 -> (张明, 某市某区财政局局长); '' when unsure."""
    if match := re.match(r"^作者[：:]\s*([^，,；;\s]+)[，,；;\s]+(.+)$", byline):
        return match.group(1), match.group(2)
    if match := re.match(r"^作者单位[：:]\s*([^\n]+)\n?(.*)$", byline):
        return match.group(2), match.group(1)
    if match := re.match(r"^作者[：:]\s*(.+)$", byline):
        return match.group(1), ""
    body = byline.removeprefix("作者系")
    ends = [m.end() for m in _TITLE_WORDS.finditer(body)]
    if ends and _NAME.match(body[ends[-1]:]):
        return body[ends[-1]:], body[: ends[-1]]
    return "", body


@dataclass
class _Draft:
    title: list[str] = field(default_factory=list)
    doc_number: str = ""
    byline: str = ""
    issuer: str = ""
    date: str = ""
    intro: list[str] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    closing: list[str] = field(default_factory=list)


def _unwrap(text: str) -> str:
    match = re.match(r"^[（(](.*)[）)]$", text)
    return match.group(1) if match and not re.search(r"[（()）]", match.group(1)) else text


def _metadata(draft: _Draft, text: str, front: bool) -> bool:
    """Take a title / number / byline / issuer / date line; False if it is not one."""
    inner = _unwrap(text)
    if _DATE.match(text) and not draft.date:
        draft.date = inner
    elif _DOC_NUMBER.match(text) and not draft.doc_number:
        draft.doc_number = text
    elif _BYLINE.match(text) and not draft.byline:
        draft.byline = inner
    elif _ISSUER.match(text) and not draft.issuer and (not front or draft.title):
        draft.issuer = text
    else:
        return False
    return True


def _front_matter(draft: _Draft, lines: list[str]) -> int:
    """Consume title, number, byline and date lines at the top; return where text starts."""
    position = 0
    while position < len(lines):
        text = lines[position]
        if _metadata(draft, text, front=True):
            following = lines[position + 1] if position + 1 < len(lines) else ""
            if draft.byline.startswith("作者单位") and _NAME.match(following):
                draft.byline += "\n" + following  # the name on its own line
                position += 1
        elif (
            not draft.intro and not draft.date and not draft.byline and not draft.doc_number
            and len(text) <= TITLE_MAX_CHARS and not re.search(r"[。：:；]", text)
            and _marker(text) is None and position + 1 < len(lines)
        ):
            draft.title.append(text)
        else:
            break
        position += 1
    return position


def _back_matter(draft: _Draft, lines: list[str]) -> tuple[int, list[str]]:
    """Consume issuer, date, byline and notes at the bottom; return where they start and
    the notes (（此件公开发布）), which close the document."""
    end, notes = len(lines), list[str]()
    while end > 0:
        text = lines[end - 1]
        if _metadata(draft, text, front=False):
            pass
        elif _NOTE.match(text) and not _BYLINE.match(text):
            notes.insert(0, text)
        else:
            break
        end -= 1
    return end, notes


def _new_measure(section: dict[str, Any], mark: Marker, number: int) -> dict[str, Any]:
    title_end = _TITLE_END.search(mark.rest)
    if title_end:
        title, separator = mark.rest[: title_end.start()], title_end.group(0)
        text = mark.rest[title_end.end():]
    else:
        title, separator, text = mark.rest, "", ""
    measure: dict[str, Any] = {"id": f"{section['id']}.m{number}", "number": number}
    if mark.style != "shi":
        measure["marker"] = mark.marker
    measure.update({"title": title, "separator": separator, "text": text})
    return measure


def _add_paragraph(measure: dict[str, Any], text: str) -> None:
    if measure["text"]:
        measure["text"] += "\n" + text
    else:
        measure["separator"] += "\n"
        measure["text"] = text


def _section_level(lines: list[str]) -> str:
    for style in _SECTION_STYLES:
        if any(_marker(t, (style,)) and _is_heading(t) for t in lines):
            return style
    raise DraftError("no sections found (lines like '一、…' or '第一部分 …'): not a report?")


def _measure_style(body: list[str], section_style: str) -> str | None:
    """The highest numbering level below the section level that starts paragraphs."""
    below = [s for s, _ in _LEVELS][[s for s, _ in _LEVELS].index(section_style) + 1:]
    for style in below:
        marks = [m for t in body if (m := _marker(t, (style,)))]
        if marks and (style != "ordinal" or len(marks) >= 2):
            return style
    return None


# Headings are numbered 一 ... 九十九 as written (十二, not 一二 or 十十): anything else
# at a line start is text, not a heading.
_HEADING_NUMERAL = re.compile(f"(?:([{_CN[:9]}]?)(十))?([{_CN[:9]}]?)")


def _heading_number(numeral: str) -> int | None:
    """十二 -> 12; None for what no heading is numbered with (二二, 十十, '')."""
    match = _HEADING_NUMERAL.fullmatch(numeral)
    if not numeral or match is None:
        return None
    tens, ten, ones = match.groups()
    value = _CN.index(tens) + 1 if tens else 1 if ten else 0
    return value * 10 + (_CN.index(ones) + 1 if ones else 0)


def _parse(lines: list[str]) -> _Draft:
    draft = _Draft()
    start = _front_matter(draft, lines)
    end, notes = _back_matter(draft, lines)
    body = lines[start:end]
    section_style = _section_level(body)
    # split the body at section headings (numbers rising: a restarted list is text)
    chunks: list[tuple[Marker, list[str]]] = []
    for text in body:
        mark = _marker(text, (section_style,))
        last = chunks[-1][0].number if chunks else 0
        if mark and _is_heading(text) and chunks and mark.rest == chunks[0][0].rest:
            # the first heading again: what came before was a table of contents
            for earlier, paragraphs in chunks:
                draft.intro.extend([earlier.marker + earlier.rest, *paragraphs])
            chunks = [(mark, [])]
        elif mark and _is_heading(text) and mark.number > last:
            chunks.append((mark, []))
        elif chunks:
            chunks[-1][1].append(text)
        else:
            draft.intro.append(text)
    _covering_letter(draft)
    for mark, paragraphs in chunks:
        section: dict[str, Any] = {"id": f"s{mark.number}", "number": mark.number}
        if section_style != "dun":
            section["marker"] = mark.marker
        section.update({"title": mark.rest, "text": "", "measures": []})
        draft.sections.append(section)
        style = _measure_style(paragraphs, section_style)
        lead: list[str] = []
        for text in paragraphs:
            measure_mark = _marker(text, (style,)) if style else None
            measures = section["measures"]
            last = measures[-1]["number"] if measures else 0
            number = measure_mark.number or last + 1 if measure_mark else 0
            if measure_mark and number > last:
                measures.append(_new_measure(section, measure_mark, number))
            elif measures:
                _add_paragraph(measures[-1], text)
            else:
                lead.append(text)
        section["text"] = "\n".join(lead)
    _take_closing(draft, body)
    draft.closing.extend(notes)
    return draft


def _covering_letter(draft: _Draft) -> None:
    """A covering letter before an attached plan is signed inside the intro: an issuer
    line followed by a date line (国务院 / 2019年1月24日)."""
    for index in range(len(draft.intro) - 1):
        issuer, date = draft.intro[index : index + 2]
        if _ISSUER.match(issuer) and _DATE.match(date) and not draft.issuer and not draft.date:
            draft.issuer, draft.date = issuer, _unwrap(date)
            del draft.intro[index : index + 2]
            return


def _take_closing(draft: _Draft, body: list[str]) -> None:
    """The closing paragraph(s): from a closing cue (总之, 各地区要…) after the last
    section's first paragraph to the end."""
    last = draft.sections[-1]
    holder = last["measures"][-1] if last["measures"] else last
    paragraphs = holder["text"].split("\n") if holder["text"] else []
    # the measures before are one paragraph each: a second one after the last is the closing
    single = len(last["measures"]) >= 2 and holder is not last and not any(
        "\n" in m["separator"] + m["text"] for m in last["measures"][:-1]
    ) and "\n" not in holder["separator"]
    # the first paragraph is the section's lead or the measure's own: never the closing
    for index in range(1, len(paragraphs)):
        if _CLOSING_CUE.match(paragraphs[index]) or single:
            draft.closing = paragraphs[index:]
            holder["text"] = "\n".join(paragraphs[:index])
            return


def _mark_missing(sections: list[dict[str, Any]]) -> None:
    """Record measure numbers the source skipped (section 三 starts at 四是)."""
    for section in sections:
        numbers = [m["number"] for m in section["measures"]]
        if numbers:
            missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
            if missing:
                section["missing_measures"] = missing


def _slogans(draft: _Draft) -> list[dict[str, str]]:
    """One draft slogan per quote, sourced to its passage."""
    passages = [("intro", "\n".join(draft.intro))]
    for section in draft.sections:
        passages.append((section["id"], section["text"]))
        passages.extend(
            (m["id"], m["title"] + m["separator"] + m["text"]) for m in section["measures"]
        )
    if draft.closing:
        passages.append(("closing", "\n".join(draft.closing)))
    slogans: list[dict[str, str]] = []
    seen: set[str] = set()
    for source, text in passages:
        for quote in _QUOTE.findall(text):
            if quote not in seen and "\n" not in quote:
                seen.add(quote)
                slogans.append({"id": f"sl{len(slogans) + 1}", "text": quote, "source": source})
    return slogans


def _tidy(draft: _Draft) -> None:
    """Drop empty optional fields and the default separator, so the YAML reads like the seed's."""
    for section in draft.sections:
        if not section["text"]:
            del section["text"]
        for measure in section["measures"]:
            if measure["separator"] == "。":
                del measure["separator"]
            if not measure["text"]:
                del measure["text"]
            measure["questions"], measure["keywords"] = [], []
        section["questions"], section["keywords"] = [], []
        section["measures"] = section.pop("measures")


class _LiteralDumper(yaml.SafeDumper):
    """Multi-line text as ``|`` blocks, so paragraphs read as paragraphs."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and value == value.strip() and "\n\n" not in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if "\n" in value:  # a separator such as "。\n": escaped on one line
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_LiteralDumper.add_representer(str, _str)


@dataclass(frozen=True)
class Draft:
    yaml: str
    cleaned: Cleaned
    sections: int
    measures: int


def build_draft(raw: str, source: str, report_id: str) -> Draft:
    """The draft YAML for a raw scraped report; ``source`` is written as given (relative
    to the YAML's folder)."""
    if "\x00" in raw:
        raise DraftError("binary data, not a text report")
    cleaned = clean_text(raw)
    lines = cleaned.text_lines
    if not lines:
        raise DraftError("no report text (empty or junk only)")
    if not any(re.search(r"[\u4e00-\u9fff]", line) for line in lines):
        raise DraftError("no Chinese text: not a report")
    draft = _parse(lines)
    _mark_missing(draft.sections)
    author, role = split_byline(draft.byline) if draft.byline else ("", "")
    slogans = _slogans(draft)
    _tidy(draft)
    title = "\n".join(draft.title)
    report: dict[str, Any] = {
        "id": report_id,
        "name": "".join(draft.title) or report_id,
    }
    for key, value in (
        ("title", title), ("doc_number", draft.doc_number), ("author", author), ("role", role),
        ("byline", draft.byline), ("issuer", draft.issuer), ("date", draft.date),
    ):
        if value:
            report[key] = value
    report["source"] = source
    report["intro"] = {"text": "\n".join(draft.intro), "questions": [], "keywords": []}
    if not draft.intro:
        del report["intro"]["text"]
    if draft.closing:
        report["closing"] = {"text": "\n".join(draft.closing), "questions": [], "keywords": []}
    document = {"report": report, "sections": draft.sections, "slogans": slogans}
    text = yaml.dump(
        document, Dumper=_LiteralDumper, allow_unicode=True, sort_keys=False, width=1000
    )
    count = sum(len(s["measures"]) for s in draft.sections)
    return Draft(text, cleaned, len(draft.sections), count)


def draft_yaml(raw: str, source_name: str) -> str:
    """Build the draft YAML text for a raw scraped report (source under raw/)."""
    from pathlib import Path

    return build_draft(raw, f"raw/{Path(source_name).name}", Path(source_name).stem).yaml
