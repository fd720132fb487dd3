"""The channel-neutral replies: commands, answers, declines, buttons and their rendering."""

from __future__ import annotations

import dataclasses
import re

import pytest

from bot.config import MatchSettings, Settings
from bot.content import Passage, Report, numeral, short_title
from bot.replies import COMMANDS, Block, Button, FaqBot, Reply
from bot.search import Index
from bot.textnorm import to_simplified

CALLBACK_LIMIT = 64  # bytes of Telegram callback_data


def texts(reply: Reply, kind: str | None = None) -> list[str]:
    return [b.text for b in reply.blocks if kind is None or b.kind == kind]


def actions(reply: Reply) -> list[str]:
    return [b.action for row in reply.buttons for b in row]


def reading_order(report: Report) -> list[str]:
    order = ["intro"]
    for section in report.sections:
        order += [section.id, *(m.id for m in section.measures)]
    return [*order, "author"]


def navigation(reply: Reply) -> dict[str, str]:
    """The ◀ ↩ ▶ row of a reply as {"◀" | "↩ 目录" | "▶": action} (◀ ▶ name their target)."""
    for row in reply.buttons:
        labels = {b.label: b.action for b in row}
        if "↩ 目录" in labels:
            return {_arrow(label): action for label, action in labels.items()}
    return {}


def _arrow(label: str) -> str:
    return "◀" if label.startswith("◀") else "▶" if label.endswith("▶") else label


@pytest.fixture(scope="module")
def report(faq_bot: FaqBot) -> Report:
    return faq_bot.report


@pytest.fixture(scope="module")
def strict_bot(faq_bot: FaqBot, settings: Settings) -> FaqBot:
    """The same index, but nothing short of certainty is answered: every content
    question declines with suggestions."""
    match = MatchSettings(answer_threshold=100, suggest_threshold=1, related=3,
                          probable_threshold=100)
    index = Index(faq_bot.report, faq_bot.index.data, answer_threshold=100, suggest_threshold=1,
                  probable_threshold=100)
    return FaqBot(dataclasses.replace(settings, match=match), index)


# --- /start and deep links ---------------------------------------------------------


def test_start_welcomes_with_three_buttons(faq_bot: FaqBot, report: Report) -> None:
    reply = faq_bot.handle("/start")
    assert report.name in reply.plain()
    assert [[(b.label, b.action) for b in row] for row in reply.buttons] == [
        [("📑 目录", "toc"), ("💬 口号", "slogans"), ("❓ 示例问题", "examples")]
    ]
    example = re.search(r"例如：“(.+?)”", reply.plain())
    assert example and any(example.group(1) in p.questions for p in report.passages)


@pytest.mark.parametrize(("payload", "command"), [("s1", "/section 1"), ("s2", "/section 2")])
def test_start_deep_link_to_a_section(faq_bot: FaqBot, payload: str, command: str) -> None:
    reply = faq_bot.handle(f"/start {payload}")
    assert reply.passage_id == payload
    assert reply == faq_bot.handle(command)


@pytest.mark.parametrize("payload", ["s2.m2", "s1.m1", "s3.m4", "intro", "sl2"])
def test_start_deep_link_to_a_passage(faq_bot: FaqBot, payload: str) -> None:
    passage = faq_bot.index.passage(payload)
    reply = faq_bot.handle(f"/start {payload}")
    assert reply.passage_id == payload
    assert passage.title in texts(reply, "heading")
    assert passage.text in texts(reply, "text")


@pytest.mark.parametrize("payload", ["s9", "nonsense", "s2.m9"])
def test_start_with_an_unknown_payload_welcomes(faq_bot: FaqBot, payload: str) -> None:
    assert faq_bot.handle(f"/start {payload}") == faq_bot.handle("/start")


# --- commands ----------------------------------------------------------------------


def test_help_lists_every_command(faq_bot: FaqBot) -> None:
    items = texts(faq_bot.handle("/help"), "item")
    assert [item.split(" ", 1)[0] for item in items] == [f"/{name}" for name, _ in COMMANDS]


@pytest.mark.parametrize("name", [name for name, _ in COMMANDS])
def test_every_listed_command_is_handled(faq_bot: FaqBot, settings: Settings, name: str) -> None:
    unknown = settings.text("unknown_command", command=f"/{name}")
    assert texts(faq_bot.handle(f"/{name}")) != [unknown]
    assert texts(faq_bot.handle(f"/{name.upper()}@SomeBot")) != [unknown]


def test_unknown_command_says_so(faq_bot: FaqBot, settings: Settings) -> None:
    reply = faq_bot.handle("/frobnicate now")
    assert not reply.answered
    assert texts(reply) == [settings.text("unknown_command", command="/frobnicate")]


def test_sections_lists_every_section(faq_bot: FaqBot, report: Report) -> None:
    reply = faq_bot.handle("/sections")
    assert texts(reply, "item") == [s.heading for s in report.sections]
    sections = [a for a in actions(reply) if a.startswith("sec:")]
    assert sections == [f"sec:{s.id}" for s in report.sections]
    assert "p:intro" in actions(reply)


@pytest.mark.parametrize("argument", ["2", "二", "第二部分", "第2部分", "２"])
def test_section_command_accepts_numbers_in_any_form(
    faq_bot: FaqBot, report: Report, argument: str
) -> None:
    section = report.section(2)
    reply = faq_bot.handle(f"/section {argument}")
    assert reply.passage_id == section.id
    assert texts(reply, "heading") == [section.heading]
    assert section.text in texts(reply, "text")
    assert texts(reply, "item") == [m.heading for m in section.measures]
    measures = [a for a in actions(reply) if a.startswith("p:s2.")][: len(section.measures)]
    assert measures == [f"p:{m.id}" for m in section.measures]


@pytest.mark.parametrize("number", ["9", "九", "0"])
def test_section_command_without_such_section(
    faq_bot: FaqBot, report: Report, settings: Settings, number: str
) -> None:
    reply = faq_bot.handle(f"/section {number}")
    assert not reply.answered
    assert texts(reply) == [
        settings.text("no_section", number=number, count=len(report.sections))
    ]
    assert "toc" in actions(reply)


def test_section_command_without_argument_shows_the_toc(faq_bot: FaqBot) -> None:
    assert faq_bot.handle("/section") == faq_bot.handle("/sections")


def test_section_reply_notes_lost_measures(faq_bot: FaqBot, report: Report) -> None:
    section = report.section(3)
    notes = texts(faq_bot.handle("/section 3"), "note")
    assert len(notes) == 1
    for number in section.missing_measures:
        assert f"{numeral(number)}是" in notes[0]


def test_summary_holds_intro_every_measure_and_the_missing_note(
    faq_bot: FaqBot, report: Report, settings: Settings
) -> None:
    reply = faq_bot.handle("/summary")
    assert report.intro in texts(reply, "text")
    assert texts(reply, "heading") == [report.name, *(s.heading for s in report.sections)]
    assert texts(reply, "item") == [m.heading for s in report.sections for m in s.measures]
    missing_prefix = settings.text("missing").split("{", 1)[0]
    notes = [t for t in texts(reply, "note") if t.startswith(missing_prefix)]
    lost = [s for s in report.sections if s.missing_measures]
    assert len(notes) == len(lost) == 1
    assert lost[0].short_heading in notes[0]
    assert report.byline in reply.plain()


def test_slogans_lists_every_slogan(faq_bot: FaqBot, report: Report) -> None:
    reply = faq_bot.handle("/slogans")
    items = texts(reply, "item")
    assert len(items) == len(report.slogans)
    for item, slogan in zip(items, report.slogans, strict=True):
        assert slogan.text in item
        assert slogan.name in item
    assert [a for a in actions(reply) if a.startswith("p:sl")] == [
        f"p:{s.id}" for s in report.slogans
    ]


@pytest.mark.parametrize("word", ["忠诚", "忠誠", "对党忠诚", "忠诚爱国"])
def test_slogan_finds_one_by_a_word(faq_bot: FaqBot, report: Report, word: str) -> None:
    reply = faq_bot.handle(f"/slogan {word}")
    assert reply.passage_id == "sl2"
    slogan = next(s for s in report.slogans if s.id == "sl2")
    # a word typed in traditional script gets its reply in traditional script
    assert slogan.text in to_simplified(texts(reply, "heading")[0])
    assert f"p:{slogan.source}" in actions(reply)


def test_slogan_with_several_matches_lists_them(faq_bot: FaqBot, report: Report) -> None:
    reply = faq_bot.handle("/slogan 主题活动")
    named = [s for s in report.slogans if s.name == "主题活动"]
    assert len(named) > 1
    for slogan in named:
        assert f"p:{slogan.id}" in actions(reply)


@pytest.mark.parametrize("word", ["xyz", "天气预报"])
def test_slogan_declines_politely(faq_bot: FaqBot, settings: Settings, word: str) -> None:
    reply = faq_bot.handle(f"/slogan {word}")
    assert not reply.answered
    assert texts(reply) == [settings.text("no_slogan", word=word)]
    assert actions(reply) == ["slogans"]


def test_slogan_without_word_lists_all(faq_bot: FaqBot) -> None:
    assert faq_bot.handle("/slogan") == faq_bot.handle("/slogans")


# --- free-text answers -------------------------------------------------------------


def expected_path(report: Report, passage_id: str) -> str:
    section_id, _, _ = passage_id.partition(".m")
    section = next(s for s in report.sections if s.id == section_id)
    measure = next(m for m in section.measures if m.id == passage_id)
    return f"{section.short_heading} › {numeral(measure.number)}是{short_title(measure.title)}"


def test_answer_shows_title_text_and_source(faq_bot: FaqBot, report: Report) -> None:
    reply = faq_bot.handle("以文辅政有什么要求")
    passage = faq_bot.index.passage("s2.m2")
    assert reply.answered and reply.passage_id == "s2.m2"
    assert texts(reply)[:2] == [passage.title, passage.text]
    assert "出处：二、着力业务提速 › 二是以文辅政力求更精" in texts(reply, "source")
    assert expected_path(report, "s2.m2") == "二、着力业务提速 › 二是以文辅政力求更精"
    assert ("👍 有用", "fb:good:s2.m2") in [(b.label, b.action) for r in reply.buttons for b in r]


QUESTIONS = [
    "以文辅政有什么要求",
    "建立了多少个信息联络点",
    "海峡论坛是谁保障的",
    "怎样做到对党忠诚",
    "会务服务有哪三大环节",
    "督查问效是怎么做的",
    "有几位同志走上处级领导岗位",
]


@pytest.mark.parametrize("question", QUESTIONS)
def test_answer_is_the_best_hit_with_its_path(
    faq_bot: FaqBot, settings: Settings, question: str
) -> None:
    reply = faq_bot.handle(question)
    assert reply.answered
    best = reply.result.hits[0]
    passage = faq_bot.index.passage(best.id)
    assert reply.passage_id == passage.id
    assert passage.title in texts(reply, "heading")
    assert settings.text("source", path=passage.path) in texts(reply, "source")


@pytest.mark.parametrize("question", QUESTIONS)
def test_at_most_three_related_passages(faq_bot: FaqBot, settings: Settings, question: str) -> None:
    reply = faq_bot.handle(question)
    related = [h for h in reply.result.hits[1:] if h.id != reply.passage_id]
    heading = Block("note", settings.text("related"))
    after = reply.blocks[reply.blocks.index(heading) + 1 :] if heading in reply.blocks else ()
    items = [b.text for b in after if b.kind == "item"]
    assert len(items) <= settings.match.related == 3
    assert len(items) == len(
        [h for h in related if h.score >= settings.match.related_threshold][:3]
    )
    for item, hit in zip(items, related, strict=False):
        assert item == f"{hit.title}（{hit.path}）"


@pytest.mark.parametrize("question", ["明天天气怎么样", "今天股市行情如何", "你会写Python吗"])
def test_off_topic_question_is_declined(
    faq_bot: FaqBot, settings: Settings, question: str
) -> None:
    reply = faq_bot.handle(question)
    assert not reply.answered
    assert texts(reply)[0] == settings.text("decline")
    assert list(reply.buttons[-1]) == [Button("📑 目录", "toc"), Button("❓ 示例问题", "examples")]


@pytest.mark.parametrize("question", ["以文辅政有什么要求", "海峡论坛是谁保障的"])
def test_decline_suggests_the_closest_passages(
    strict_bot: FaqBot, settings: Settings, question: str
) -> None:
    reply = strict_bot.handle(question)
    assert not reply.answered
    hits = [h for h in reply.result.hits if h.kind != "slogans"][:3]
    assert hits, "a content question should leave suggestions"
    assert texts(reply)[:2] == [settings.text("decline"), settings.text("decline_suggest")]
    assert len(texts(reply, "item")) == len(hits)
    assert actions(reply) == [*(f"p:{h.id}" for h in hits), "toc", "examples"]


@pytest.mark.parametrize(
    "question", ["第三部分第一点是什么", "第三部分的第二条讲了啥", "第3部分第三点"]
)
def test_lost_measure_says_the_text_is_missing(
    faq_bot: FaqBot, report: Report, settings: Settings, question: str
) -> None:
    reply = faq_bot.handle(question)
    assert reply.answered
    assert reply.passage_id.startswith("s3.m")
    assert int(reply.passage_id.rpartition(".m")[2]) in report.section(3).missing_measures
    missing_prefix = settings.text("missing").split("{", 1)[0]
    assert any(t.startswith(missing_prefix) for t in texts(reply, "note"))
    assert "p:s3.m4" in actions(reply) and "sec:s3" in actions(reply)


@pytest.mark.parametrize("question", ["第三部分第一点是什么", "三、着力作风提效的二是"])
def test_lost_measure_words_come_from_the_texts(
    faq_bot: FaqBot, settings: Settings, question: str
) -> None:
    """The matcher says which measure is lost; every word about it is one of the texts."""
    texts_ = {**settings.texts, "missing_title": "【{measure}已佚】",
              "missing": "佚：{what}；存：{kept}", "nothing_kept": "（一条不剩）"}
    custom = FaqBot(dataclasses.replace(settings, texts=texts_), faq_bot.index)
    reply = custom.handle(question)
    section = custom.report.section(3)
    assert section is not None and reply.passage_id in {"s3.m1", "s3.m2"}
    lost = numeral(int(reply.passage_id.rpartition(".m")[2]))
    assert texts(reply, "heading") == [f"{section.heading} › 【{lost}是已佚】"]
    assert texts(reply, "note") == [f"佚：{section.short_heading}的一是、二是、三是；存：四是"]
    hit = custom.described(custom.index.search(question).hits[0])
    assert hit.title == f"【{lost}是已佚】"
    assert hit.text == f"佚：{section.heading}的{lost}是；存：四是"
    assert hit.path == f"{section.short_heading} › {lost}是"


def test_a_section_that_kept_no_measure_says_so_in_the_texts_words(
    faq_bot: FaqBot, settings: Settings
) -> None:
    section = faq_bot.report.section(3)
    assert section is not None
    bare = dataclasses.replace(section, measures=(), missing_measures=(1, 2, 3, 4))
    report = dataclasses.replace(
        faq_bot.report, sections=tuple(bare if s is section else s for s in faq_bot.report.sections)
    )
    index = Index(report, faq_bot.index.data)
    texts_ = {**settings.texts, "nothing_kept": "（一条不剩）"}
    reply = FaqBot(dataclasses.replace(settings, texts=texts_), index).summary()
    assert [t for t in texts(reply, "note") if "一条不剩" in t] == [
        f"原文此处缺失：{section.short_heading}的一是、二是、三是、四是在来源中已丢失，"
        "报告只保留了（一条不剩）。"
    ]


def test_empty_question_asks_for_one(faq_bot: FaqBot, settings: Settings) -> None:
    reply = faq_bot.handle("   ")
    assert (reply.answered, texts(reply)) == (False, [settings.text("empty")])


# --- buttons ---------------------------------------------------------------------


def test_navigation_walks_the_reading_order(faq_bot: FaqBot, report: Report) -> None:
    order = reading_order(report)
    forward, last = walk(faq_bot, faq_bot.action("p:intro"), "▶")
    assert forward == order
    backward, _ = walk(faq_bot, last, "◀")
    assert backward == order[::-1]


def walk(faq_bot: FaqBot, reply: Reply, arrow: str) -> tuple[list[str], Reply]:
    """Press ``arrow`` until it is gone: the passage ids shown, and the last reply."""
    shown = [reply.passage_id]
    while (step := navigation(reply).get(arrow)) is not None:
        reply = faq_bot.action(step)
        shown.append(reply.passage_id)
    return shown, reply


@pytest.mark.parametrize("passage_id", ["intro", "s1", "s2.m2", "author"])
def test_navigation_row_has_back_to_toc(faq_bot: FaqBot, passage_id: str) -> None:
    row = navigation(faq_bot.action(f"p:{passage_id}"))
    assert row["↩ 目录"] == "toc"
    assert faq_bot.action(row["↩ 目录"]) == faq_bot.handle("/sections")


def reachable_replies(bot: FaqBot) -> dict[str, Reply]:
    """Every reply reachable by pressing buttons from the table of contents and /start."""
    seen: dict[str, Reply] = {}
    queue = ["toc", "slogans", "examples"]
    start_replies = [bot.handle("/start"), bot.handle("/help")]
    queue += [a for r in start_replies for a in actions(r)]
    while queue:
        action = queue.pop()
        if action in seen:
            continue
        seen[action] = bot.action(action)
        queue += actions(seen[action])
    return seen


def test_buttons_reach_every_passage(faq_bot: FaqBot, report: Report) -> None:
    shown = {r.passage_id for r in reachable_replies(faq_bot).values()}
    assert {p.id for p in report.passages} <= shown


def test_every_callback_action_fits_telegram(faq_bot: FaqBot) -> None:
    replies = list(reachable_replies(faq_bot).values())
    replies += [faq_bot.handle(q) for q in [*QUESTIONS, "/summary", "/slogan 主题活动"]]
    all_actions = {a for r in replies for a in actions(r)}
    assert {"toc", "slogans", "examples"} <= all_actions
    assert any(a.startswith("fb:") for a in all_actions)
    too_long = [a for a in all_actions if len(a.encode("utf-8")) > CALLBACK_LIMIT]
    assert too_long == []


def test_every_example_question_opens_its_passage(faq_bot: FaqBot) -> None:
    reply = faq_bot.action("examples")
    pairs = [(b.label, b.action) for row in reply.buttons[:-1] for b in row]
    assert pairs and len(pairs) == len(texts(reply, "item"))
    for _, action in pairs:
        assert faq_bot.action(action).passage_id == action.removeprefix("p:")


# --- rendering ---------------------------------------------------------------------


def test_html_escapes_user_text(faq_bot: FaqBot) -> None:
    reply = faq_bot.handle("/slogan <b>x</b>")
    assert "<b>x</b>" in reply.plain()
    assert "&lt;b&gt;x&lt;/b&gt;" in reply.html()
    assert "<b>x" not in reply.html()


@pytest.mark.parametrize("kind", ["heading", "text", "source", "note", "item"])
def test_html_escapes_content(kind: str) -> None:
    html = Reply((Block(kind, "A&B <i>x</i> 1<2"),)).html()
    assert "A&amp;B &lt;i&gt;x&lt;/i&gt; 1&lt;2" in html
    assert "<i>x</i>" not in html


def test_html_marks_headings_and_sources(faq_bot: FaqBot) -> None:
    reply = faq_bot.handle("/start s2.m2")
    passage = faq_bot.index.passage("s2.m2")
    html = reply.html()
    assert f"<b>{passage.title}</b>" in html
    assert f"<i>出处：{passage.path}</i>" in html


def test_html_of_reachable_replies_uses_only_b_and_i(faq_bot: FaqBot) -> None:
    for reply in reachable_replies(faq_bot).values():
        html = reply.html()
        assert re.sub(r"</?[bi]>", "", html).count("<") == 0
        assert re.findall(r"&(?!amp;|lt;|gt;)", html) == []


def test_passages_render_without_private_fields(faq_bot: FaqBot) -> None:
    """Every content passage can be shown, and its reply names it."""
    for passage in faq_bot.report.passages:
        assert isinstance(passage, Passage)
        assert faq_bot.show(passage.id).passage_id == passage.id


@pytest.mark.parametrize("argument", ["-1", "2 3", "abc", "2.5"])
def test_section_with_an_unusable_number_shows_usage_and_the_contents(
    faq_bot: FaqBot, argument: str
) -> None:
    reply = faq_bot.command("section", argument)
    assert not reply.answered
    assert "用法" in reply.plain()
    assert all(s.heading in reply.plain() for s in faq_bot.report.sections)


def test_very_long_messages_are_answered_quickly(faq_bot: FaqBot) -> None:
    import time

    start = time.perf_counter()
    reply = faq_bot.handle("海峡论坛" + "思明" * 50_000)
    assert reply.blocks
    assert time.perf_counter() - start < 2.0  # a generous sanity bound, not a benchmark


def _random_texts(count: int) -> list[str]:
    import random

    rng = random.Random(20261125)
    alphabet = (
        "思明区政府办海峡论坛第二部分一是壹貳臺灣abcXYZ019 /@#<>&;:\"'\n\t\x00\u200b😀，。？！“”、"
    )
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(count)]


@pytest.mark.parametrize("text", _random_texts(300))
def test_strange_messages_are_answered_or_declined(faq_bot: FaqBot, text: str) -> None:
    reply = faq_bot.handle(text)
    assert reply.blocks and reply.plain().strip()
    assert "<" not in reply.html().replace("<b>", "").replace("</b>", "").replace(
        "<i>", ""
    ).replace("</i>", "")


@pytest.mark.parametrize(
    "data",
    ["", "p:", "p:../../etc", "sec:", "sec:s9", "fb:good:", "fb:bad:nope", "fb:", "zzz",
     "p:s9.m1", "p:s2.mx", "toc:extra", "fb:other:s1", "fb:good", "p:s3.m2x", "toc:", " toc"],
)
def test_unknown_stale_or_malformed_button_data_is_told_apart(faq_bot: FaqBot,
                                                               data: str) -> None:
    assert faq_bot.action(data) is None
    stale = faq_bot.stale_button()
    assert stale.plain() == "按钮已失效，请重新提问" and not stale.answered


@pytest.mark.parametrize("data", ["toc", "slogans", "examples", "sec:s1", "p:s2.m1", "p:s3.m1",
                                  "p:intro", "p:sl1", "fb:good:s1", "fb:bad:s2.m1"])
def test_every_valid_button_data_gets_a_reply(faq_bot: FaqBot, data: str) -> None:
    reply = faq_bot.action(data)
    assert reply is not None and reply.plain().strip()


@pytest.mark.parametrize(("passage_id", "before", "after"), [
    ("s2.m1", "◀ 二、着力业…", "二是以文辅… ▶"), ("intro", None, "一、着力思… ▶"),
    ("author", "◀ 四是营造合…", None), ("s1", "◀ 引言", "一是立足对… ▶"),
])
def test_arrows_name_the_passage_they_lead_to(faq_bot: FaqBot, passage_id: str,
                                              before: str | None, after: str | None) -> None:
    reply = faq_bot.show(passage_id)
    [row] = [row for row in reply.buttons if "↩ 目录" in [b.label for b in row]]
    assert [b.label for b in row] == [x for x in (before, "↩ 目录", after) if x is not None]


def test_example_questions_are_full_questions_the_bot_answers(faq_bot: FaqBot) -> None:
    examples = faq_bot._examples()
    assert len(examples) == 6
    for question, passage_id in examples:
        result = faq_bot.index.search(question)
        assert result.answered and result.hits[0].id == passage_id, question


# --- Telegram polish: what the core gives the adapter -------------------------------------


def test_long_related_buttons_go_one_per_row(faq_bot: FaqBot) -> None:
    reply = faq_bot.ask("海峡论坛是谁保障的")
    related = [row for row in reply.buttons if all(b.action.startswith("p:") for b in row)
               and "↩ 目录" not in [b.label for b in row]]
    assert related and all(len(row) == 1 for row in related)
    assert len(related[0][0].label) > 16 // 2  # long enough that two would not fit a phone


def test_short_related_buttons_share_a_row() -> None:
    from bot.replies import _fitted_rows
    short = [Button("引言", "p:intro"), Button("作者", "p:author")]
    long = [Button("一是立足对党忠诚,坚定政治信仰", "p:s1.m1"), Button("引言", "p:intro")]
    assert _fitted_rows(short) == [tuple(short)]
    assert _fitted_rows(long) == [(long[0],), (long[1],)]


@pytest.mark.parametrize(("vote", "labels"), [
    (None, ["👍 有用", "👎 没用"]), (True, ["✅ 有用", "👎 没用"]), (False, ["👍 有用", "✅ 没用"]),
])
def test_the_feedback_row_shows_the_vote(faq_bot: FaqBot, vote: bool | None,
                                         labels: list[str]) -> None:
    row = faq_bot.feedback_row("s2.m1", vote)
    assert [b.label for b in row] == labels
    assert [b.action for b in row] == ["fb:good:s2.m1", "fb:bad:s2.m1"]
    assert faq_bot.ask("海峡论坛是谁保障的").buttons[-1] == faq_bot.feedback_row("s2.m1")


@pytest.mark.parametrize(("query", "expected"), [
    ("海", {"s2.m1"}),  # the matcher declines one character; the texts contain it
    ("口号", {s for s in (f"sl{n}" for n in range(1, 14))}),  # the slogan list: its slogans
    ("s2.m1", {"s2.m1"}),
    ("忠诚", {"s1.m1", "sl2"}),
])
def test_inline_answers_partial_input(faq_bot: FaqBot, query: str, expected: set[str]) -> None:
    ids: list[str] = []
    offset: int | None = 0
    while offset is not None:
        items, offset = faq_bot.inline_page(query, offset)
        ids += [item.id for item in items]
    assert expected <= set(ids) and len(ids) == len(set(ids))


def test_inline_puts_an_exact_title_first(faq_bot: FaqBot) -> None:
    assert faq_bot.inline("一是综合协调力求更优")[0].id == "s2.m1"
    assert faq_bot.inline("xyzq") == []


def test_an_empty_inline_query_pages_through_every_passage(faq_bot: FaqBot) -> None:
    pages, offset = [], 0
    while offset is not None:
        items, offset = faq_bot.inline_page("", offset, limit=10)
        pages.append([item.id for item in items])
    assert [len(page) for page in pages[:-1]] == [10] * (len(pages) - 1)
    assert sum(pages, []) == [p.id for p in faq_bot.report.passages]
    assert faq_bot.inline_page("", 10_000) == ([], None)


def test_the_share_query_finds_the_answer_again(faq_bot: FaqBot) -> None:
    reply = faq_bot.ask("海峡论坛是谁保障的")
    query = faq_bot.share_query(reply)
    assert query == "一是综合协调力求更优"
    assert faq_bot.inline(query)[0].id == reply.passage_id
    assert faq_bot.share_query(faq_bot.sections()) == ""


def test_group_start_says_how_to_ask_in_a_group(faq_bot: FaqBot) -> None:
    text = faq_bot.group_start("report_bot").plain()
    assert "@report_bot" in text and "/sections@report_bot" in text and "回复" in text
    assert "直接用中文提问" not in text


def test_non_text_hint_is_one_line_with_an_example(faq_bot: FaqBot) -> None:
    reply = faq_bot.non_text()
    assert len(reply.plain().splitlines()) == 1 and faq_bot._example() in reply.plain()


def test_profile_texts_fit_telegram(faq_bot: FaqBot) -> None:
    description, short = faq_bot.profile("report_bot")
    assert faq_bot.report.name in description and "@report_bot" in description
    assert len(description) <= 512 and 1 <= len(short) <= 120
