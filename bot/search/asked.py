"""The part of a long, chatty question that asks something (issue 9).

我是报社的记者，最近在写一篇稿子，听说东湖区搞了个转贷资金池，想了解一下规模多大？ asks
about 转贷资金池; who asks and why are context whose words the report never holds, and
they would only lower every passage's coverage. A long question of several clauses keeps
the clauses that ask (a question word, 想了解, 请问; the last clause) and those naming the
report's own terms, and drops self-introductions and context (我是…, 最近…, 领导让我…).
Short questions are left as they are. Only general Chinese is written here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.search.index import IndexData

# Longer than this (normalised, without spaces) a question may carry context; shorter ones
# are one thought and kept whole (the dev sets' chatty questions run 50-80 characters).
LONG_QUESTION_CHARS = 40
# ... and only when it has this many clauses (two clauses are a context and a question at most,
# too little to tell apart safely).
MIN_CLAUSES = 3

# A clause that asks: question words and the forms that announce a question.
ASKING = re.compile(
    r"什么|啥|怎么|怎样|如何|哪|多少|多大|多久|多长|几[个项条次年天位名家]|是否|有没有|能不能|能否"
    r"|可不可以|会不会|吗|呢|想了解|想知道|想问|请问|问一下|问问|介绍一下|说说|讲讲"
)
# A clause that introduces the asker or the occasion, unless it also asks.
CONTEXT = re.compile(
    r"^(?:我|我们|本人|咱)(?:是|在|刚|正在|最近|现在|今年|明年|下周|家|孩子|单位|公司)"
    r"|^(?:最近|近期|前段时间|这几年|下周|明天|今天|平时|领导|老师|朋友|同事|孩子|家里|家人)"
    r"|^(?:正在|刚|准备|打算)"
)
# How a clause is introduced, not what it asks (听说东湖区…, 想了解一下规模): dropped so that
# the words never lower a passage's coverage (nor read 听说区 as a place).
LEAD_IN = re.compile(
    r"^(?:(?:领导|老师|单位)?(?:让|要|叫)我(?:们)?先?(?:弄|搞)?(?:清楚|明白|了解)(?:一下)?)?"
    r"(?:我|我们)?(?:听(?:朋友|同事|别人|人家)?说|(?:想|要)(?:了解|知道|问问?|请教)(?:一下)?"
    r"|请问|问一下)?"
)
# A clause that neither asks nor introduces is kept when at least this share of its words
# are the report's own (一直担心学位紧张 names 学位 once among feelings: context).
REPORT_TERM_SHARE = 0.5


def asked_part(data: IndexData, text: str) -> str:
    """The clauses of a (normalised) question that ask or name the report's terms; the
    whole question when it is short or has few clauses, or when nothing would be left."""
    clauses = [clause for clause in text.split(" ") if clause]
    if len(text.replace(" ", "")) <= LONG_QUESTION_CHARS or len(clauses) < MIN_CLAUSES:
        return text
    last = len(clauses) - 1
    kept = [
        LEAD_IN.sub("", clause) for position, clause in enumerate(clauses)
        if position == last or ASKING.search(clause)
        or (not CONTEXT.search(clause) and _names_report_terms(data, clause))
    ]
    return " ".join(clause for clause in kept if clause) or text


def _names_report_terms(data: IndexData, clause: str) -> bool:
    """Whether most of the clause's words (two characters or more) are the report's own."""
    words = [t for t in data.segmenter.content_tokens(LEAD_IN.sub("", clause)) if len(t) > 1]
    known = sum(word in data.report_terms for word in words)
    return bool(words) and known >= REPORT_TERM_SHARE * len(words)
