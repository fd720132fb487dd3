"""Small talk: greetings, thanks, who are you, what can you do, goodbye, praise, complaints
and insults, recognised in general Chinese (and a few English words people type).

All the phrases live here, as data. ``recognise`` returns data, never sentences: the kind
of small talk (``SmallTalk``), or for a greeting or thanks that leads into a question, the
question without it; bot.replies and the config's texts say it to the user.

A message is small talk only when all of it is: small-talk phrases and filler words
(啊, 呢, 好的, 那...). So ``谢谢`` is thanks and ``政府办感谢了谁`` a question, ``再见`` a goodbye
and ``再见到检查组时要注意什么`` a question. A greeting followed by words that ask
nothing (``你好！我是留学生``) is still a greeting.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum


class SmallTalk(StrEnum):
    """What kind of small talk a message is (also the eval's ``smalltalk:<kind>``)."""

    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    IDENTITY = "identity"
    ABILITIES = "abilities"
    PRAISE = "praise"
    COMPLAINT = "complaint"
    INSULT = "insult"


# Phrases of each kind, as regular expressions over the message without spaces and
# punctuation, lower case (each matched at its longest). Listed from the most to the least
# telling: a message with phrases of several kinds (谢谢你的帮助，再见) is the kind listed
# first (goodbye before thanks: the user is leaving; thanks before praise: 谢谢，很有帮助).
PHRASES: dict[SmallTalk, tuple[str, ...]] = {
    SmallTalk.INSULT: (
        r"(你|你个|你这个|你这|真是个?)?(真|好|太)?(笨|蠢|傻|垃圾|废物|弱智|智障|白痴|蠢货|笨蛋|"
        r"傻瓜|傻子|傻逼|sb|辣鸡|废柴)(机器人|东西|玩意儿?)?",
        r"去死|滚|闭嘴|shutup|stupid|idiot",
    ),
    SmallTalk.COMPLAINT: (
        r"(这)?(是)?答非所问",
        r"(你|你这|这)?(个)?(回答|答案|说的)?(都|完全|根本)?(没用|没有用|没啥用|没什么用|"
        r"不对|错了|不准|不行|有问题)",
        r"(你|你这)?(个)?(回答|答案)?(得|的)?(太|真|好)?(差|烂|糟糕|差劲)",
        r"(你)?(怎么|咋)?(老是|总是|又)?(答错|回答错|搞错|说错)",
        r"(说了|讲了)半天(等于没说|也没说清楚?)?", r"等于没说", r"看不懂", r"没听懂",
        r"不是(我)?要的", r"不是这个(意思)?", r"什么鬼", r"(好|太)?失望",
    ),
    SmallTalk.GOODBYE: (
        r"再见", r"拜拜", r"拜", r"bye(bye)?", r"goodbye", r"回头见", r"下次见", r"改天见",
        r"晚安", r"先(这样|这么着|走了|撤了?)", r"撤了", r"走了", r"溜了", r"告辞",
        r"(没有|没)(别的|其他|什么)?问题了",
    ),
    SmallTalk.IDENTITY: (
        r"你是(谁|啥|什么|哪位|什么东西|何方神圣)", r"(你|您)(叫|叫做)(什么|啥)(名字)?",
        r"你(是|是不是)(机器人|真人|人工智能|ai|人工|真的人)",
        r"你是(干嘛|干什么|做什么|干啥)的", r"你是(谁|哪里|哪个公司|谁家)(开发|做|写|制作)的",
        r"你是(谁|什么人)写的", r"谁(开发|做|写)了?你", r"你(的)?名字(是什么|叫什么)?",
        r"whoareyou", r"介绍(一下|下)?(你|您)?自己",
    ),
    SmallTalk.ABILITIES: (
        r"(你|您)?(都)?(能|会|可以)(干|做|帮我做|帮我干|帮忙做|帮我|回答|答)(啥|什么|嘛|哪些)"
        r"(事|事情|问题)?",
        r"(你|您)?(都)?(能|会|可以)(回答|解答|查)(哪些|什么|啥)(问题|内容)?",
        r"(你|您)?有(什么|啥|哪些)(用|功能|本事|本领)", r"(怎么|咋|如何)(用|使用|问)(你)?",
        r"直接(打字|发消息|发字)?问(就行|就可以|就好)?", r"(使用)?(帮助|说明)", r"help",
        r"whatcanyoudo",
    ),
    SmallTalk.THANKS: (
        r"(谢谢|多谢|感谢|谢了|谢啦|谢谢啦|thanks|thankyou|thx|辛苦了|辛苦|麻烦了|多谢了)"
        r"(你|您|你们)?(的)?(帮助|解答|回答|分享)?",
    ),
    SmallTalk.PRAISE: (
        r"(你|您)?(真|好|太|很|非常|挺)?(厉害|棒|聪明|牛|牛逼|强|优秀|给力|靠谱|好用|不错|专业)",
        r"赞", r"点赞", r"👍+", r"nb", r"666+",
        r"(你)?(回答|答)(得|的)(太|真|很|非常)?(好|棒|准|对)", r"帮(了)?大忙",
        r"(很|太|真)?有(帮助|用)", r"good(job)?", r"great", r"nice", r"cool", r"awesome",
    ),
    SmallTalk.GREETING: (
        r"(你|您|大家|各位)好(呀|啊)?", r"(早上|上午|中午|下午|晚上)好", r"早安?", r"在吗",
        r"在不在", r"在么", r"嗨", r"哈喽", r"哈啰", r"hi", r"hello", r"hey", r"喂",
        r"有人吗", r"打扰(了|一下)?",
    ),
}
_LONGEST_PHRASE = 16  # characters: no phrase above is longer

# Cue words: what tells the kind of a short message wherever they stand in it (这不是我要的,
# 你是哪个单位做的机器人, 好了就这样吧拜拜啦), read when the phrases above do not cover all of
# it, only in a message of at most CUE_MESSAGE_CHARS and only when, the cues taken out, it
# names nothing of the report (资金怎么用 and 政府办感谢了谁 are questions) and, unless it
# asks who the bot is or what it can do, asks nothing (办错了会被追责吗). Listed in the
# order of PHRASES; thanks before abilities (谢谢你的帮助).
CUES: dict[SmallTalk, str] = {
    SmallTalk.INSULT: (
        r"笨|蠢|傻|垃圾|废物|弱智|智障|白痴|辣鸡|脑子(坏|有病|进水|有问题)|破机器人|sb|stupid|"
        r"idiot"
    ),
    SmallTalk.COMPLAINT: (
        r"答非所问|没用|没有用|没啥用|用都没有|一点用|不好用|不对|不准|错了|答偏|答错|跑题|"
        r"不是我要|看不懂|没看明白|不明白|没明白|听不懂|说人话|太慢|好慢|真慢|快点|等半天|"
        r"什么鬼|失望|不靠谱"
    ),
    SmallTalk.GOODBYE: (
        r"再见|拜拜|拜了|白白|bye|^88+$|^886$|回头见|下次(再)?(聊|见|问)|改天(再)?(聊|见)|晚安|"
        r"先(这样|这么着|走|撤|忙|不聊|下了)|不聊了|忙去了|走了|告辞|下线了"
    ),
    SmallTalk.THANKS: r"谢|蟹蟹|3q|thx|thank|感恩|辛苦(了|啦)|麻烦(你|您)?了",
    SmallTalk.IDENTITY: (
        r"你是(谁|哪位|什么)|你叫(什么|啥)|你(是|事|是不是)?(个)?(真人|机器人|人工智能|ai|"
        r"chatgpt|gpt|程序|客服)|(谁|哪个|哪家).{0,6}(开发|做|写|制作|搞)(的|了)?你|"
        r"你是.{0,6}(开发|做|写|制作|搞)的|跟谁(在)?(说话|聊)|whoareyou"
    ),
    SmallTalk.ABILITIES: (
        r"怎么用|咋用|如何用|怎么使用|怎么问|咋问|(能|会|可以)(问|干|做|回答)(些|点)?(什么|啥)|"
        r"会(些|点)?(什么|啥)|什么功能|哪些功能|^帮助$|使用帮助|求助|help|使用说明|"
        r"问(你)?(点|些)?(什么|啥)好"
    ),
    SmallTalk.PRAISE: (
        r"厉害|真棒|很棒|好棒|太棒|不错|牛|赞|好用|真准|挺准|很准|给力|靠谱|聪明|👍|great|"
        r"nice|good|awesome|cool"
    ),
    SmallTalk.GREETING: (
        r"你好|您好|哈喽|哈啰|嗨|^hi|hello|hey|在吗|在不在|在么|有人吗|有人在吗|早上好|"
        r"上午好|下午好|晚上好|早安|👋"
    ),
}
CUE_MESSAGE_CHARS = 16
# Words that carry nothing in small talk: said around the phrases above, never a question.
FILLERS = (
    r"啊|呀|哦|噢|喔|呢|吧|啦|嘛|哈|嗯|额|呃|哇|诶|唉|了|的|吗|么|呗|"
    r"好的|好吧|好|行|嗯嗯|哦哦|ok|okay|收到|明白|知道了|了解|那|那么|那就|你|您|们|"
    r"我|也|还|真的|真|非常|很|太|可以|再|今天|先|哈哈+|呵呵|嘿嘿|😊|🙂|😄|🙏|[?？]"
)
# What makes the words after a greeting or thanks a question (你好，请问…讲了什么).
ASKING = re.compile(
    r"什么|啥|怎么|怎样|如何|咋|哪|吗|么|多少|几|谁|为什么|请问|想问|问下|问一下|请教|介绍|"
    r"讲讲|说说|了解|学习|是否|有没有|能否|可否|[?？]"
)
# Who is asking, said before the question after a greeting (我是隔壁区政府办的，想问…).
SELF_INTRODUCTION = re.compile(r"(?:我是|我叫|我们是|本人是)[^，,。.！!；;]{1,20}[，,。.！!；;]\s*")
_KINDS = tuple(PHRASES)
_COMPILED = tuple((kind, re.compile(p)) for kind, phrases in PHRASES.items() for p in phrases)
_FILLER = re.compile(f"(?:{FILLERS})")
# Apart from letters and digits, what a message is kept with: emoji among the phrases and
# question marks (fillers); spaces and other punctuation separate, and are dropped.
_KEPT_SYMBOLS = frozenset("👍👋😊🙂😄🙏?？")
_SEPARATORS = frozenset(" ，,。.！!、~～；;：:…")


@dataclass(frozen=True)
class Recognised:
    """A message as small talk: ``kind`` when all of it is small talk; otherwise
    ``question``, the message without the greeting or thanks it began with."""

    kind: SmallTalk | None
    question: str = ""


def _kept(char: str) -> bool:
    return char in _KEPT_SYMBOLS or unicodedata.category(char)[0] in "LN"


def _squeezed(text: str) -> str:
    """The message as the phrases are written: NFKC, lower case, no spaces or punctuation."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).lower() if _kept(c))


def _longest_phrase(text: str, position: int) -> tuple[SmallTalk, int] | None:
    """The kind and end of the longest phrase starting at ``position`` (a regular expression
    matches its first alternative, not its longest: 蠢 before 蠢货)."""
    last = min(len(text), position + _LONGEST_PHRASE)
    for end in range(last, position, -1):
        for kind, phrase in _COMPILED:
            if phrase.fullmatch(text, position, end):
                return kind, end
    return None


def _consume(text: str) -> tuple[list[SmallTalk], int, int]:
    """The small-talk kinds said at the start of ``text`` (phrases and fillers), where the
    last phrase ends and where the fillers after it end."""
    kinds: list[SmallTalk] = []
    position = phrase_end = 0
    while position < len(text):
        phrase = _longest_phrase(text, position)
        if phrase is not None:
            kinds.append(phrase[0])
            position = phrase_end = phrase[1]
            continue
        filler = _FILLER.match(text, position)
        if filler is None or filler.end() == position:
            break
        position = filler.end()
    return kinds, phrase_end, position


def recognise(
    text: str, report_words: Callable[[str], Iterable[str]] | None = None
) -> Recognised | None:
    """Small talk in a message, or None (a question, or nothing said). ``report_words``
    names the report's words in a text; with it, a short message is read by its cue words
    too (CUES).

    >>> recognise("谢谢").kind, recognise("政府办感谢了谁")
    (<SmallTalk.THANKS: 'thanks'>, None)
    >>> recognise("你好，请问作风提效讲了什么").question
    '请问作风提效讲了什么'
    """
    squeezed = _squeezed(text)
    if not squeezed:
        return None
    kinds, phrase_end, end = _consume(squeezed[:MAX_SMALL_TALK_CHARS])
    if not kinds:
        return _by_cue(squeezed, report_words)
    kind = min(kinds, key=_KINDS.index)
    if end == len(squeezed):
        return Recognised(kind)
    if kind not in (SmallTalk.GREETING, SmallTalk.THANKS):
        return _by_cue(squeezed, report_words)  # 没用的东西是什么 names a report's thing
    rest = _rest_after(text, phrase_end)
    if rest is None:
        return _by_cue(squeezed, report_words)  # 你好我… run together
    if not ASKING.search(rest) and len(rest) <= _SAYING_CHARS:
        return Recognised(kind)  # 你好！我是留学生，正在学中文: says who they are, asks nothing
    introduced = SELF_INTRODUCTION.match(rest)
    if introduced is not None and ASKING.search(rest[introduced.end():]):
        rest = rest[introduced.end():]  # 你好，我是隔壁区的，想学习下…: the question is after it
    return Recognised(None, rest)


def _by_cue(squeezed: str, report_words: Callable[[str], Iterable[str]] | None
            ) -> Recognised | None:
    """A short message by its cue words, when nothing but them could be a question."""
    if report_words is None or len(squeezed) > CUE_MESSAGE_CHARS:
        return None
    found = [(kind, cue) for kind, cue in _CUES if cue.search(squeezed)]
    if not found:
        return None
    rest = squeezed
    for _, cue in found:
        rest = cue.sub(" ", rest)
    if any(len(word) > 1 for word in report_words(rest)):
        return None  # 资金怎么用: a question about the report
    kind = found[0][0]
    if kind not in (SmallTalk.IDENTITY, SmallTalk.ABILITIES) and ASKING.search(rest):
        return None  # 办错了会被追责吗 asks something: 错了 is no complaint there
    return Recognised(kind)


_CUES = tuple((kind, re.compile(cue)) for kind, cue in CUES.items())


# Small talk is a few words (the longest of ours, 谢谢你的帮助再见啦哈哈, is 12): a longer
# message is read only this far for a greeting before its question, which bounds the work.
MAX_SMALL_TALK_CHARS = 40
_SAYING_CHARS = 16  # what follows a greeting and asks nothing: a short remark, not a request


def _rest_after(text: str, squeezed_end: int) -> str | None:
    """The text after its first ``squeezed_end`` kept characters, when a space or
    punctuation mark separates them from it (你好，请问…); None when the words run on."""
    normal = unicodedata.normalize("NFKC", text)
    kept = 0
    for index, char in enumerate(normal):
        if kept == squeezed_end:
            if char.lower() not in _SEPARATORS and not char.isspace():
                return None
            return normal[index:].lstrip("".join(_SEPARATORS)).strip()
        if _kept(char.lower()):
            kept += 1
    return ""
