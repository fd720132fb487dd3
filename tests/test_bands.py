"""Honest bands and focused answers: answer, "probably this" with a hedge and the runner-up,
decline with the nearest passages as questions; the sentence that answers marked."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot import cli
from bot.config import ConfigError, MatchSettings, Settings, load_settings
from bot.content import Kind
from bot.evaluation import (
    Comparison,
    Evaluation,
    Outcome,
    Prediction,
    Question,
    as_dict,
    bot_prediction,
    format_text,
)
from bot.replies import SUGGESTED_TOPIC_CHARS, Block, FaqBot, Reply
from bot.search import Band, Index, SearchResult
from bot.search.sentences import AnswerSentences
from bot.suite import Thresholds, imported_index

ROOT = Path(__file__).resolve().parents[1]
CAIZHENG = ROOT / "tests" / "data" / "reports" / "caizheng-2021.txt"
CALLBACK_LIMIT = 64  # bytes of Telegram callback_data
# A free-text question whose best passage the decline checks accept, and a number question.
CONTENT_QUESTION = "海峡论坛是谁保障的"
NUMBER_QUESTION = "建立了多少个信息联络点"
NUMBER_FIGURE = "36个信息联络点"


def with_thresholds(bot: FaqBot, answer: int, probable: int, suggest: int = 20) -> FaqBot:
    """The same report and index data, matched with other thresholds."""
    match = MatchSettings(answer_threshold=answer, suggest_threshold=suggest,
                          probable_threshold=probable)
    index = Index(bot.report, bot.index.data, answer_threshold=answer,
                  suggest_threshold=suggest, probable_threshold=probable)
    return FaqBot(dataclasses.replace(bot.settings, match=match), index)


def best_score(bot: FaqBot, question: str) -> int:
    return with_thresholds(bot, 100, 0, 0).index.search(question).hits[0].score


def actions(reply: Reply) -> list[str]:
    return [b.action for row in reply.buttons for b in row]


@pytest.fixture(scope="module")
def caizheng_bot(faqbot_cache_dir: Path, settings: Settings) -> FaqBot:
    """A report imported as `faqbot import` drafts it: nothing hand-written."""
    return FaqBot(settings, imported_index(CAIZHENG, faqbot_cache_dir, Thresholds()))


@pytest.fixture(params=["siming", "caizheng"])
def any_bot(request: pytest.FixtureRequest, faq_bot: FaqBot, caizheng_bot: FaqBot) -> FaqBot:
    return faq_bot if request.param == "siming" else caizheng_bot


def is_seed(bot: FaqBot) -> bool:
    return bot.report.id.startswith("siming")


# --- the bands, as data -------------------------------------------------------------


def test_the_band_follows_the_thresholds_at_their_boundaries(faq_bot: FaqBot) -> None:
    score = best_score(faq_bot, CONTENT_QUESTION)
    assert 0 < score < 100
    bands = {
        (score, 0): Band.ANSWER,  # exactly the answer threshold answers
        (score + 1, score): Band.PROBABLE,  # below it, exactly the probable threshold hedges
        (score + 1, score + 1): Band.DECLINE,  # below both declines
    }
    for (answer, probable), band in bands.items():
        result = with_thresholds(faq_bot, answer, probable, suggest=0).index.search(
            CONTENT_QUESTION
        )
        assert (result.band, result.answered) == (band, band != Band.DECLINE), (answer, probable)


def test_a_probable_answer_keeps_its_runner_ups_and_a_decline_only_suggestable_ones(
    faq_bot: FaqBot,
) -> None:
    score = best_score(faq_bot, CONTENT_QUESTION)
    all_hits = with_thresholds(faq_bot, 100, 0, 0).index.search(CONTENT_QUESTION).hits
    probable = with_thresholds(faq_bot, score + 1, score, suggest=99).index.search(
        CONTENT_QUESTION
    )
    assert probable.hits == all_hits
    declined = with_thresholds(faq_bot, 100, 100, suggest=score).index.search(CONTENT_QUESTION)
    assert declined.band == Band.DECLINE
    assert declined.hits == tuple(h for h in all_hits if h.score >= score)


def test_the_decline_checks_hold_in_the_probable_band(faq_bot: FaqBot) -> None:
    """A passage that cannot hold what is asked (a phone number the report never gives)
    is no hedged answer either."""
    result = with_thresholds(faq_bot, 100, 0).index.search("海峡论坛保障的联系电话是多少")
    assert result.hits and result.band == Band.DECLINE


@pytest.mark.parametrize("question", ["第二部分讲了什么", "这篇材料的作者是谁", "报告里有哪些口号"])
def test_what_a_question_names_is_answered_whatever_the_thresholds(
    faq_bot: FaqBot, question: str
) -> None:
    result = with_thresholds(faq_bot, 100, 100).index.search(question)
    assert result.intent is not None and result.band == Band.ANSWER


def test_a_result_band_agrees_with_answered() -> None:
    assert SearchResult("q", (), False).band == Band.DECLINE
    assert SearchResult("q", (), True).band == Band.ANSWER
    with pytest.raises(ValueError, match="probable"):
        SearchResult("q", (), False, band=Band.PROBABLE)
    with pytest.raises(ValueError, match="decline"):
        SearchResult("q", (), True, band=Band.DECLINE)


@pytest.mark.parametrize(
    ("match", "message"),
    [
        ("  probable_threshold: 101\n", "'match.probable_threshold' must be 0 to 100"),
        ("  probable_threshold: 60\n", "probable_threshold <= answer_threshold"),
        ("  probable_threshold: maybe\n", "'match.probable_threshold' must be a whole number"),
    ],
)
def test_the_probable_threshold_is_checked(tmp_path: Path, match: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"match:\n  answer_threshold: 50\n{match}", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(path, environ={})


def test_the_probable_threshold_defaults_below_the_answer_threshold(settings: Settings) -> None:
    assert MatchSettings().probable_threshold == 25
    assert settings.match.suggest_threshold <= settings.match.probable_threshold
    assert settings.match.probable_threshold <= settings.match.answer_threshold


# --- replies for the bands -----------------------------------------------------------


def test_a_probable_answer_is_hedged_and_offers_the_runner_up(
    faq_bot: FaqBot, settings: Settings
) -> None:
    score = best_score(faq_bot, CONTENT_QUESTION)
    bot = with_thresholds(faq_bot, score + 1, score, suggest=0)
    reply = bot.handle(CONTENT_QUESTION)
    best, runner_up = reply.result.hits[:2]
    assert reply.answered and reply.passage_id == best.id
    hedge = Block("note", settings.text("probable"))
    heading = Block("heading", faq_bot.index.passage(best.id).title)
    assert reply.blocks.index(hedge) < reply.blocks.index(heading)
    assert "不太确定" in reply.plain().splitlines()[0]
    assert reply.buttons[0][0].label.startswith("也可能是：")
    assert runner_up.title[:4] in reply.buttons[0][0].label
    assert reply.buttons[0][0].action == f"p:{runner_up.id}"
    assert bot.action(reply.buttons[0][0].action).passage_id == runner_up.id
    assert f"fb:bad:{best.id}" in actions(reply)
    assert settings.text("related") not in reply.plain()  # one choice, not a list


def test_a_sure_answer_has_no_hedge(faq_bot: FaqBot, settings: Settings) -> None:
    reply = faq_bot.handle("以文辅政有什么要求")
    assert reply.result.band == Band.ANSWER
    assert settings.text("probable") not in reply.plain()
    assert not any(a.label.startswith("也可能是") for row in reply.buttons for a in row)


def test_a_probable_answer_without_a_close_second_offers_none(faq_bot: FaqBot) -> None:
    score = best_score(faq_bot, CONTENT_QUESTION)
    bot = with_thresholds(faq_bot, score + 1, score, suggest=score)  # only the best qualifies
    reply = bot.handle(CONTENT_QUESTION)
    assert reply.result.band == Band.PROBABLE
    assert not any(b.label.startswith("也可能是") for row in reply.buttons for b in row)


@pytest.mark.parametrize(
    "questions",
    [(CONTENT_QUESTION, "财政收入怎么样"), ("以文辅政有什么要求", "企业融资难怎么解决"),
     ("办公室作风怎么样", "养老金提高了吗")],
)
def test_a_decline_offers_the_nearest_passages_as_questions_to_tap(
    any_bot: FaqBot, questions: tuple[str, str]
) -> None:
    bot = with_thresholds(any_bot, 100, 100, suggest=1)
    reply = bot.handle(questions[0] if is_seed(any_bot) else questions[1])
    assert not reply.answered and reply.result.band == Band.DECLINE
    offered = [row[0] for row in reply.buttons[:-1]]
    assert 1 <= len(offered) <= 3, "a content question leaves suggestions"
    items = [b.text for b in reply.blocks if b.kind == "item"]
    assert [b.label for b in offered] == items
    for button in offered:
        passage = bot.index.passage(button.action.removeprefix("p:"))
        asked = {q.rstrip("？?") for q in passage.questions} if passage else set()
        if button.label.rstrip("？") in asked:  # the content's own alternate question
            assert is_seed(any_bot) and len(button.label) <= 21, button.label
            continue
        topic = re.fullmatch(r"报告里关于“(.+)”是怎么说的？", button.label)
        assert topic, button.label
        assert not re.match(r"[（(]?[一二三四五六七八九十\d]+[）)、.是]", topic[1]), topic[1]
        assert len(topic[1]) <= SUGGESTED_TOPIC_CHARS  # a label a phone shows whole
        assert button.action.startswith("p:")
        assert len(button.action.encode()) <= CALLBACK_LIMIT
        assert bot.action(button.action).passage_id == button.action.removeprefix("p:")
    assert actions(reply)[-2:] == ["toc", "examples"]


def test_a_decline_names_a_passage_by_the_reports_own_title(faq_bot: FaqBot) -> None:
    bot = with_thresholds(faq_bot, 100, 100, suggest=1)
    original = bot.index.passages["s2.m2"]
    # as on an imported report: no alternate questions to offer
    bot.index.passages["s2.m2"] = dataclasses.replace(original, questions=())
    try:
        reply = bot.handle("以文辅政有什么要求")
    finally:
        bot.index.passages["s2.m2"] = original
    assert reply.buttons[0][0] == (
        type(reply.buttons[0][0])("报告里关于“以文辅政力求更精”是怎么说的？", "p:s2.m2")
    )


def test_a_decline_offers_a_passages_own_alternate_question(faq_bot: FaqBot) -> None:
    bot = with_thresholds(faq_bot, 100, 100, suggest=1)
    reply = bot.handle("会务服务的预算有多少")
    first = reply.buttons[0][0]
    passage = bot.index.passage(first.action.removeprefix("p:"))
    assert first.label.rstrip("？") in {q.rstrip("？?") for q in passage.questions}


def test_a_decline_with_nothing_near_still_offers_a_way_on(faq_bot: FaqBot) -> None:
    reply = faq_bot.handle("明天天气怎么样")
    assert reply.result.band == Band.DECLINE
    assert actions(reply) == ["toc", "examples"]


# --- focused answers -----------------------------------------------------------------


def test_the_answering_sentence_is_bold_in_html_and_bracketed_in_plain(faq_bot: FaqBot) -> None:
    reply = faq_bot.handle(CONTENT_QUESTION)
    passage = faq_bot.index.passage(reply.passage_id)
    start, end = reply.result.answer_span
    sentence = passage.text[start:end]
    assert "海峡论坛" in sentence and sentence != passage.text
    assert f"<b>{sentence}</b>" in reply.html()
    assert passage.text.replace(sentence, f"【{sentence}】") in reply.plain().splitlines()
    assert reply.plain().count("【") == 1


def test_a_number_question_puts_the_answering_sentence_first(any_bot: FaqBot) -> None:
    question = NUMBER_QUESTION if is_seed(any_bot) else "减税降费了多少"
    reply = any_bot.handle(question)
    assert reply.result.asks_number and reply.result.band == Band.ANSWER
    passage = any_bot.index.passage(reply.passage_id)
    start, end = reply.result.answer_span
    first = reply.plain().splitlines()[0]
    assert first == f"【{passage.text[start:end]}】"
    assert re.search(r"\d", first)
    assert reply.html().startswith(f"<b>{passage.text[start:end]}</b>\n")
    assert passage.text in [b.text for b in reply.blocks]  # the passage in full below


def test_the_number_sentence_holds_the_figure(faq_bot: FaqBot) -> None:
    first = faq_bot.handle(NUMBER_QUESTION).plain().splitlines()[0]
    assert NUMBER_FIGURE in first


def test_a_figure_of_the_reports_own_year_is_marked_before_one_of_another(
    caizheng_bot: FaqBot, faqbot_cache_dir: Path
) -> None:
    # 2020年…完成33.6亿元 holds 全区 too, but a 2021 summary's figure is 2021's
    first = caizheng_bot.handle("全区一般公共预算收入完成了多少").plain().splitlines()[0]
    assert "36.8亿元" in first and "33.6亿元" not in first
    # a year measured against (较2017年压缩三分之一) is no other year's figure
    zhengce = imported_index(ROOT / "tests" / "data" / "reports" / "zhengce-2019.txt",
                             faqbot_cache_dir, Thresholds())
    bot = FaqBot(caizheng_bot.settings, zhengce)
    reply = bot.handle("跨境贸易的通关时间要压缩多少")
    assert reply.answered and "三分之一" in reply.plain().splitlines()[0]


@pytest.mark.parametrize(
    "ask",
    [
        lambda bot: bot.handle("/section 2"),
        lambda bot: bot.action("p:s2.m1"),
        lambda bot: bot.handle("第二部分讲了什么"),
        lambda bot: bot.handle("/start s2.m1"),
        lambda bot: bot.handle("以文辅政有什么要求"),  # its title answers: nothing to point at
    ],
    ids=["section-command", "button", "intent", "deep-link", "title-answers"],
)
def test_nothing_is_marked_but_a_free_text_answer(
    faq_bot: FaqBot, ask: Callable[[FaqBot], Reply]
) -> None:
    reply = ask(faq_bot)
    assert "【" not in reply.plain()
    assert all(b.mark is None for b in reply.blocks)


def test_a_passage_of_one_sentence_is_not_marked(faq_bot: FaqBot) -> None:
    finder = AnswerSentences(faq_bot.index.data, faq_bot.index.passages)
    one = next(
        p for p in faq_bot.report.passages
        if p.kind == Kind.MEASURE and [s.span is None for s in finder.sentences(p.id)] == [
            False, True
        ]
    )  # one sentence and its title
    assert finder.answer_span(one.text, one.id) is None
    several = faq_bot.index.passage("s2.m2")
    spans = [s.span for s in finder.sentences("s2.m2") if s.span is not None]
    assert len(spans) > 1
    assert "".join(several.text[a:b] for a, b in spans) == several.text.replace("\n", "")


def test_marked_text_is_escaped_in_html() -> None:
    block = Block("text", "A&B。<b>x</b>说了1<2。后文&。", mark=(4, 18))
    html = Reply((block,)).html()
    assert html == "A&amp;B。<b>&lt;b&gt;x&lt;/b&gt;说了1&lt;2。</b>后文&amp;。"
    assert Reply((block,)).plain() == "A&B。【<b>x</b>说了1<2。】后文&。"


def test_a_passage_holding_markup_is_marked_and_escaped(faq_bot: FaqBot) -> None:
    passages = [
        dataclasses.replace(p, text=p.text.replace(NUMBER_FIGURE, f"<b>{NUMBER_FIGURE}</b>&"))
        for p in faq_bot.report.passages
    ]
    index = Index.build(faq_bot.report, passages=passages, segmenter=faq_bot.index.data.segmenter)
    bot = FaqBot(faq_bot.settings, index)
    reply = bot.handle(NUMBER_QUESTION + "<i>&</i>")
    html = reply.html()
    assert re.match(rf"<b>[^<]*&lt;b&gt;{NUMBER_FIGURE}&lt;/b&gt;&amp;[^<]*</b>\n", html)
    assert re.sub(r"</?[bi]>", "", html).count("<") == 0
    assert re.findall(r"&(?!amp;|lt;|gt;)", html) == []
    assert f"<b>{NUMBER_FIGURE}</b>&" in reply.plain()


def test_a_long_marked_passage_still_fits_telegram_messages(faq_bot: FaqBot) -> None:
    from bot.telegram_app import split_html

    block = Block("text", "前文。" * 1500 + "答案句。" + "后文。" * 1500, mark=(4500, 4504))
    parts = split_html(Reply((block,)).html())
    assert len(parts) >= 3 and all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in parts)
    assert "<b>答案句。</b>" in "".join(parts)


# --- the CLI and the eval ----------------------------------------------------------


def test_ask_json_shows_the_band(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, faq_bot: FaqBot
) -> None:
    score = best_score(faq_bot, CONTENT_QUESTION)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"content: {ROOT / 'content'}\nmatch:\n  answer_threshold: {score + 1}\n"
        f"  probable_threshold: {score}\n",
        encoding="utf-8",
    )
    code = cli.main(["--config", str(config), "ask", "--json", CONTENT_QUESTION,
                     "第二部分讲了什么", "明天天气怎么样"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [(r["band"], r["answered"]) for r in records] == [
        ("probable", True), ("answer", True), ("decline", False)
    ]
    span = records[0]["answer_span"]
    assert "海峡论坛" in faq_bot.index.passage(records[0]["hits"][0]["id"]).text[slice(*span)]


def test_the_eval_counts_a_hedged_answer_and_says_how_many_were_right(faq_bot: FaqBot) -> None:
    score = best_score(faq_bot, CONTENT_QUESTION)
    hedging = with_thresholds(faq_bot, score + 1, score).index
    prediction = bot_prediction(hedging, CONTENT_QUESTION)
    assert prediction.answered and prediction.hedged
    assert not bot_prediction(faq_bot.index, CONTENT_QUESTION).hedged
    questions = [Question(CONTENT_QUESTION, ("s2.m1",), "direct"),
                 Question("q2", ("s1",), "direct"), Question("q3", (), "offtopic")]
    bot = Evaluation("bot", (
        Outcome(questions[0], prediction),
        Outcome(questions[1], Prediction(("s2",), 30, True, hedged=True)),
        Outcome(questions[2], Prediction(("s1",), 90, True)),
    ))
    assert bot.overall.correct == 1 and bot.hedged() == (2, 1)
    comparison = Comparison("set", bot, bot)
    line = next(x for x in format_text(comparison).splitlines() if x.startswith("hedged"))
    assert line.endswith(": 2, of which right 1")
    assert as_dict(comparison)["bot"]["hedged"] == {"answered": 2, "right": 1}
