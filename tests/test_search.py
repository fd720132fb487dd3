"""The matcher: typos, scripts, numerals, intents, honest declines, the index cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.content import Kind
from bot.replies import FaqBot
from bot.search import Index, calibrated
from bot.search.intents import (
    Intent,
    LostMeasure,
    NotInReport,
    SloganList,
    TableOfContents,
)
from bot.suite import Thresholds, imported_index


@pytest.fixture(scope="module")
def index(faq_bot: FaqBot) -> Index:
    return faq_bot.index


@pytest.mark.parametrize(
    ("question", "typed", "meant", "passage"),
    [
        ("海峡论谈期间政府办做了什么", "海峡论谈", "海峡论坛", "s2.m1"),
        ("应急协条机制是怎么建立的", "应急协条机制", "应急协调机制", "s2.m1"),
        ("雷厉风型抓落实", "雷厉风型", "雷厉风行", "s1.m3"),
        ("思明区政腐的精神是什么", "政腐", "政府", "s1"),
    ],
)
def test_input_method_typos_find_the_passage_and_say_what_was_meant(
    index: Index, question: str, typed: str, meant: str, passage: str
) -> None:
    result = index.search(question)
    assert result.answered
    assert (typed, meant) in result.corrections
    assert result.hits[0].id == passage


@pytest.mark.parametrize(
    "question",
    ["办公室在政治和纪律上有什么要求", "股票明天会涨吗", "今晚湖人打谁", "快动和是什么意思"],
)
def test_real_words_are_not_corrected(index: Index, question: str) -> None:
    """办公室在 is not 办公实在, 会涨 not 会展, 湖人打 not 人大, 意思 not 意识."""
    assert index.search(question).corrections == ()


@pytest.mark.parametrize(
    ("question", "passage"),
    [
        ("綜合協調是怎麼做的", "s2.m1"),
        ("二〇一二年以来政府工作报告写了多少字", "s2.m2"),
        ("两千零一十二年以来报告的篇幅", "s2.m2"),
        ("九八投洽会的服务保障", "s2.m1"),
        ("全区建了三十六个信息联络点吗", "s2.m2"),
        ("第2部分讲了什么", "s2"),
        ("第二部分讲了什么", "s2"),
        ("第二部分的第三条", "s2.m3"),
        ("第一部分最后一点", "s1.m4"),
        ("作者是谁", "author"),
    ],
)
def test_script_numerals_and_references_find_the_passage(
    index: Index, question: str, passage: str
) -> None:
    result = index.search(question)
    assert result.answered and result.hits[0].id == passage


def test_lost_measures_are_answered_as_missing(index: Index) -> None:
    """The matcher returns which measure is lost, as data; the words are the replies'."""
    result = index.search("第三部分第一点是什么")
    hit = result.hits[0]
    assert (hit.id, hit.kind, hit.score, result.answered) == ("s3.m1", Kind.LOST_MEASURE, 100, True)
    assert result.intent == LostMeasure(index.report.sections[2], 1)
    assert (hit.title, hit.text, hit.path) == ("", "", "")


@pytest.mark.parametrize(("question", "intent"), [
    ("第二部分第五点", NotInReport(2, 5)), ("第九部分", NotInReport(9)),
    ("报告里有哪些口号", SloganList()), ("这份材料一共分几个部分", TableOfContents()),
])
def test_named_things_come_back_as_typed_intents(
    index: Index, question: str, intent: Intent
) -> None:
    result = index.search(question)
    assert result.intent == intent
    assert all(not (h.title or h.text or h.path) for h in result.hits)


@pytest.mark.parametrize("question", [
    "第三部分第一点是什么", "报告里有哪些口号", "这份材料一共分几个部分", "第九部分",
    "第二部分第五点",
    "海峡论坛是谁保障的", "作者是谁", "政府办怎么提高工作效率",
])
def test_hit_kinds_are_kinds_and_plain_strings_in_json(index: Index, question: str) -> None:
    hits = index.search(question).hits
    assert hits and all(isinstance(h.kind, Kind) for h in hits)
    assert all(type(h.as_dict()["kind"]) is str for h in hits)
    assert all(isinstance(p.kind, Kind) for p in index.passages.values())


def test_slogan_list_and_table_of_contents_are_intents(index: Index) -> None:
    assert index.search("报告里有哪些口号").hits[0].kind == "slogans"
    assert index.search("这份材料一共分几个部分").hits[0].kind == "sections"


@pytest.mark.parametrize(
    "question",
    [
        "今天天气怎么样", "asdfgh", "😀😀", "How do I cook rice?", "北京市政府工作报告说了什么",
        "第四部分讲了什么", "思明区政府办有多少工作人员", "政府办的电话号码是多少",
        "尤小波哪年出生", "跨部门写作团队有几个人", "出租车司机为什么罢运", "五大战役具体是哪五个",
    ],
)
def test_what_the_report_cannot_answer_is_declined(index: Index, question: str) -> None:
    assert not index.search(question).answered


def test_declines_about_the_report_offer_the_nearest_passages(index: Index) -> None:
    result = index.search("跨部门写作团队有几个人")
    assert not result.answered
    assert result.hits and result.hits[0].id == "s1.m4"


def test_question_words_do_not_drive_the_match(index: Index) -> None:
    """The same question with and without filler ranks the same passage first."""
    plain = index.search("信息联络点").hits[0].id
    for filler in ("请问信息联络点是什么呢", "我想知道信息联络点怎么样", "信息联络点有哪些吗"):
        assert index.search(filler).hits[0].id == plain


def test_scores_are_0_to_100_and_ranked(index: Index) -> None:
    hits = index.search("政府办怎么提高工作效率", k=5).hits
    assert hits and all(0 <= h.score <= 100 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize(("raw", "low", "high"), [(0.0, 0, 0), (0.4, 50, 50), (1.0, 100, 100)])
def test_calibration_is_monotone_with_fixed_anchors(raw: float, low: int, high: int) -> None:
    assert low <= calibrated(raw) <= high
    steps = [calibrated(x / 100) for x in range(101)]
    assert steps == sorted(steps)


def test_index_cache_is_reused_and_invalidated_by_content_changes(
    tmp_path: Path, project_root: Path
) -> None:
    content = tmp_path / "content"
    shutil.copytree(project_root / "content", content)
    cache = tmp_path / "cache"
    first = Index.load(content, cache)
    cached = sorted(cache.glob("index-*.json"))
    assert len(cached) == 1
    written = cached[0].stat().st_ino  # a rebuild writes a new file
    again = Index.load(content, cache)
    assert again.search("海峡论坛").hits[0].id == first.search("海峡论坛").hits[0].id
    assert sorted(cache.glob("index-*.json")) == cached  # nothing rebuilt
    assert cached[0].stat().st_ino == written
    report = content / "siming-report.yaml"
    report.write_text(report.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    Index.load(content, cache)
    rebuilt = sorted(cache.glob("index-*.json"))
    # a new index beside the old one, which is kept while recently used (bot/cache.py)
    assert len(rebuilt) == 2 and cached[0] in rebuilt


PROXIMITY_REPORT = """县农业局2022年工作总结

一、抓好粮食生产

（一）稳定种粮面积。全县粮食播种面积稳定在50万亩，省级示范片带动明显，县里新建指挥部统筹春耕。

（二）完善应急机制。省级粮食应急指挥部接到通知后，立即组织人员落实各项措施。

二、推进乡村建设

（一）改善人居环境。完成农村改厕1200户。
"""


def test_words_standing_together_in_a_passage_rank_it_first(
    tmp_path: Path, faqbot_cache_dir: Path
) -> None:
    """Both measures use 省级 and 指挥部; the one where they stand together (省级粮食应急
    指挥部) says what is asked."""
    raw = tmp_path / "nongye-2022.txt"
    raw.write_text(PROXIMITY_REPORT, encoding="utf-8")
    index = imported_index(raw, faqbot_cache_dir, Thresholds())
    hits = index.search("省级指挥部做什么", k=2).hits
    together = next(p.id for p in index.report.passages if "应急指挥部" in p.text)
    apart = next(p.id for p in index.report.passages if "新建指挥部" in p.text)
    assert [h.id for h in hits] == [together, apart]
    assert hits[0].score > hits[1].score
