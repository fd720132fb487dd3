"""Small talk: recognised in general Chinese without stealing questions, answered in the
bot's voice with example questions from the report to tap."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from bot.config import Settings
from bot.evaluation import load_questions
from bot.replies import FaqBot, rendering_problems
from bot.smalltalk import Recognised, SmallTalk, recognise
from bot.store import SqliteStore
from bot.suite import Thresholds, imported_index

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


@pytest.mark.parametrize(("text", "kind"), [
    ("你好", SmallTalk.GREETING), ("您好！", SmallTalk.GREETING), ("Hello", SmallTalk.GREETING),
    ("晚上好呀", SmallTalk.GREETING), ("在吗？", SmallTalk.GREETING), ("嗨", SmallTalk.GREETING),
    ("谢谢", SmallTalk.THANKS), ("多谢！", SmallTalk.THANKS), ("好的，谢谢您", SmallTalk.THANKS),
    ("thanks", SmallTalk.THANKS), ("辛苦了", SmallTalk.THANKS),
    ("谢谢，很有帮助", SmallTalk.THANKS),  # thanks before praise
    ("再见", SmallTalk.GOODBYE), ("拜拜～", SmallTalk.GOODBYE), ("回头见", SmallTalk.GOODBYE),
    ("谢谢你的帮助，再见", SmallTalk.GOODBYE),  # leaving: goodbye before thanks
    ("你是谁", SmallTalk.IDENTITY), ("你是机器人吗？", SmallTalk.IDENTITY),
    ("你叫什么名字", SmallTalk.IDENTITY), ("介绍一下你自己", SmallTalk.IDENTITY),
    ("你能做什么", SmallTalk.ABILITIES), ("怎么用", SmallTalk.ABILITIES),
    ("你都能回答哪些问题", SmallTalk.ABILITIES), ("你有什么功能", SmallTalk.ABILITIES),
    ("真厉害", SmallTalk.PRAISE), ("你太棒了！", SmallTalk.PRAISE), ("👍", SmallTalk.PRAISE),
    ("答非所问", SmallTalk.COMPLAINT), ("没用", SmallTalk.COMPLAINT),
    ("回答不对", SmallTalk.COMPLAINT), ("看不懂", SmallTalk.COMPLAINT),
    ("你真笨", SmallTalk.INSULT), ("垃圾", SmallTalk.INSULT), ("笨蛋机器人", SmallTalk.INSULT),
    ("你个蠢货", SmallTalk.INSULT),  # the longest phrase: 蠢货, not 蠢 and a stray 货
])
def test_small_talk_is_recognised_by_kind(text: str, kind: SmallTalk) -> None:
    recognised = recognise(text)
    assert recognised is not None and recognised.kind == kind


@pytest.mark.parametrize("question", [
    "政府办感谢了谁", "感谢了哪些单位", "再见到检查组的时候要注意什么", "垃圾分类是怎么做的",
    "没用完的经费怎么办", "你们政府办能做什么", "厉害的人有哪些", "谁是作者", "这份材料讲了什么",
    "你好吗政府办",
])
def test_questions_that_look_like_small_talk_are_questions(question: str) -> None:
    recognised = recognise(question)
    assert recognised is None or recognised.kind is None


@pytest.fixture(scope="module")
def caizheng(settings: Settings, faqbot_cache_dir: Path) -> FaqBot:
    """A report imported as `faqbot import` drafts it."""
    index = imported_index(DATA / "reports" / "caizheng-2021.txt", faqbot_cache_dir,
                           Thresholds())
    return FaqBot(dataclasses.replace(settings, content=Path(index.report.file)), index)


@pytest.mark.parametrize("name", ["questions.yaml", "heldout.yaml", "heldout2.yaml",
                                  "blind-dev/siming.yaml", "blind-dev/caizheng.yaml"])
def test_no_answerable_question_of_the_sets_is_taken_for_small_talk(
    name: str, faq_bot: FaqBot, caizheng: FaqBot
) -> None:
    bot = caizheng if "caizheng" in name else faq_bot
    for words in (None, bot.report_words):  # by phrases alone, and by cue words too
        taken = [q.text for q in load_questions(DATA / name) if q.expect
                 and (r := recognise(q.text, words)) is not None and r.kind is not None]
        assert taken == []


@pytest.mark.parametrize(("text", "kind"), [
    ("这不是我要的", SmallTalk.COMPLAINT), ("又答偏了😓", SmallTalk.COMPLAINT),
    ("你是哪个单位做的机器人？", SmallTalk.IDENTITY), ("我在跟谁说话呀？", SmallTalk.IDENTITY),
    ("好了就这样吧，拜拜啦", SmallTalk.GOODBYE), ("下次再聊哈", SmallTalk.GOODBYE),
    ("👋", SmallTalk.GREETING), ("白白👋", SmallTalk.GOODBYE), ("蟹蟹", SmallTalk.THANKS),
    ("我该问你点什么好", SmallTalk.ABILITIES), ("回答得挺准的，不错", SmallTalk.PRAISE),
    ("你是不是傻啊", SmallTalk.INSULT),
])
def test_a_short_message_is_read_by_its_cue_words(
    faq_bot: FaqBot, text: str, kind: SmallTalk
) -> None:
    assert recognise(text) is None or recognise(text).kind != kind  # no phrase covers it
    assert recognise(text, faq_bot.report_words) == Recognised(kind)


@pytest.mark.parametrize("question", ["督查工作不对的地方怎么处理", "文稿怎么用", "会务服务慢不慢"])
def test_cue_words_beside_the_reports_words_are_a_question(
    faq_bot: FaqBot, question: str
) -> None:
    assert recognise(question, faq_bot.report_words) is None


@pytest.mark.parametrize(("text", "question"), [
    ("你好，请问作风提效讲了什么", "请问作风提效讲了什么"),
    ("谢谢！第二部分讲了什么", "第二部分讲了什么"),
    ("您好 督查有哪几种形式", "督查有哪几种形式"),
    ("你好，我是隔壁区的老师，想问问督查有哪几种形式", "想问问督查有哪几种形式"),
])
def test_a_greeting_before_a_question_leaves_the_question(text: str, question: str) -> None:
    recognised = recognise(text)
    assert recognised is not None and recognised.kind is None
    assert recognised.question == question


def test_a_greeting_with_a_remark_that_asks_nothing_is_a_greeting() -> None:
    recognised = recognise("你好！我是留学生，正在学中文")
    assert recognised is not None and recognised.kind == SmallTalk.GREETING


def test_a_greeting_and_a_question_get_the_questions_answer(faq_bot: FaqBot) -> None:
    reply = faq_bot.ask("你好，请问作风提效讲了什么")
    assert reply.small_talk is None and reply.answered
    assert reply.passage_id == faq_bot.ask("作风提效讲了什么").passage_id == "s3"


@pytest.mark.parametrize("kind", list(SmallTalk))
def test_each_kind_gets_its_text_and_example_questions_to_tap(faq_bot: FaqBot,
                                                              kind: SmallTalk) -> None:
    reply = faq_bot.small_talk(kind)
    assert reply.small_talk == kind and not reply.answered
    expected = faq_bot.settings.text(f"smalltalk_{kind.value}", report=faq_bot.report.name)
    assert reply.blocks[0].text == expected
    examples = [b for row in reply.buttons for b in row if b.action.startswith("p:")]
    assert 2 <= len(examples) <= 3
    assert all(faq_bot.action(b.action) is not None for b in examples)
    asked = {q for q, _ in faq_bot._examples()}  # noqa: SLF001  (the content's own questions)
    items = [b.text for b in reply.blocks if b.kind == "item"]
    assert items and set(items) <= asked


@pytest.mark.parametrize(("text", "kind"), [
    ("谢谢", SmallTalk.THANKS), ("你好", SmallTalk.GREETING), ("再见", SmallTalk.GOODBYE)])
def test_the_bot_answers_small_talk_instead_of_declining(faq_bot: FaqBot, text: str,
                                                         kind: SmallTalk) -> None:
    reply = faq_bot.handle(text)
    assert reply.small_talk == kind
    assert faq_bot.settings.text("decline") not in reply.plain()


def test_small_talk_texts_come_from_the_config(faq_bot: FaqBot) -> None:
    texts = {**faq_bot.settings.texts, "smalltalk_thanks": "不用谢，{report}随时为您解答。"}
    bot = FaqBot(dataclasses.replace(faq_bot.settings, texts=texts), faq_bot.index)
    assert bot.handle("谢谢").blocks[0].text == f"不用谢，{bot.report.name}随时为您解答。"


def test_small_talk_is_not_recorded_as_an_unanswered_question(faq_bot: FaqBot,
                                                              tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "use.sqlite3")
    bot = FaqBot(faq_bot.settings, faq_bot.index, store)
    bot.handle("谢谢")
    bot.handle("完全无关的问题 xyz")
    store.close()
    assert [question for question, _, _ in store.review().unanswered] == ["完全无关的问题 xyz"]


def test_a_report_without_alternate_questions_offers_questions_from_its_titles(
    settings: Settings, faqbot_cache_dir: Path
) -> None:
    index = imported_index(DATA / "reports" / "caizheng-2021.txt", faqbot_cache_dir,
                           Thresholds())
    bot = FaqBot(dataclasses.replace(settings, content=Path(index.report.file)), index)
    assert not bot._examples()  # noqa: SLF001  (an imported draft has no alternate questions)
    reply = bot.handle("你好")
    examples = [b for row in reply.buttons for b in row if b.action.startswith("p:")]
    assert 2 <= len(examples) <= 3
    template = settings.text("decline_question", topic="§").split("§")[0]
    assert all(b.text.startswith(template) for b in reply.blocks if b.kind == "item")
    assert all(bot.action(b.action) is not None for b in examples)


def test_validate_renders_small_talk_with_the_configs_texts(faq_bot: FaqBot) -> None:
    broken = {**faq_bot.settings.texts, "smalltalk_thanks": "{report[99]}"}
    bot = FaqBot(dataclasses.replace(faq_bot.settings, texts=broken), faq_bot.index)
    problems = [p.message for p in rendering_problems(bot)]
    assert [m.split(" cannot be shown")[0] for m in problems] == ["small talk thanks"]


@pytest.mark.parametrize("text", ["你好" * 2048, "哈" * 4096, "谢谢你" * 1300])
def test_a_long_message_is_read_quickly_and_is_no_small_talk(text: str) -> None:
    started = time.perf_counter()
    recognised = recognise(text)
    assert time.perf_counter() - started < 0.5  # generous: a few thousand characters
    assert recognised is None or recognised.kind is None
