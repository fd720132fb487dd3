"""Declines: whether the best passage can hold what the question asks for.

A passage on the right topic is still no answer when the question asks for something it
does not state: a count needs a number and a date a year in the sentence the question is
about, a name only the byline holds, why an event happened needs more than the event in a
list; contact details, budgets, careers and other places are never in the report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot.content import Kind, Passage, Report
from bot.search.intents import DOCUMENT_WORDS, SELF_REFERENCE
from bot.search.relatedness import query_tokens
from bot.search.results import Hit
from bot.search.scoring import bigrams, weights
from bot.textnorm import compact

if TYPE_CHECKING:
    from bot.search.index import IndexData

# What a question asks for, and what a passage must hold to answer it.
ASKS_COUNT = re.compile(
    r"(?:多少|(?<![哪那这好])几)(个|位|名|人|项|次|条|家|分|字|年|天|届|所|座|元|万|亿)?"
)
COUNTERS = "个位名人项次条家"
ASKS_TIME = re.compile(r"哪1?年|什么时候|何时|几月|哪1?天|几号|多久|多长时间|频率|每隔")
ASKS_REASON = re.compile(r"为什么|为何|为啥|什么原因|原因是|起因")
AUTHOR_WORDS = frozenset("单位 上班 工作 职务 职位 身份 名字 姓名 担任 作者".split())
BIOGRAPHY = re.compile(r"以前|之前|曾经|过去|后来|现在在|调到|升任")
ASKS_LIST = re.compile(r"哪(?:\d+|几)(?:个|项|条|种|句|大)")
ASKS_NAME = re.compile(r"叫什么名字|叫啥|姓名|名字")
NEVER_IN_REPORT = re.compile(
    r"电话|号码|地址|邮箱|网址|官网|在哪里办公|在哪办公|怎么走|位置在|在什么地方|预算|经费|工资|待遇"
    r"|招聘|报考|应聘|录用|考公|资格|履历|简历|毕业|学历|籍贯|老家|出生|生日|年龄|多大年纪"
    # the report is a work summary, not a service guide
    r"|投诉|举报|信访|办事指南|办理流程|办事流程|预约|怎么申请|如何申请"
)
SENTENCE_END = re.compile("[。；！？]")
PLACE_SUFFIXES = "省市区县"
# Kinds that answer whatever is asked of them: a list, or the whole of a section.
ANSWERED_BY_KIND = frozenset(
    {Kind.SLOGAN_LIST, Kind.TABLE_OF_CONTENTS, Kind.LOST_MEASURE, Kind.SECTION}
)
NAMED_THING_MIN_CHARS = 3  # 出租车罢运 is a named event; 可靠 (two characters) a quality


class AnswerCheck:
    """The answer-type checks over one report's index (sentences split once, then kept)."""

    def __init__(self, report: Report, data: IndexData, passages: Mapping[str, Passage]) -> None:
        self.report = report
        self.data = data
        self.passages = passages
        self._sentences: dict[str, list[str]] = {}

    def answers(self, text: str, hit: Hit) -> bool:
        """Whether the passage can hold what the question asks for."""
        if NEVER_IN_REPORT.search(text) or self._other_place(text):
            return False
        if hit.kind in ANSWERED_BY_KIND:
            return True
        if hit.kind == Kind.AUTHOR:
            return self._about_author(text)
        if ASKS_NAME.search(text):
            return False
        sentence = self._answer_sentence(text, hit.id)
        count = ASKS_COUNT.search(text)
        if count:
            unit = count.group(1)
            pattern = rf"\d+[{COUNTERS}]" if unit is None or unit in COUNTERS else rf"\d+{unit}"
            if not re.search(pattern, sentence):
                return False
        if ASKS_TIME.search(text) and not re.search(r"\d+年|以来|去年", sentence):
            return False
        if ASKS_REASON.search(text) and self._only_listed(text, hit.id):
            return False  # 出租车罢运 is listed among events; the report never says why
        if ASKS_LIST.search(text) and hit.kind == Kind.SLOGAN and not re.search("[、,]", hit.title):
            return False  # 五大战役 and 三个留人 are named, never spelled out
        return True

    def _answer_sentence(self, text: str, passage_id: str) -> str:
        """The sentence of a passage that holds most of the question's (IDF-weighted) words;
        shared character pairs break ties."""
        sentences = self._sentences.get(passage_id)
        if sentences is None:
            passage = self.passages.get(passage_id)
            raw = passage.text if passage else ""
            sentences = [compact(s) for s in SENTENCE_END.split(raw) if s.strip()] or [""]
            self._sentences[passage_id] = sentences
        token_weights = weights(self.data, query_tokens(self.data, text))
        grams = bigrams(text.replace(" ", ""))
        return max(sentences, key=lambda s: (
            sum(w for t, w in token_weights.items() if t in s), len(grams & bigrams(s))
        ))

    def _only_listed(self, text: str, passage_id: str) -> bool:
        """Whether the question's main term appears in the passage only as a list item."""
        tokens = [t for t in self.data.segmenter.content_tokens(text) if len(t) > 1]
        passage = self.passages.get(passage_id)
        if not tokens or passage is None:
            return False
        main = max(tokens, key=lambda t: self.data.idf.get(t, 0.0))
        if len(main) < NAMED_THING_MIN_CHARS:
            return False
        items = [compact(part) for part in passage.text.split("、")]
        listed = [
            item for position, item in enumerate(items)
            if (position > 0 and item.startswith(main))
            or (position < len(items) - 1 and item.endswith(main))
        ]
        return bool(listed) and compact(passage.text).count(main) == len(listed)

    def _about_author(self, text: str) -> bool:
        """A question the byline answers names nothing the byline lacks (区委办主任 is not
        the author's office, 以前 not a thing the byline tells)."""
        author = next((d for d in self.data.docs if d.passage.kind == Kind.AUTHOR), None)
        if author is None:
            return False
        tokens = self.data.segmenter.content_tokens(SELF_REFERENCE.sub(" ", text))
        foreign = [
            t for t in tokens
            if t in self.data.report_terms and t not in author.tokens
            and t not in DOCUMENT_WORDS and t not in AUTHOR_WORDS
        ]
        # a date is known only for a document that states one (发布日期)
        asks_time = ASKS_TIME.search(text) and not self.report.date
        return not foreign and not asks_time and not BIOGRAPHY.search(text)

    def _other_place(self, text: str) -> bool:
        """A province, city, district or county the report is not about (北京市, 海淀区)."""
        tokens = self.data.segmenter.cut(text, hmm=False)
        for token, following in zip(tokens, [*tokens[1:], ""], strict=True):
            place = token if token[-1:] in PLACE_SUFFIXES and len(token) >= 3 else ""
            if not place and following[:1] in ("省", "市", "县") and len(token) >= 2:
                place = token + following[0]
            if place and place not in self.data.report_ngrams and self.data.segmenter.freq.get(
                place.rstrip(PLACE_SUFFIXES) or place, 0
            ) > 0:
                return True
        return False
