"""Numbers users type: read in any form and size, never a crash, an honest answer.

A section or measure the report does not have is answered as such (报告第二部分只有4点);
only the content's ``missing_measures`` are ever called lost.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import chat
from bot.config import Settings
from bot.content import numeral, parse_number
from bot.importer import DraftError, draft_yaml
from bot.replies import FaqBot, Reply


def texts(reply: Reply, kind: str | None = None) -> list[str]:
    return [b.text for b in reply.blocks if kind is None or b.kind == kind]


def actions(reply: Reply) -> list[str]:
    return [b.action for row in reply.buttons for b in row]


def says_lost(reply: Reply, settings: Settings) -> bool:
    missing_prefix = settings.text("missing").split("{", 1)[0]
    return any(t.startswith(missing_prefix) for t in texts(reply)) or any(
        "原文缺失" in t for t in texts(reply, "heading")
    )


# --- reading and writing numerals ------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [
    ("3", 3), ("３", 3), ("007", 7), ("0", 0), ("〇", 0), ("零", 0), ("两", 2), ("三", 3),
    ("十", 10), ("十一", 11), ("一三", 13), ("二十五", 25), ("一百零三", 103), ("1十", 10),
    ("第２", 2), ("第十二", 12), ("二〇一三", 2013), ("٣", 3), (" 4 ", 4),
    ("99999999999999999999", 99999999999999999999), ("一" * 50, int("1" * 50)),
])
def test_numbers_are_read_in_any_form(text: str, value: int) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize("text", [
    "", "第", "-1", "第-1", "+1", "2.5", "十十", "百", "三是", "abc", "负一", "1 2", "9" * 5000,
    "十" * 50, "一\x00",
])
def test_text_that_is_no_number_reads_as_none(text: str) -> None:
    assert parse_number(text) is None


@pytest.mark.parametrize(("number", "text"), [
    (1, "一"), (10, "十"), (12, "十二"), (19, "十九"), (20, "二十"), (25, "二十五"),
    (31, "三十一"), (103, "一百零三"), (0, "零"), (-1, "负一"),
    (10**20, "100000000000000000000"),
])
def test_numerals_are_written_for_any_number(number: int, text: str) -> None:
    assert numeral(number) == text


@settings(max_examples=300, deadline=None, database=None)
@given(st.integers(0, 10**16 - 1))
def test_a_written_numeral_reads_back(number: int) -> None:
    assert parse_number(numeral(number)) == number


# --- /section N ----------------------------------------------------------------------


@pytest.mark.parametrize(("argument", "typed"), [
    ("一三", "一三"), ("十一", "十一"), ("99999999999999999999", "99999999999999999999"),
    ("007", "007"), ("〇", "〇"), ("0", "0"), ("1十", "1十"), ("第一百零三部分", "一百零三"),
    ("第五部分", "五"), ("9" * 900, "9" * 900),
])
def test_section_command_names_a_section_the_report_lacks(
    faq_bot: FaqBot, settings: Settings, argument: str, typed: str
) -> None:
    reply = faq_bot.handle(f"/section {argument}")
    count = len(faq_bot.report.sections)
    assert texts(reply) == [settings.text("no_section", number=typed, count=count)]
    assert not reply.answered and "toc" in actions(reply)


@pytest.mark.parametrize("argument", ["两", "第２部分", "002", "二", "第二章"])
def test_section_command_reads_any_form_of_an_existing_number(
    faq_bot: FaqBot, argument: str
) -> None:
    assert faq_bot.handle(f"/section {argument}") == faq_bot.handle("/section 2")


@pytest.mark.parametrize("argument", ["-1", "第-1", "2.5", "十十", "2 3", "9" * 5000, "二部"])
def test_section_command_explains_its_use_for_what_is_no_number(
    faq_bot: FaqBot, argument: str
) -> None:
    reply = faq_bot.handle(f"/section {argument}")
    assert not reply.answered
    assert texts(reply)[0].startswith("用法：/section 2")
    assert texts(reply, "item") == [s.heading for s in faq_bot.report.sections]


# --- questions naming a section or measure -------------------------------------------------


@pytest.mark.parametrize(("question", "number"), [
    ("第二部分第31点是什么", "三十一"), ("第二部分第五点", "五"), ("第二部分一三是什么", "十三"),
    ("第二部分第99999999999999999999点", "99999999999999999999"), ("第二部分第0点", "零"),
    ("第二部分第〇点", "零"), ("第2部分第十一条", "十一"), ("第二部分十一是什么", "十一"),
    ("业务提速部分的五是", "五"),
])
def test_a_measure_the_section_lacks_is_answered_as_such(
    faq_bot: FaqBot, settings: Settings, question: str, number: str
) -> None:
    section = faq_bot.report.section(2)
    reply = faq_bot.handle(question)
    assert not reply.answered
    assert texts(reply, "text") == [
        settings.text("no_measure", section="二", count=4, number=number)
    ]
    assert texts(reply, "item") == [m.heading for m in section.measures]
    assert not says_lost(reply, settings)
    assert [f"p:{m.id}" for m in section.measures] + ["sec:s2", "toc"] == actions(reply)


def test_beyond_a_section_with_lost_measures_the_count_includes_them(
    faq_bot: FaqBot, settings: Settings
) -> None:
    section = faq_bot.report.section(3)
    assert section.missing_measures and section.measure_count == 4
    reply = faq_bot.handle("第三部分第五点")
    assert texts(reply, "text") == [
        settings.text("no_measure", section="三", count=4, number="五")
    ]
    notes = texts(reply, "note")  # the lost ones are still named as lost
    assert len(notes) == 1 and all(f"{numeral(n)}是" in notes[0] for n in section.missing_measures)
    assert reply.passage_id == ""


@pytest.mark.parametrize(("question", "number"), [
    ("第99999999999999999999部分", "99999999999999999999"), ("第一百零三部分", "一百零三"),
    ("第四部分讲了什么", "四"), ("第0部分", "零"), ("第十一章第二点", "十一"),
])
def test_a_section_the_report_lacks_is_answered_as_such(
    faq_bot: FaqBot, settings: Settings, question: str, number: str
) -> None:
    reply = faq_bot.handle(question)
    count = len(faq_bot.report.sections)
    assert texts(reply) == [settings.text("no_section", number=number, count=count)]
    assert not reply.answered


@pytest.mark.parametrize("question", ["第三部分第一点是什么", "第三部分二是", "第3部分第三条"])
def test_only_measures_the_content_lists_as_missing_are_called_lost(
    faq_bot: FaqBot, settings: Settings, question: str
) -> None:
    reply = faq_bot.handle(question)
    assert says_lost(reply, settings)
    number = int(reply.passage_id.rpartition(".m")[2])
    assert number in faq_bot.report.section(3).missing_measures


# --- buttons, deep links and the console --------------------------------------------------


@pytest.mark.parametrize("data", [
    "p:s3.m99999999999999999999", "p:s3.m0", "p:s3.m²", "p:s3.m٣", "p:s3.m" + "9" * 5000,
    "p:s2.m5", "p:s-1.m1", "sec:s99999999999999999999", "p:s3.m-1",
])
def test_forged_buttons_never_invent_a_lost_measure(faq_bot: FaqBot, data: str) -> None:
    assert faq_bot.action(data) is None  # the adapter shows "按钮已失效", nothing is invented


@pytest.mark.parametrize("payload", ["s3.m1", "s3.m01", "s3_m1", "s3-m1"])
def test_deep_link_to_a_lost_measure_says_it_is_lost(
    faq_bot: FaqBot, settings: Settings, payload: str
) -> None:
    reply = faq_bot.start(payload)
    assert reply == faq_bot.action("p:s3.m1")
    assert reply.passage_id == "s3.m1" and says_lost(reply, settings)


def test_console_chat_reads_typed_numbers_as_buttons_or_questions(faq_bot: FaqBot) -> None:
    toc = faq_bot.handle("/sections")
    second = [b for row in toc.buttons for b in row][1]
    stdout = io.StringIO()
    typed = ["/sections", "²", "9" * 5000, "/sections", "２"]
    chat(faq_bot, io.StringIO("\n".join(typed) + "\n"), stdout, interactive=False)
    replies = [toc, faq_bot.handle("²"), faq_bot.handle("9" * 5000), toc,
               faq_bot.action(second.action)]
    assert stdout.getvalue() == "".join(r.plain() + "\n\n" for r in replies)


# --- the importer (raw report text) -----------------------------------------------------


@pytest.mark.parametrize("heading", ["十十、着力思想提标", "九九九九九九九九九九、着力思想提标"])
def test_import_takes_no_odd_numeral_for_a_heading(heading: str) -> None:
    with pytest.raises(DraftError, match="no sections found"):
        draft_yaml(heading + "\n", "raw.txt")


def test_an_odd_measure_numeral_stays_text_of_its_section() -> None:
    line = "九九九九九九九九九九是立足创新。正文。"
    draft = draft_yaml(f"一、着力思想提标\n{line}\n", "raw.txt")
    assert "id: s1.m" not in draft and line in draft


def test_import_reads_headings_beyond_ten() -> None:
    draft = draft_yaml("十二、着力思想提标\n一是立足创新。正文。\n", "raw.txt")
    assert "id: s12\n" in draft and "id: s12.m1\n" in draft
