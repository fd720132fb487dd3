"""Intents: questions that name what they want rather than describe it.

A section (第二部分), a measure of a section (第二部分第三点, 三是, 最后一条, 业务提速部分的三是),
the author or issuer, the slogan list and the table of contents are recognised on the
normalised question and returned as typed data (``SearchResult.intent``); the Index turns
them into hits, bot.replies into words.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.content import Measure, Report, Section, parse_number
from bot.textnorm import compact, compact_report_text

if TYPE_CHECKING:
    from bot.search.index import IndexData

# --- General Chinese and the genre's conventions, as data -----------------------------
# Nothing here names one report: a report's own words (its author, section titles, title,
# issuer) are read from its content.

SECTION_UNITS = r"(?:部分|章|节|板块|方面|块|段|篇|大点|部)"
MEASURE_UNITS = r"(?:点|条|项|措施|做法|方面|节|款)"  # 节 after 第三章: 第三章第一节
# A numeral as a question writes it once normalised: digits, or Chinese numerals that
# normalisation leaves alone (第（二）点 -> 第 二 点; spaces are dropped before matching).
NUMERAL = r"(\d+|[一二三四五六七八九十百]+)"
SECTION_REF = re.compile(rf"第(\d+)(?:个)?(?:大)?{SECTION_UNITS}")
MEASURE_REF = re.compile(
    rf"第{NUMERAL}(?:个)?(?:小)?{MEASURE_UNITS}|([一二三四五六七八九十]+|\d+)是"
    r"|(最后)(?:1|一)?(?:个)?(?:点|条|项|是|小点)"
)
# A measure named without its section: 第十二条 of a report numbering its measures straight
# through, 第4.4条 / 5.5那一条 of one numbering them by section (normalised: 第44条, 55那1条).
# 第 or a demonstrative makes it a reference: 新增3项措施 counts, it names no measure.
REPORT_MEASURE_REF = re.compile(
    r"(?:第(\d+)|(\d+)(?:那|这)(?:1|一)?)(?:个)?(?:小)?(?:点|条|项|节|款)"
)
SECTION_CUES = ("部分", "板块", "那块", "一块", "大块", "章节", "方面", "那段", "这段")
# A section referred to as such: 那一块, 这部分, 那一大块 (normalisation may write 一 as 1).
SECTION_CUE = re.compile(r"(?:这|那|该)?(?:1|一)?(?:个)?(?:大)?(?:部分|板块|块|章节|方面|段)")
# Asking what a part says as a whole: 讲讲, 概括一下, 主要意思, 讲了什么.
SUMMARY_CUE = re.compile(
    r"主要意思|大意|主要内容|内容|要点|核心|重点|讲(?:了|的)?(?:是)?(?:什么|啥)|说(?:了|的)?(?:是)?(?:什么|啥)"
    r"|讲讲|说说|谈谈|聊聊|介绍|概括|总结|归纳|梳理|提炼|简述|概述|解读"
)
# Filler around such a request: dropped, but no request by itself.
SUMMARY_FILLER = re.compile(r"一下|帮我|给我|请|简单|大概|主要|具体|都|的")
# Words a heading opens with that a reader drops when naming the section
# (着力业务提速 is 业务提速, 聚焦收入质量 is 收入质量).
# Where a heading's short title ends: 着力业务提速，打造过硬本领 (as imported or written).
HEADING_BREAK = re.compile(r"[,，;；:：]")
HEADING_VERBS = (
    "着力", "聚焦", "坚持", "深化", "加强", "强化", "推进", "推动", "持续", "全面", "切实",
    "扎实", "不断", "进一步", "狠抓", "突出", "围绕", "注重", "坚决", "大力",
)
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
    r"作者|谁写|写的|撰写|执笔|署名|写(?:这|那)?(?:篇|份)?.{0,3}的人"
    # a document issued by an office: who issued it, when, under which number
    r"|谁(?:发布|印发|发的|发|制定|出台|签发)|哪(?:个|家)?(?:单位|部门|机关)(?:发布|印发|发的|发|制定|出台)"
    r"|发文(?:单位|机关|日期|时间)?|(?:发布|印发|成文|落款)(?:单位|日期|时间)|文号|发文字号"
    r"|(?:什么时候|什么时间|啥时候|哪天|哪1天|哪一天|哪年|何时)(?:发布|印发|出台|发的|发|制定|成文)"
)
# The document's own title: 文章的标题叫什么 (not the sections' titles: those are TOC_CUE).
DOCUMENT_TITLE_CUE = re.compile(
    r"(?:材料|报告|文章|文件|稿子|全文|本文)(?:的)?(?:标题|题目|名字|名称)"
    r"|(?:总|文章)标题"
)
# Document-type words a question may use for the document itself.
DOCUMENT_KINDS = frozenset("文件 预案 通知 意见 要点 方案 办法 规定 函 工作".split())
# Words of a metadata question around its cue: 叫什么, 多少, 哪天, 时候.
# What a metadata question asks about the document: dropped before the answer checks.
IDENTITY_WORDS = frozenset(
    "单位 部门 机关 发布 印发 发文 文号 字号 标题 题目 名称 名字 签发 出台 制定 成文 落款 作者 "
    "署名 撰写 执笔".split()
)
# How a metadata question asks: 叫什么, 多少, 哪天, 什么时候.
METADATA_WORDS = frozenset("叫 多少 时候 时间 哪天 日期 发 写 出来 这个 这份".split())
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
    """作者是谁, 哪个单位发布的, 文号是多少, 标题叫什么."""

    # the question without the document's own name and the metadata words: what the
    # answer checks read ("" : the question as asked)
    question: str = ""


Intent = (
    AskedSection | AskedMeasure | LostMeasure | NotInReport | TableOfContents | SloganList
    | AskedAuthor
)


def recognise(text: str, report: Report, data: IndexData) -> Intent | None:
    """The intent of a normalised question, or None for a question to rank."""
    text = text.replace(" ", "")  # 第（二）点 normalises to 第 二 点
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
            measure = _measure_of_section(report, section, measure_number)
            if measure is not None:
                return AskedMeasure(section, measure)
            if measure_number in section.missing_measures:
                return LostMeasure(section, measure_number)
            return NotInReport(section.number, measure_number)
        if section_ref and not _beyond_summary(data, rest):
            return AskedSection(section)
    if section_ref is None:
        found = _measure_of_report(report, text)
        if found is not None:
            return AskedMeasure(*found)
    content = data.segmenter.content_tokens(text)
    metadata_question = _metadata_question(report, data, text)
    if metadata_question is not None:
        return AskedAuthor(metadata_question)
    if TOC_CUE.search(text) and not content_beyond(data, TOC_CUE.sub("", text)):
        return TableOfContents()
    if SLOGAN_CUE.search(text) and not content_beyond(data, SLOGAN_CUE.sub("", text)):
        return SloganList()
    if section_ref is None:
        named = _section_named_alone(report, data, text)
        if named is not None:
            return AskedSection(named)
    if AUTHOR_CUE.search(text) and len(content) <= AUTHOR_MAX_CONTENT_TOKENS:
        return AskedAuthor()
    return None


def _measure_number(match: re.Match[str], section: Section) -> int | None:
    """The measure a reference names: 第3点, 三是, 最后一条 (the section's last); None
    when the reference holds no number (十十是)."""
    if match.group(3):
        return section.measure_count or None
    return parse_number(match.group(1) or match.group(2))


def _measure_of_section(report: Report, section: Section, number: int) -> Measure | None:
    """A section's measure by number: the one numbered so, or, in a report numbering its
    measures straight through (（十四）… in its third part), the section's number-th."""
    measure = section.measure(number)
    if measure is None and _numbered_straight_through(report) and 1 <= number <= len(
        section.measures
    ):
        return section.measures[number - 1]
    return measure


def _numbered_straight_through(report: Report) -> bool:
    """Whether the report numbers measures across sections (1-13, then 14-16), not
    from one in each section."""
    runs = [s.measures for s in report.sections if s.measures]
    if len(runs) < 2 or runs[1][0].number == 1:
        return False
    return all(later[0].number > earlier[-1].number for earlier, later in itertools.pairwise(runs))


def _measure_of_report(report: Report, text: str) -> tuple[Section, Measure] | None:
    """A measure named without its section: 第十二条 where measures are numbered straight
    through, 第4.4条 where each is numbered with its section (4.4, normalised 44)."""
    match = REPORT_MEASURE_REF.search(text)
    if match is None:
        return None
    digits = match.group(1) or match.group(2)
    straight = _numbered_straight_through(report)
    found = [
        (section, measure) for section in report.sections for measure in section.measures
        if (straight and str(measure.number) == digits)
        or (_DOTTED_MARKER.match(measure.marker) and compact(measure.marker) == digits)
    ]
    return found[0] if len(found) == 1 else None


_DOTTED_MARKER = re.compile(r"\s*\d+[.．]\d+")  # 4.4, as legal texts number clauses


def _beyond_summary(data: IndexData, text: str) -> bool:
    """Whether text asks more than what a section says as a whole (第三部分的主要意思
    does not; 第三部分的经费从哪来 does)."""
    return content_beyond(data, SUMMARY_FILLER.sub("", SUMMARY_CUE.sub("", text)))


def section_name(section: Section) -> str:
    """The name a reader gives a section: its short title without the opening verb
    (着力业务提速,打造过硬本领 -> 业务提速)."""
    name = compact_report_text(HEADING_BREAK.split(section.title, maxsplit=1)[0])
    for verb in HEADING_VERBS:
        if name.startswith(verb) and len(name) - len(verb) >= 2:
            return name[len(verb):]
    return name


def _section_by_name(report: Report, text: str) -> tuple[Section | None, str]:
    """A section named before a measure reference (业务提速部分的三是), and the text
    after the name; a section named alone is ``_section_named_alone``."""
    for section in report.sections:
        name = section_name(section)
        position = text.find(name) if len(name) >= 2 else -1
        if position >= 0 and MEASURE_REF.search(text[position + len(name):]):
            return section, text[position + len(name):]
    return None, ""


def _section_named_alone(report: Report, data: IndexData, text: str) -> Section | None:
    """讲讲思想提标那一块, 概括一下业务提速, 收入方面那一部分: a section referred to as a part
    or asked to be summed up, named by words of its title and nothing else."""
    if not (SECTION_CUE.search(text) or SUMMARY_CUE.search(text)):
        return None
    rest = SUMMARY_FILLER.sub(" ", SUMMARY_CUE.sub(" ", SECTION_CUE.sub(" ", text)))
    words = [
        t for t in data.segmenter.content_tokens(rest.replace(" ", ""))
        if t not in DOCUMENT_WORDS and not SELF_REFERENCE.fullmatch(t)
    ]
    if sum(len(w) for w in words) < 2:
        return None
    named = [s for s in report.sections if all(w in compact(s.title) for w in words)]
    return named[0] if len(named) == 1 else None


def _metadata_question(report: Report, data: IndexData, text: str) -> str | None:
    """Who wrote or issued the document, when, under which number, with what title: a
    metadata cue (or the author's name) and no topic beyond the document's own name.

    Returns the question without the document's name and the metadata words (what the
    answer checks still read: a year, a place, 以前, 什么时候 of an undated document),
    or None for another question."""
    author = compact_report_text(report.author) if report.author else ""
    cue = ((report.title and DOCUMENT_TITLE_CUE.search(text)) or AUTHOR_CUE.search(text)
           or (len(author) >= 2 and author in text))
    if not cue:
        return None
    text = SELF_REFERENCE.sub("", text)  # 这篇文章的标题: the document, not a topic
    own_name = "".join(compact_report_text(v)
                       for v in (report.title, report.issuer, report.author))
    kept = [
        t for t in data.segmenter.cut(text)
        if not (t in own_name and len(t) >= 2) and t not in DOCUMENT_KINDS
        and t not in IDENTITY_WORDS
    ]
    topic = [
        t for t in data.segmenter.content_tokens("".join(kept))
        if len(t) >= 2 and t not in DOCUMENT_WORDS and t not in METADATA_WORDS
        and not SELF_REFERENCE.fullmatch(t)
    ]
    return None if topic else "".join(kept)


def content_beyond(data: IndexData, text: str) -> bool:
    """Whether text holds report terms beyond question words and cues."""
    tokens = data.segmenter.content_tokens(text)
    return any(
        t in data.report_terms and t not in SECTION_CUES and t not in DOCUMENT_WORDS
        for t in tokens
    )
