"""Intents read the report: sections by name or number, measures in each numbering style,
and metadata questions, on small synthetic reports imported as `faqbot import` drafts them.

Nothing specific to one report lives in the matcher (issue 9): the author's name, the
section titles, the title, issuer, date and number all come from the report's content.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.replies import FaqBot
from bot.search import Index
from bot.search.intents import AskedMeasure, AskedSection
from bot.suite import Thresholds, imported_index

# A bureau chief's summary: 一、 sections, （一） measures numbered in each section. Its
# opening names every section, as real reports do, so ranking alone finds the opening.
SUMMARY_REPORT = """稳中求进抓收入 改革创新强保障

（作者系云川市西湖区财政局局长李明远）

2021年，西湖区财政局认真落实积极的财政政策，围绕收入质量、财政改革和自身建设三个方面抓落实，较好完成了全年各项目标任务。

一、聚焦收入质量，财政实力稳步增强

（一）收入规模再上台阶。全年完成一般公共预算收入36.8亿元，同比增长9.6%。

（二）财源建设扎实推进。新引进重点企业42家，新增税收2.1亿元。

（三）助企纾困精准有力。落实减税降费政策，为市场主体减负5.6亿元。

二、深化财政改革，管理效能持续提升

（一）全面实施预算绩效管理。对评价结果为差的项目，一律压减下年度预算50%以上。

（二）持续优化财政服务。合同备案平均办理时间压缩至0.8个工作日。

（三）加强国有资产管理。完成行政事业单位资产清查，盘活闲置房产23处。

三、加强自身建设，干部队伍担当作为

（一）强化理论武装。全年开展集中学习24次。

（二）严明纪律规矩。开展廉政谈话86人次。

2022年，区财政局将坚持稳字当头，持续深化预算管理制度改革。
"""

# An office's work plan: 第一部分 sections, measures numbered 1. to 6. straight through.
PLAN_REPORT = """临江市2020年优化营商环境工作要点

（2020年4月8日）

临江市人民政府办公厅

为持续优化营商环境，激发市场主体活力，结合我市实际，从总体要求、重点任务和保障措施三个方面制定本工作要点。

第一部分　总体要求

坚持以市场主体需求为导向，对标先进城市，努力打造审批最少、流程最优的营商环境。

第二部分　重点任务

1.深化商事制度改革。企业开办时间压缩至2个工作日以内，全面推行电子营业执照。

2.优化不动产登记服务。一般登记办理时间压缩至5个工作日以内。

3.提升纳税便利化水平。纳税人年度纳税时间压缩至120小时以内。

4.缓解融资难融资贵问题。扩大政府性融资担保覆盖面，降低担保费率。

第三部分　保障措施

5.加强组织领导。成立市优化营商环境工作领导小组，统筹推进各项工作。

6.强化督查考核。将优化营商环境工作纳入年度绩效考核。
"""

# A national contingency plan: clauses numbered 1 总则, 1.1, 1.2 ... with a document number
# and a letter-spaced title set over two lines.
PLAN_WITH_CLAUSES = """国务院办公厅关于印发
国 家 蔬 菜 应 急 预 案 的 函
国办函〔2006〕12号
各省、自治区、直辖市人民政府，国务院各部委、各直属机构：
《国家蔬菜应急预案》已经国务院同意，现印发给你们，请认真实施。
国务院办公厅
二〇〇六年三月二日
国家蔬菜应急预案
1　总则
1.1　编制目的
为了有效监测和控制蔬菜市场异常波动，确保蔬菜市场供应，制定本预案。
1.2　适用范围
本预案适用于全国范围内蔬菜市场出现的异常波动。
2　组织机构
2.1　应急指挥部
国家蔬菜应急指挥部负责领导、组织和协调全国蔬菜应急工作。
2.2　地方应急机构
地方各级人民政府设立相应的蔬菜应急指挥机构。
3　应急响应
3.1　市场监测
农业部门负责蔬菜市场的日常监测，及时掌握市场动态。
3.2　应急终止
蔬菜市场恢复正常后，应急指挥部宣布终止应急响应。
3.3　储备动用
动用储备蔬菜须经应急指挥部批准，按规定程序投放市场。
"""


def _imported(folder: Path, name: str, text: str, cache: Path) -> Index:
    raw = folder / f"{name}.txt"
    raw.write_text(text, encoding="utf-8")
    return imported_index(raw, cache, Thresholds())


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, faqbot_cache_dir: Path) -> dict[str, Index]:
    folder = tmp_path_factory.mktemp("intents")
    return {
        name: _imported(folder, name, text, faqbot_cache_dir)
        for name, text in (
            ("summary", SUMMARY_REPORT), ("plan", PLAN_REPORT), ("clauses", PLAN_WITH_CLAUSES)
        )
    }


def test_the_synthetic_reports_import_in_their_numbering_styles(
    reports: dict[str, Index],
) -> None:
    summary, plan, clauses = reports["summary"].report, reports["plan"].report, reports[
        "clauses"
    ].report
    assert summary.author == "李明远"
    assert [[m.number for m in s.measures] for s in summary.sections] == [
        [1, 2, 3], [1, 2, 3], [1, 2]
    ]
    assert [[m.number for m in s.measures] for s in plan.sections] == [[], [1, 2, 3, 4], [5, 6]]
    assert plan.issuer == "临江市人民政府办公厅" and plan.date == "2020年4月8日"
    assert clauses.doc_number == "国办函〔2006〕12号"
    assert [len(s.measures) for s in clauses.sections] == [2, 2, 3]


@pytest.mark.parametrize(
    ("report", "question", "expected"),
    [
        # a section by the words of its title, referred to as a part or summed up
        ("summary", "讲讲收入质量那一块", "s1"),
        ("summary", "概括一下财政改革", "s2"),
        ("summary", "自身建设那一大块讲了什么", "s3"),
        ("plan", "说说保障措施这部分", "s3"),
        # a section by number with words of summing up the report happens to use (工作要点)
        ("plan", "第三部分的要点是什么", "s3"),
        # a measure by section and number, as each numbering style writes it
        ("summary", "第二部分第（二）点讲什么", "s2.m2"),
        ("summary", "财政改革部分的三是", "s2.m3"),
        # measures numbered straight through: 第六条 is the sixth overall, 第三部分第二条
        # the second of the third part
        ("plan", "第6条讲的是什么内容", "s3.m6"),
        ("plan", "第三条讲什么", "s2.m3"),
        ("plan", "第三部分第二条说了啥", "s3.m6"),
        ("plan", "第三部分第一点", "s3.m5"),
        # clauses numbered by section: 2.2, 第三章第一节
        ("clauses", "第2.2条讲的是什么", "s2.m2"),
        ("clauses", "3.3那一条是什么内容", "s3.m3"),
        ("clauses", "第三章第一节讲什么", "s3.m1"),
    ],
)
def test_a_section_or_measure_named_in_any_numbering_style_is_answered(
    reports: dict[str, Index], report: str, question: str, expected: str
) -> None:
    """Recognised as named (the passage itself, certain), not left to a ranked guess."""
    result = reports[report].search(question)
    assert result.answered, question
    assert isinstance(result.intent, (AskedSection, AskedMeasure)), result.intent
    assert result.hits[0].id == expected


@pytest.mark.parametrize(
    ("report", "question"),
    [
        ("summary", "文章的标题叫什么"),
        ("plan", "这份营商环境工作要点是哪个单位发布的？"),
        ("plan", "文件是哪天印发的？"),
        ("plan", "這份文件是誰發的？什麼時候發的？"),
        ("clauses", "国家蔬菜应急预案是什么时候印发的"),
        ("clauses", "《国家蔬菜应急预案》是哪个部门印发的？"),
        ("clauses", "这个文件的文号是多少？"),
    ],
)
def test_a_metadata_question_is_answered_from_the_reports_own_metadata(
    reports: dict[str, Index], report: str, question: str
) -> None:
    result = reports[report].search(question)
    assert result.answered, question
    assert result.hits[0].id == "author"


@pytest.mark.parametrize(
    ("report", "question"),
    [
        ("summary", "李明远以前在哪里工作"),  # the byline tells no biography
        ("plan", "应急指挥部是哪个单位"),  # a topic the plan never names
    ],
)
def test_a_question_beyond_the_metadata_is_not_answered_by_it(
    reports: dict[str, Index], report: str, question: str
) -> None:
    """Guards: metadata cues with a topic the metadata does not hold."""
    result = reports[report].search(question)
    assert not (result.answered and result.hits[0].id == "author"), question


@pytest.mark.parametrize(
    ("report", "question"),
    [
        ("plan", "今年新增了3项措施吗"),  # a count, not 第三条
        ("clauses", "预案一共有22条吗"),  # a count, not clause 2.2
    ],
)
def test_a_number_with_a_unit_is_no_measure_reference(
    reports: dict[str, Index], report: str, question: str
) -> None:
    assert not isinstance(reports[report].search(question).intent, AskedMeasure)


def test_another_reports_author_is_not_this_reports_author(reports: dict[str, Index]) -> None:
    """The seed report's author named to a report by someone else is no author question."""
    result = reports["summary"].search("尤小波是谁")
    assert not (result.answered and result.hits[0].id == "author")


@pytest.mark.parametrize(
    ("report", "question", "shown"),
    [
        ("summary", "文章的标题叫什么", "标题：《稳中求进抓收入 改革创新强保障》"),
        ("plan", "文件是哪天印发的？", "2020年4月8日"),
        ("clauses", "这个文件的文号是多少？", "文号：国办函〔2006〕12号"),
        ("clauses", "文件的标题是什么", "《国务院办公厅关于印发国家蔬菜应急预案的函》"),
    ],
)
def test_the_metadata_reply_states_what_was_asked(
    reports: dict[str, Index], settings: Settings, report: str, question: str, shown: str
) -> None:
    bot = FaqBot(settings, reports[report])
    assert shown in bot.ask(question).plain()


@pytest.mark.parametrize(
    ("report", "question", "expected"),
    [
        ("summary", "第一部分第二条", "s1.m2"),
        ("summary", "第二部分第3点说了啥", "s2.m3"),
        ("summary", "作者是谁", "author"),
        ("summary", "李明远是谁", "author"),
        ("plan", "第二部分第二条", "s2.m2"),
        ("summary", "第三部分的主要意思", "s3"),
        ("plan", "第二部分的主要内容是什么", "s2"),
    ],
)
def test_what_was_answered_before_still_is(
    reports: dict[str, Index], report: str, question: str, expected: str
) -> None:
    """Guards: measures numbered within each section, and author questions."""
    result = reports[report].search(question)
    assert result.answered, question
    assert result.hits[0].id == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("讲讲思想提标那一块", "s1"),
        ("概括一下业务提速", "s2"),  # the opening names every section: ranking found it
        ("作风提效那一大块讲了什么", "s3"),
    ],
)
def test_the_seed_reports_sections_are_named_by_their_titles(
    faq_bot: FaqBot, question: str, expected: str
) -> None:
    result = faq_bot.index.search(question)
    assert result.answered and isinstance(result.intent, AskedSection)
    assert result.hits[0].id == expected
