"""Property tests: whatever a user sends, the core answers, declines or says what is not there.

hypothesis drives every entry point of ``FaqBot`` (questions, commands, buttons, deep links,
inline queries) with random text and with forged data of the real shapes, and checks that
there is always a non-empty reply and that only the content's ``missing_measures`` are ever
called lost. The bot is the session's one (built once, see conftest.py).
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.replies import COMMANDS, FaqBot, Reply

EXAMPLES = 250  # per property: a few seconds each on the shared machine
# no example database: tests write nothing into the work tree (a failure prints its seed)
fuzz = settings(
    max_examples=EXAMPLES, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Pieces users type around numbers: numerals of every form, counters, section and
# measure words, signs, full-width and other scripts' digits, control characters.
NUMBER_PIECES = [
    "第", "部分", "章", "节", "点", "条", "项", "是", "最后", "个", "大", "小", "的",
    "一", "二", "三", "四", "五", "十", "百", "千", "万", "亿", "两", "零", "〇", "壹", "拾",
    "0", "1", "2", "3", "007", "99999999999999999999", "１", "２", "٣", "²", "-", "+", ".",
    "·", "负", "/", "/section ", "/start ", " ", "\n", "\t", "\x00", "\u200b", "？", "是什么",
]
numberish = st.lists(st.sampled_from(NUMBER_PIECES), max_size=12).map("".join)
# Any text but lone surrogates (Telegram sends valid UTF-8 only).
unicode_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=80)
cjk_text = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=40)
long_text = st.one_of(
    st.integers(300, 6000).map(lambda n: "第" + "9" * n + "部分"),
    st.integers(300, 6000).map(lambda n: "第二部分第" + "1" * n + "点"),
    st.text(st.sampled_from("第二部分十一是点0１"), min_size=200, max_size=2000),
)
any_text = st.one_of(unicode_text, cjk_text, numberish, long_text)
numbers = st.one_of(
    st.integers(-5, 30).map(str), st.integers().map(str),
    st.sampled_from(["99999999999999999999", "9" * 4400, "007", "٣", "１２"]),
)
number_text = st.one_of(numbers, numberish, unicode_text)
passage_ids = st.one_of(
    st.builds(lambda n: f"s{n}", number_text),
    st.builds(lambda n, m: f"s{n}.m{m}", number_text, number_text),
    st.builds(lambda n, m: f"s{n}_m{m}", number_text, number_text),
    st.builds(lambda n: f"sl{n}", number_text),
    st.sampled_from(["intro", "author", "slogans", "sections", ""]),
    unicode_text,
)
button_data = st.one_of(
    st.builds(lambda kind, value: f"{kind}{value}",
              st.sampled_from(["sec:", "p:", "fb:good:", "fb:bad:", "fb:", "toc", "slogans",
                               "examples", "toc:", ""]),
              passage_ids),
    unicode_text,
)
MEASURE_ID = re.compile(r"s(\d+)\.m(\d+)")


def check(faq: FaqBot, reply: Reply) -> None:
    """A reply someone can read, that calls lost only what the content says is lost."""
    assert reply.blocks and reply.plain().strip()
    reply.html()
    lost = MEASURE_ID.fullmatch(reply.passage_id)
    if lost and faq.index.passage(reply.passage_id) is None:
        section = faq.report.section(int(lost.group(1)))
        assert section is not None and int(lost.group(2)) in section.missing_measures
    if any("原文缺失" in b.text for b in reply.blocks if b.kind == "heading"):
        assert lost is not None, "a reply about a lost measure names it"


@fuzz
@given(text=any_text)
def test_any_text_gets_a_reply(faq_bot: FaqBot, text: str) -> None:
    check(faq_bot, faq_bot.handle(text))


@fuzz
@given(text=any_text)
def test_any_question_gets_a_reply(faq_bot: FaqBot, text: str) -> None:
    check(faq_bot, faq_bot.ask(text))


@fuzz
@given(name=st.one_of(st.sampled_from([name for name, _ in COMMANDS]), unicode_text),
       argument=st.one_of(number_text, any_text, passage_ids))
def test_every_command_with_any_argument_gets_a_reply(
    faq_bot: FaqBot, name: str, argument: str
) -> None:
    check(faq_bot, faq_bot.command(name, argument))
    check(faq_bot, faq_bot.handle(f"/{name} {argument}"))


@fuzz
@given(data=button_data)
def test_any_button_data_gets_a_reply(faq_bot: FaqBot, data: str) -> None:
    check(faq_bot, faq_bot.action(data) or faq_bot.stale_button())


@fuzz
@given(payload=st.one_of(passage_ids, any_text))
def test_any_start_payload_gets_a_reply(faq_bot: FaqBot, payload: str) -> None:
    check(faq_bot, faq_bot.start(payload))


@fuzz
@given(query=any_text)
def test_any_inline_query_gets_readable_items(faq_bot: FaqBot, query: str) -> None:
    for item in faq_bot.inline(query):
        assert item.title and item.id
        check(faq_bot, item.reply)
