"""Declines read the report: each answer-type rule on a small synthetic report.

An amount is recognised as a report writes it; a topic, a year or a place is in scope when
the report's own text names it, and declined when it does not (issue 9).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.replies import FaqBot
from bot.search import Index
from bot.search.declines import AnswerCheck, _holds_amount, _holds_time
from bot.search.results import passage_hit
from bot.suite import Thresholds, imported_index
from bot.textnorm import normalize

# A district finance bureau's summary, imported as `faqbot import` drafts it.
FINANCE_REPORT = """稳中求进抓收入 改革创新强保障

（作者系云川市东湖区财政局局长王芳）

2021年，东湖区财政局认真落实积极的财政政策，较好完成了全年各项目标任务。

一、聚焦收入质量，财政实力稳步增强

（一）收入规模再上台阶。全年完成一般公共预算收入36.8亿元，同比增长9.6%。其中税收收入30.7亿元，占一般公共预算收入的比重达83.4%。

（二）厉行节约。全区“三公”经费同比下降12.5%，压减一般性支出三成。

二、深化财政改革，管理效能持续提升

（一）全面实施预算绩效管理。对评价结果为差的项目，一律压减下年度预算50%以上。

（二）持续优化财政服务。合同备案平均办理时间压缩至0.8个工作日。全年办结12345热线投诉318件，满意率97.2%。

（三）稳妥化解隐性债务。全年化解隐性债务存量5.2亿元，新建学校3所，新增学位1.5万个。

2022年，区财政局将坚持稳字当头，持续深化预算管理制度改革。
"""


@pytest.fixture(scope="module")
def finance(tmp_path_factory: pytest.TempPathFactory, faqbot_cache_dir: Path) -> Index:
    raw = tmp_path_factory.mktemp("declines") / "finance-2021.txt"
    raw.write_text(FINANCE_REPORT, encoding="utf-8")
    return imported_index(raw, faqbot_cache_dir, Thresholds())


def answers(index: Index, question: str, passage_id: str) -> bool:
    """Whether the checks let the passage answer the question (ranking aside)."""
    check = AnswerCheck(index.report, index.data, index.passages)
    return check.answers(normalize(question), passage_hit(index.passages[passage_id], 100))


@pytest.mark.parametrize(
    ("question", "passage_id"),
    [
        ("2021年全区一般公共预算收入完成了多少？", "s1.m1"),
        ("税收收入占一般公共预算收入的比重是多少？", "s1.m1"),
        ("“三公”经费同比下降了多少？", "s1.m2"),
        ("隱性債務一年化解了多少？", "s2.m3"),
        ("合同备案平均要多久？", "s2.m2"),
        ("热线投诉全年办结了多少件？", "s2.m2"),
        ("新增了多少个学位？", "s2.m3"),
        ("一般性支出压减了多少？", "s1.m2"),
    ],
)
def test_an_amount_question_is_answered_by_the_sentence_holding_the_amount(
    finance: Index, question: str, passage_id: str
) -> None:
    assert answers(finance, question, passage_id)


@pytest.fixture(scope="module")
def caizheng(faqbot_cache_dir: Path) -> Index:
    raw = Path(__file__).parent / "data" / "reports" / "caizheng-2021.txt"
    return imported_index(raw, faqbot_cache_dir, Thresholds())


@pytest.mark.parametrize(
    ("question", "passage_id", "answered"),
    [
        ("局机关获得了什么荣誉？", "s5", True),  # 局机关被评为全市财政系统先进集体
        ("局机关评上了什么称号", "s5", True),
        ("局机关评上了什么称号", "s1.m1", False),
        ("预算收入评上了什么荣誉", "s1.m1", False),
    ],
)
def test_an_honour_needs_a_sentence_telling_of_one(
    caizheng: Index, question: str, passage_id: str, answered: bool
) -> None:
    assert answers(caizheng, question, passage_id) is answered


def test_an_honour_of_the_seed_passage_on_its_topic_is_declined(faq_bot: FaqBot) -> None:
    """督查问效 tells of 文明创建 but of no honour won for it."""
    assert answers(faq_bot.index, "文明创建评上了什么荣誉称号", "s2.m3") is False
    assert answers(faq_bot.index, "文明创建是怎么督查的", "s2.m3") is True


@pytest.mark.parametrize(
    ("question", "sentence", "holds"),
    [
        ("是哪一年开始的", "2012年以来持续推进", True),
        ("从什么时候开始实施", "本预案自印发之日起实施", True),
        ("什么时候完成", "9月30日前完成清理", True),
        ("多久能办完", "压缩至3个工作日以内", True),
        ("多久开一次会", "每季度召开一次", True),
        ("是哪天举办的", "圆满完成海峡论坛、9·8投洽会等重大活动", False),
        ("什么时候印发的", "国发〔2018〕42号", False),
        ("多久开一次会", "抓好会前准备、会中服务、会后落实3大环节", False),
    ],
)
def test_dates_and_durations_are_recognised_as_written(
    question: str, sentence: str, holds: bool
) -> None:
    assert _holds_time(normalize(question), sentence) is holds


@pytest.mark.parametrize(
    ("question", "sentence", "holds"),
    [
        ("收入完成了多少", "全区一般公共预算收入完成3.6亿元，同比下降2.3%", True),
        ("比重是多少", "占一般公共预算收入的比重达42%", True),
        ("满意率是多少", "满意率97.2%", True),
        ("办理时间压缩了多少", "办理时间压缩至0.8个工作日", True),
        ("办结了多少件", "全年办结投诉318件", True),
        ("新增多少学位", "新增学位1.5万个", True),
        ("支出压减了多少", "压减一般性支出三成", True),
        ("通关时间压缩多少", "整体通关时间分别压缩三分之一", True),
        ("覆盖了多少", "覆盖一半以上的乡镇", True),
        ("增长了多少", "税收增长两倍", True),
        ("应急状态分几个等级", "应急状态分为国家级和省级两级", True),
        ("奖励多少钱", "给予分阶段奖励", False),
        ("有多少工作人员", "全区一般公共预算收入完成3.6亿元", False),
        ("建了几个机制", "建立一个监测机制", False),
        ("财政收入是多少", "2021年以来财政收入稳步增长", False),
    ],
)
def test_amounts_are_recognised_as_written_and_of_the_kind_asked(
    question: str, sentence: str, holds: bool
) -> None:
    assert _holds_amount(normalize(question), sentence) is holds


@pytest.mark.parametrize(
    ("question", "passage_id"),
    [
        ("预算绩效评价为差的项目怎么处理", "s2.m1"),
        ("“三公”经费压减得怎么样", "s1.m2"),
        ("市民打热线投诉，财政局办得怎么样", "s2.m2"),
        ("东湖区的预算绩效管理怎么做", "s2.m1"),
        ("云川市东湖区的隐性债务化解得怎么样", "s2.m3"),
    ],
)
def test_a_topic_or_place_the_report_names_is_in_scope(
    finance: Index, question: str, passage_id: str
) -> None:
    assert answers(finance, question, passage_id)


@pytest.mark.parametrize(
    ("question", "passage_id"),
    [
        ("财政局的联系电话是多少", "s2.m2"),
        ("东湖区财政局在哪里办公", "s2.m2"),
        ("财政局的官网网址是什么", "s2.m2"),
        ("财政局招聘的报考条件是什么", "s2.m2"),
        ("12345热线的电话号码是多少", "s2.m2"),  # a hotline told of is no number given
        ("这份总结的原文在哪里能看到", "s1.m1"),  # where to get the document
        ("财政局网站上能下载全文吗", "s1.m1"),
    ],
)
def test_a_topic_the_report_does_not_hold_is_declined(
    finance: Index, question: str, passage_id: str
) -> None:
    assert not answers(finance, question, passage_id)


@pytest.mark.parametrize(
    ("question", "passage_id"),
    [
        ("2018年全区财政工作有哪些亮点", "s1.m1"),
        ("2019年一般公共预算收入完成了多少", "s1.m1"),
        ("湖里区的预算绩效管理怎么做", "s2.m1"),
        ("云川市滨海区的隐性债务化解得怎么样", "s2.m3"),
        ("北京市的热线投诉办得怎么样", "s2.m2"),
        ("其他区县的隐性债务化解得怎么样", "s2.m3"),  # the report's own district only
        ("别的城市三公经费压减了多少", "s1.m2"),
    ],
)
def test_a_year_or_place_the_report_does_not_name_is_declined(
    finance: Index, question: str, passage_id: str
) -> None:
    assert not answers(finance, question, passage_id)


def test_a_year_the_report_names_only_elsewhere_is_not_this_passages_answer(
    finance: Index,
) -> None:
    # 2022 is named only by the plans: 2021's figures are no answer for it ...
    assert not answers(finance, "2022年一般公共预算收入的目标是多少", "s1.m1")
    # ... while 2021 is the report's own year: any passage may answer for it
    assert answers(finance, "2021年税收收入占比多少", "s1.m1")
    assert answers(finance, "2021年隐性债务化解了多少", "s2.m3")


@pytest.mark.parametrize(
    "question",
    [
        "你觉得预算绩效管理做得好不好",
        "在你看来三公经费还能再压减吗",
        "你怎么评价东湖区的隐性债务化解",
    ],
)
def test_the_bots_own_opinion_is_declined_on_a_passage_on_the_topic(
    finance: Index, question: str
) -> None:
    assert not answers(finance, question, "s2.m1" if "绩效" in question else "s1.m2")


def test_a_post_holder_is_answered_only_for_posts_the_report_names(finance: Index) -> None:
    # the report never names a 区长 or a 组长: who holds them is none of its answers
    assert not answers(finance, "东湖区区长是谁", "s1.m1")
    assert not answers(finance, "谁是预算绩效管理领导小组组长", "s2.m1")
    # 局长 is the byline's post; 是谁写的 asks for the author, not a post
    assert answers(finance, "东湖区财政局局长是谁", "author")
    assert answers(finance, "这份总结是谁写的", "author")
