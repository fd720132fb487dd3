"""Intents: questions that name what they want rather than describe it.

A section (第二部分), a measure of a section (第二部分第三点, 三是, 最后一条, 业务提速部分的三是),
the author or issuer, the slogan list and the table of contents are recognised on the
normalised question and returned as typed data (``SearchResult.intent``); the Index turns
them into hits, bot.replies into words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.content import Measure, Report, Section, parse_number, short_title
from bot.textnorm import compact

if TYPE_CHECKING:
    from bot.search.index import IndexData

SECTION_REF = re.compile(r"第(\d+)(?:个)?(?:大)?(?:部分|章|节|板块|方面|块|段|篇|大点|部)")
MEASURE_REF = re.compile(
    r"第(\d+)(?:个)?(?:小)?(?:点|条|项|措施|做法|方面)|([一二三四五六七八九十]+|\d+)是"
    r"|(最后)(?:1|一)?(?:个)?(?:点|条|项|是|小点)"
)
SECTION_CUES = ("部分", "板块", "那块", "一块", "章节", "方面", "那段", "这段")
TOC_CUE = re.compile(
    r"(?:几|多少)(?:个)?(?:大)?部分|目录|结构|框架|提纲|大纲|分为哪|分成哪|哪几(?:个)?部分"
    r"|(?:大|小|各部分的?|每部分的?)?标题"
)
# "This report" refers to the whole document, not to a topic in it.
SELF_REFERENCE = re.compile(r"(?:这|那|本|该)(?:1)?(?:份|篇|个)?(?:材料|报告|文章|文件|稿子)")
# Words that name the report itself or a listing, not a topic in it.
DOCUMENT_WORDS = frozenset(
    "材料 报告 文章 一共 总共 共 所有 全部 列 列出 列举 一下 分 哪几个".split()
)
SLOGAN_CUE = re.compile(r"口号|提法|标语|顺口溜|金句|格言|名言|警句|说法")
AUTHOR_CUE = re.compile(
    r"作者|谁写|写的|撰写|执笔|署名|尤小波|写(?:这|那)?(?:篇|份)?.{0,3}的人"
    # a document issued by an office: who issued it and when
    r"|谁(?:发布|印发|发的|制定)|哪个(?:单位|部门|机关)(?:发布|印发|发的|制定)"
    r"|发文(?:单位|机关|日期|时间)|(?:发布|印发|成文)(?:单位|日期|时间)"
    r"|什么时候(?:发布|印发|出台)"
)
AUTHOR_MAX_CONTENT_TOKENS = 3  # 作者是谁 and a word or two; more is a question about a topic


@dataclass(frozen=True)
class AskedSection:
    """第二部分讲了什么: the section as a whole."""

    section: Section


@dataclass(frozen=True)
class AskedMeasure:
    """第二部分第三点: a measure the report has."""

    section: Section
    measure: Measure


@dataclass(frozen=True)
class LostMeasure:
    """A measure the source lost: one of the section's ``missing_measures``."""

    section: Section
    number: int

    @property
    def id(self) -> str:
        """The id the measure would have (s3.m1)."""
        return f"{self.section.id}.m{self.number}"


@dataclass(frozen=True)
class NotInReport:
    """第四部分 of a three-part report, 第五点 of a four-point section (measure set)."""

    section: int
    measure: int | None = None


@dataclass(frozen=True)
class TableOfContents:
    """这份材料分几个部分."""


@dataclass(frozen=True)
class SloganList:
    """报告里有哪些口号."""


@dataclass(frozen=True)
class AskedAuthor:
    """作者是谁, 哪个单位发布的."""


Intent = (
    AskedSection | AskedMeasure | LostMeasure | NotInReport | TableOfContents | SloganList
    | AskedAuthor
)


def recognise(text: str, report: Report, data: IndexData) -> Intent | None:
    """The intent of a normalised question, or None for a question to rank."""
    section_ref = SECTION_REF.search(text)
    section_number = parse_number(section_ref.group(1)) if section_ref else None
    if section_ref and section_number is not None:
        section = report.section(section_number)
        if section is None:
            return NotInReport(section_number)
        rest = text[section_ref.end():]
    else:
        section_ref = None
        section, rest = _section_by_name(report, text)
    if section is not None:
        measure_ref = MEASURE_REF.search(rest)
        measure_number = _measure_number(measure_ref, section) if measure_ref else None
        if measure_number is not None:
            measure = section.measure(measure_number)
            if measure is not None:
                return AskedMeasure(section, measure)
            if measure_number in section.missing_measures:
                return LostMeasure(section, measure_number)
            return NotInReport(section.number, measure_number)
        if section_ref and not content_beyond(data, rest):
            return AskedSection(section)
    content = data.segmenter.content_tokens(text)
    if TOC_CUE.search(text) and not content_beyond(data, TOC_CUE.sub("", text)):
        return TableOfContents()
    if SLOGAN_CUE.search(text) and not content_beyond(data, SLOGAN_CUE.sub("", text)):
        return SloganList()
    if AUTHOR_CUE.search(text) and len(content) <= AUTHOR_MAX_CONTENT_TOKENS:
        return AskedAuthor()
    return None


def _measure_number(match: re.Match[str], section: Section) -> int | None:
    """The measure a reference names: 第3点, 三是, 最后一条 (the section's last); None
    when the reference holds no number (十十是)."""
    if match.group(3):
        return section.measure_count or None
    return parse_number(match.group(1) or match.group(2))


def _section_by_name(report: Report, text: str) -> tuple[Section | None, str]:
    """A section named before a measure reference (业务提速部分的三是), and the text
    after the name; a section named alone is left to ranking."""
    for section in report.sections:
        name = compact(short_title(section.title).removeprefix("着力"))
        position = text.find(name) if len(name) >= 2 else -1
        if position >= 0 and MEASURE_REF.search(text[position + len(name):]):
            return section, text[position + len(name):]
    return None, ""


def content_beyond(data: IndexData, text: str) -> bool:
    """Whether text holds report terms beyond question words and cues."""
    tokens = data.segmenter.content_tokens(text)
    return any(
        t in data.report_terms and t not in SECTION_CUES and t not in DOCUMENT_WORDS
        for t in tokens
    )
