"""Which script a message is written in, and text converted to it (OpenCC).

The report and every text of the bot are simplified Chinese. A question in traditional
script gets its reply in traditional script: the Hong Kong variant (OpenCC s2hk) when the
question uses Hong Kong forms (裏, 説, 着 where Taiwan writes 裡, 說, 著), else the Taiwan
one (s2tw). Characters only, never Taiwan's words (s2twp would turn 信息 into 資訊 and 创建
into 建立): the reply quotes the report, and a quote keeps its words.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache

import opencc

from bot.textnorm import to_simplified


class Script(StrEnum):
    SIMPLIFIED = "simplified"
    TAIWAN = "taiwan"
    HONG_KONG = "hong_kong"


_CONVERSIONS = {Script.TAIWAN: "s2tw", Script.HONG_KONG: "s2hk"}


@cache
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def detect(text: str, neutral_matters: bool = True) -> Script | None:
    """The script a text is written in; None when its characters are the same in both
    (你好, 123, hello): nothing tells. Without ``neutral_matters`` a text with no traditional
    character is SIMPLIFIED outright (telling 你好 from 这 costs OpenCC's s2t tables, ~12 MB
    and a few milliseconds, which a simplified chat never needs).

    >>> detect("這是哪一部分的"), detect("这是哪一部分的"), detect("你好")
    (<Script.TAIWAN: 'taiwan'>, <Script.SIMPLIFIED: 'simplified'>, None)
    >>> detect("裏面説了甚麼")
    <Script.HONG_KONG: 'hong_kong'>
    """
    simplified = to_simplified(text)
    if simplified == text:
        if not neutral_matters:
            return Script.SIMPLIFIED
        traditional = _converter("s2t").convert(text)
        return Script.SIMPLIFIED if traditional != text else None
    taiwan = _converter("s2tw").convert(simplified)
    hong_kong = _converter("s2hk").convert(simplified)
    if _differences(hong_kong, text) < _differences(taiwan, text):
        return Script.HONG_KONG
    return Script.TAIWAN


def _differences(converted: str, text: str) -> int:
    """Characters of ``text`` the conversion wrote otherwise (character conversions keep
    the length; a length changed by a phrase counts as every character differing)."""
    if len(converted) != len(text):
        return len(text)
    return sum(a != b for a, b in zip(converted, text, strict=True))


def convert(text: str, script: Script) -> str:
    """Simplified text in ``script`` (unchanged for SIMPLIFIED)."""
    if script == Script.SIMPLIFIED or not text:
        return text
    return _converter(_CONVERSIONS[script]).convert(text)
