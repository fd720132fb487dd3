"""Long, chatty questions: the part that asks is matched, the asker's context is not (issue 9)."""

from __future__ import annotations

import pytest

from bot.replies import FaqBot
from bot.search import Index
from bot.search.asked import LONG_QUESTION_CHARS, asked_part
from bot.textnorm import normalize


@pytest.fixture(scope="module")
def index(faq_bot: FaqBot) -> Index:
    return faq_bot.index


# (a long question, a clause it asks with, words of its context that must go)
CHATTY = [
    (
        "我是某大学公共管理专业的研究生，最近在写一篇关于基层治理的毕业论文，导师让我多找些案例，"
        "想问问思明区政府办的督查工作是怎么做的？",
        "督查工作是怎么做的",
        ("研究生", "毕业论文", "导师"),
    ),
    (
        "我在外地一家企业做行政，前段时间去厦门出差，听同事说思明区的政务信息报送做得很好，"
        "请问他们具体采取了什么办法？",
        "采取了什么办法",
        ("外地", "出差"),
    ),
    (
        "本人刚参加工作不久，平时经常加班到很晚，家里人也不太理解，"
        "想知道思明区政府办是怎么关心干部成长的？",
        "关心干部成长",
        ("加班", "家里人"),
    ),
    (
        "我在区里一个街道办工作，刚调到综合科不久，领导让我先弄清楚思明区政府办的政务信息"
        "是怎么报送的？",
        "政务信息是怎么报送的",
        ("街道办", "综合科", "领导", "弄清楚"),
    ),
]


@pytest.mark.parametrize(("question", "asked", "context"), CHATTY)
def test_a_long_question_keeps_what_it_asks(
    index: Index, question: str, asked: str, context: tuple[str, ...]
) -> None:
    text = normalize(question)
    assert len(text.replace(" ", "")) > LONG_QUESTION_CHARS
    kept = asked_part(index.data, text)
    assert asked in kept
    assert not [word for word in context if word in kept]


@pytest.mark.parametrize(
    "question",
    [
        "我是思明区的干部，督查工作是怎么做的？",  # short: one thought, kept whole
        "思明区政务信息报送在全省排第几",
        "我是新来的 最近在学 想问问信息报送",  # few characters, though three clauses
    ],
)
def test_a_short_question_is_left_whole(index: Index, question: str) -> None:
    text = normalize(question)
    assert asked_part(index.data, text) == text


@pytest.mark.parametrize(
    ("question", "passage"),
    [(CHATTY[0][0], "s2.m3"), (CHATTY[1][0], "s2.m2"), (CHATTY[2][0], "s3.m4"),
     (CHATTY[3][0], "s2.m2")],
)
def test_a_chatty_question_is_answered_by_what_it_asks(
    index: Index, question: str, passage: str
) -> None:
    """The context lowers nothing: the long question is answered, with the passage on
    what it asks (督查, 信息报送, ...)."""
    result = index.search(question)
    assert result.answered
    assert result.hits[0].id == passage


@pytest.mark.parametrize(
    "question",
    [
        # the place and the year asked about are in the clause that asks: still declined
        "我是一名退休教师，平时喜欢关注政务新闻，最近看到不少地方在搞效能建设，"
        "想问问北京市朝阳区政府办的督查工作是怎么做的？",
        "我是一名退休教师，平时喜欢关注政务新闻，最近看到不少地方在搞效能建设，"
        "想问问思明区政府办1998年的督查工作是怎么做的？",
    ],
)
def test_a_chatty_question_about_another_place_or_year_is_declined(
    index: Index, question: str
) -> None:
    assert not index.search(question).answered
