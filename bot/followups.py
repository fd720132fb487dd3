"""Follow-ups: short messages that ask about the passage last answered in a chat.

``recognise`` reads a message as a follow-up (more detail, next, previous, the section it
belongs to, its source, another measure or section by number) or None. Only short, whole
follow-up phrases are read so (详细说说, 下一点呢, 那第三点呢, 出处在哪): anything longer is a
question for the matcher, so a full question always wins over the context. Returns data;
bot.replies decides what to show.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from bot.content import parse_number


class Asked(StrEnum):
    """What a follow-up asks of the passage in context."""

    MORE = "more"  # all of it: 详细说说, 展开讲讲
    NEXT = "next"  # 下一点呢
    PREVIOUS = "previous"  # 上一条
    SECTION = "section"  # the section it belongs to: 这是哪一部分的
    SOURCE = "source"  # where it stands in the report: 出处在哪, 原文哪里
    MEASURE = "measure"  # another measure of its section: 那第三点呢
    OTHER_SECTION = "other_section"  # another section: 那第二部分呢


@dataclass(frozen=True)
class FollowUp:
    asked: Asked
    number: int | None = None  # the measure or section named (MEASURE, OTHER_SECTION)


_NUMBER = r"(?P<number>[0-9一二三四五六七八九十两]+)"
# Phrases of each follow-up, over the message in lower case without spaces or punctuation,
# after the fillers around them (那, 呢, 吗...) are taken off.
PHRASES: dict[Asked, tuple[str, ...]] = {
    Asked.MORE: (
        r"(再|请)?(详细|具体|仔细|展开|多)(一点|一些|点|些)?(地)?(说说|讲讲|说|讲|介绍|谈谈|解释)"
        r"(一下|下)?",
        r"展开(讲讲|说说|来说|来讲|一下)?", r"(说|讲)(得)?(详细|具体)(一)?(点|些)",
        r"具体(点|一点|些|内容|说说|讲讲)?", r"(看|查看)?(全文|完整内容|详情|原文全文)",
        r"(还有|有)(吗|没有|别的)?", r"更多(内容)?", r"详细(内容|点|一点)?",
    ),
    Asked.NEXT: (
        r"(那)?下一(点|条|个|段|项|部分内容|句)?", r"后一(点|条|个|段|项)", r"下面(一点|一条|呢)?",
        r"接下来(是什么|讲什么|呢)?", r"然后", r"接着(说|讲)?", r"继续(说|讲)?", r"往下(说|讲)?",
    ),
    Asked.PREVIOUS: (
        r"上一(点|条|个|段|项|句)?", r"前一(点|条|个|段|项)", r"(回到|返回)上一(点|条|个|段)?",
    ),
    Asked.SECTION: (
        r"(这|这个|这段|这条|这一段|这一条|这点|它|上面这段)?(是|属于|在|出自)?(哪一|哪个|哪)"
        r"(部分|章|节|块|方面|大部分)(的|里|里面|中|里的)?(内容)?",
        r"(属于|在)(报告的?)?哪(一)?(部分|章|节)", r"(所在|所属)(的)?(部分|章节)",
    ),
    Asked.SOURCE: (
        r"(出处|来源|原文|出自)(在|是)?(哪里|哪儿|哪|何处|什么|哪一段)?",
        r"(在|是)?(原文|报告)(的)?(哪里|哪儿|哪|什么地方)(说|写|提到)?(的)?",
        r"(哪里|哪儿|在哪)(说|写|提到)(的)?", r"出自哪(里|儿)?", r"原话(是什么|呢)?",
    ),
    Asked.MEASURE: (
        rf"第{_NUMBER}(点|条|项|个)(讲|说)?(了|的)?(什么|啥|是什么|是啥|内容)?",
        rf"{_NUMBER}是",
    ),
    Asked.OTHER_SECTION: (
        rf"第{_NUMBER}(部分|章|大部分)",
    ),
}
_COMPILED = tuple((asked, re.compile(p)) for asked, phrases in PHRASES.items() for p in phrases)
_LEADING = re.compile(r"^(?:那么|那|好的|好|嗯|哦|再|请问|请|还有|另外)+")
_TRAILING = re.compile(
    r"(?:呢|吗|啊|呀|吧|啦|嘛|来着|是什么|是啥|讲了?什么|说了?什么|讲的啥|说的啥)+$")
MAX_FOLLOW_UP_CHARS = 12  # a follow-up is a few words; longer messages are questions


def _squeezed(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(c for c in text if unicodedata.category(c)[0] in "LN")


def recognise(text: str) -> FollowUp | None:
    """A follow-up, or None (a question for the matcher).

    >>> recognise("那第三点呢")
    FollowUp(asked=<Asked.MEASURE: 'measure'>, number=3)
    >>> recognise("下一点呢").asked, recognise("第三点讲了哪些督查形式")
    (<Asked.NEXT: 'next'>, None)
    """
    squeezed = _squeezed(text)
    if not squeezed or len(squeezed) > MAX_FOLLOW_UP_CHARS:
        return None
    core = _TRAILING.sub("", _LEADING.sub("", squeezed)) or squeezed
    for candidate in dict.fromkeys((core, _LEADING.sub("", squeezed), squeezed)):
        for asked, phrase in _COMPILED:
            match = phrase.fullmatch(candidate)
            if match is None:
                continue
            if asked in (Asked.MEASURE, Asked.OTHER_SECTION):
                number = parse_number(match.group("number"))
                if number is None:
                    continue
                return FollowUp(asked, number)
            return FollowUp(asked)
    return None
