"""Several reports in one bot: a content folder of two (the seed report and one imported
from tests/data/reports/caizheng-2021.txt), matched together, named in answers, chosen
between when both answer, with /reports, and report ids in every button and link."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings
from bot.content import ContentError, validate
from bot.replies import FaqBot, Reply
from bot.reports import ReportsBot, deep_link
from bot.search import Library

SEED, CAIZHENG = "siming-report", "caizheng-2021"
SEED_NAME = "思明区政府办工作经验材料"
CAIZHENG_NAME = "稳字当头强保障 改革创新提效能"
# questions only one report answers, with the passage that answers them
SPECIFIC = [
    ("督查问效是怎么做的", SEED, "s2.m3"),
    ("政府办为服务型政府建设做了什么贡献", SEED, "intro"),
    ("一般公共预算收入完成了多少", CAIZHENG, "s1.m1"),
    ("民生支出占一般公共预算支出的比重", CAIZHENG, "s2.m1"),
]
# questions both reports answer alike: a button per report
BOTH = ["作者是谁", "第二部分讲什么", "这份材料一共分几个部分"]


@pytest.fixture(scope="module")
def two_settings(settings: Settings, two_reports_content: Path) -> Settings:
    return dataclasses.replace(settings, content=two_reports_content)


@pytest.fixture
def bot(two_settings: Settings) -> FaqBot:
    """A fresh bot over two reports per test (defaults and contexts are per bot)."""
    return FaqBot.from_settings(two_settings)


def actions(reply: Reply) -> list[str]:
    return [b.action for row in reply.buttons for b in row]


def sources(reply: Reply) -> list[str]:
    return [b.text for b in reply.blocks if b.kind == "source"]


def test_a_folder_of_two_reports_serves_both(bot: FaqBot) -> None:
    assert isinstance(bot, ReportsBot)
    assert list(bot.books) == [CAIZHENG, SEED]  # file order; ids are the files' stems
    assert [b.report.name for b in bot.books.values()] == [CAIZHENG_NAME, SEED_NAME]


@pytest.mark.parametrize(("question", "report", "passage_id"), SPECIFIC)
def test_a_question_goes_to_its_report_and_names_it(
    bot: FaqBot, question: str, report: str, passage_id: str
) -> None:
    reply = bot.ask(question)
    assert (reply.answered, reply.report, reply.passage_id) == (True, report, passage_id)
    name = bot.books[report].report.name  # type: ignore[attr-defined]
    assert sources(reply) and all(s.startswith(f"出处：《{name}》 ") for s in sources(reply))
    assert f"fb:good:{report}/{passage_id}" in actions(reply)
    assert all(":" not in a or a.startswith(("p:", "sec:", "fb:", "toc:", "slogans:", "rep:",
                                              "examples:")) for a in actions(reply))


@pytest.mark.parametrize("question", BOTH)
def test_a_question_both_reports_answer_offers_each(bot: FaqBot, question: str) -> None:
    reply = bot.ask(question)
    assert reply.plain().startswith("几份报告都能回答这个问题")
    assert f"《{CAIZHENG_NAME}》" in reply.plain() and f"《{SEED_NAME}》" in reply.plain()
    chosen = actions(reply)
    assert [a.split(":", 1)[1].split("/")[0] for a in chosen] == [CAIZHENG, SEED]
    for action in chosen:  # each button shows that report's answer
        report = action.split(":", 1)[1].split("/")[0]
        shown = bot.action(action)
        assert shown is not None and shown.report == report


def test_the_author_button_shows_each_reports_author(bot: FaqBot) -> None:
    seed, caizheng = (bot.action(a) for a in reversed(actions(bot.ask("作者是谁"))))
    assert seed is not None and "尤小波" in seed.plain()
    assert caizheng is not None and "王芳" in caizheng.plain()


def test_reports_lists_and_sets_the_default(bot: FaqBot) -> None:
    listed = bot.handle("/reports", "chat")
    assert f"1. 《{CAIZHENG_NAME}》（{CAIZHENG}）" in listed.plain()
    assert f"2. 《{SEED_NAME}》（{SEED}）" in listed.plain()
    assert actions(listed) == [f"rep:{CAIZHENG}", f"rep:{SEED}"]
    chosen = bot.action(f"rep:{SEED}", "chat")
    assert chosen is not None and f"《{SEED_NAME}》设为默认报告" in chosen.plain()
    assert "✓" in bot.handle("/reports", "chat").plain().split(SEED_NAME)[1].split("\n")[0]
    author = bot.ask("作者是谁", "chat")  # the default report answers what both answer
    assert (author.report, author.passage_id) == (SEED, "author")
    assert "尤小波" in author.plain()
    section = bot.ask("第二部分讲什么", "chat")
    assert (section.report, section.passage_id) == (SEED, "s2")
    assert bot.ask("一般公共预算收入完成了多少", "chat").report == CAIZHENG  # not a tie
    assert bot.ask("作者是谁", "other chat").plain().startswith("几份报告")  # per chat


@pytest.mark.parametrize(("argument", "report"), [("1", CAIZHENG), (SEED, SEED),
                                                  (f"《{SEED_NAME}》", SEED)])
def test_reports_with_an_argument_sets_the_default(bot: FaqBot, argument: str,
                                                   report: str) -> None:
    bot.handle(f"/reports {argument}", "chat")
    assert bot.default_report("chat") == report  # type: ignore[attr-defined]
    assert bot.handle("/section 1", "chat").report == report  # commands read it too


def test_reports_with_an_unknown_report_says_so(bot: FaqBot) -> None:
    reply = bot.handle("/reports 9", "chat")
    assert "没有这份报告：9" in reply.plain() and not reply.answered
    assert bot.default_report("chat") is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(("report", "passage_id"), [(SEED, "s2.m3"), (CAIZHENG, "s2.m1"),
                                                    (CAIZHENG, "intro"), (SEED, "s1")])
def test_buttons_and_deep_links_round_trip_to_the_reports_passage(
    bot: FaqBot, report: str, passage_id: str
) -> None:
    book = bot.books[report]  # type: ignore[attr-defined]
    alone = book.show(passage_id)
    pressed = bot.action(f"p:{report}/{passage_id}", "chat")
    linked = bot.handle(f"/start {deep_link(report, passage_id)}", "chat")
    for reply in (pressed, linked):
        assert reply is not None and reply.report == report
        assert reply.passage_id == passage_id
        assert [b.text for b in reply.blocks] == [b.text for b in alone.blocks]
        assert all(a.startswith(("p:", "sec:", "fb:", "toc:", "slogans:", "examples:"))
                   for a in actions(reply))
    for action in actions(pressed or alone):  # every button of the reply works
        assert bot.action(action, "chat") is not None, action


@pytest.mark.parametrize("data", [
    "p:s2.m3",  # a one-report button: which report?
    "p:nosuch/s2", f"p:{SEED}/s99", f"p:{SEED}/", "p:/s2", f"sec:{SEED}/s9", "sec:s1",
    "rep:nosuch", "toc:nosuch", "slogans:", f"fb:good:{SEED}/s99", f"fb:bad:{SEED}/",
    f"fb:other:{SEED}/s1", "fb:good:s1", "", "nonsense",
])
def test_unknown_or_malformed_buttons_of_two_reports_are_stale(bot: FaqBot, data: str) -> None:
    assert bot.action(data, "chat") is None
    assert bot.default_report("chat") is None  # type: ignore[attr-defined]


def test_a_deep_link_to_a_report_shows_its_contents(bot: FaqBot) -> None:
    reply = bot.handle(f"/start {CAIZHENG}")
    assert reply.report == CAIZHENG and CAIZHENG_NAME in reply.plain()


def test_welcome_and_help_name_every_report(bot: FaqBot) -> None:
    welcome = bot.handle("/start").plain()
    assert f"《{CAIZHENG_NAME}》、《{SEED_NAME}》" in welcome and "/reports" in welcome
    assert "/reports" in bot.handle("/help").plain()
    assert ("reports", "选择报告：默认回答哪一份") in bot.commands()


def test_inline_results_carry_the_report(bot: FaqBot) -> None:
    items, _ = bot.inline_page("督查问效")
    assert items[0].id == f"{SEED}/s2.m3"
    assert items[0].reply.report == SEED and f"《{SEED_NAME}》" in items[0].description
    every, following = bot.inline_page("", 0, 500)
    assert following is None
    ids = [item.id for item in every]
    assert len(ids) == len(set(ids)) == sum(
        len(b.report.passages) for b in bot.books.values())  # type: ignore[attr-defined]
    assert all(len(i.encode()) <= 64 for i in ids)


def test_follow_ups_stay_in_the_report_of_the_answer(bot: FaqBot) -> None:
    first = bot.ask("民生支出占一般公共预算支出的比重", "chat")
    assert (first.report, first.passage_id) == (CAIZHENG, "s2.m1")
    assert bot.contexts.recall_context("chat", 600) == f"{CAIZHENG}/s2.m1"
    following = bot.ask("下一点呢", "chat")
    assert (following.report, following.passage_id) == (CAIZHENG, "s2.m2")
    section = bot.ask("这是哪一部分的", "chat")
    assert (section.report, section.passage_id) == (CAIZHENG, "s2")
    other = bot.ask("那第三部分呢", "chat")  # another section of the same report
    assert (other.report, other.passage_id) == (CAIZHENG, "s3")


def test_a_context_kept_by_one_report_bot_is_still_read(bot: FaqBot) -> None:
    bot.contexts.remember_context("chat", "s2.m3")  # written before a second report came
    reply = bot.ask("下一点呢", "chat")
    assert (reply.report, reply.passage_id) == (CAIZHENG, "s2.m4")  # the first that has it


def test_small_talk_offers_questions_that_work(bot: FaqBot) -> None:
    reply = bot.ask("你好")
    assert CAIZHENG_NAME in reply.plain() and SEED_NAME in reply.plain()
    assert all(bot.action(a) is not None for a in actions(reply))


def test_a_question_no_report_answers_declines_with_suggestions(bot: FaqBot) -> None:
    reply = bot.ask("今天天气怎么样，明天会下雨吗")
    assert not reply.answered
    assert all(bot.action(a) is not None for a in actions(reply))


def test_ask_json_hits_name_their_report(two_reports_content: Path, project_root: Path,
                                          faqbot_cache_dir: Path) -> None:
    environment = {"FAQBOT_CONTENT": str(two_reports_content),
                   "FAQBOT_CACHE_DIR": str(faqbot_cache_dir), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", "--json", "督查问效是怎么做的", "作者是谁"],
        cwd=project_root, env=environment, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    specific, both = (json.loads(line) for line in done.stdout.splitlines())
    assert specific["hits"][0] | {"text": ""} == specific["hits"][0] | {
        "id": "s2.m3", "report": SEED, "text": ""}
    assert "出处：《思明区政府办工作经验材料》" in specific["reply"]
    assert {h["report"] for h in both["hits"]} == {SEED, CAIZHENG}
    assert all(h["report"] in (SEED, CAIZHENG) for h in specific["hits"])
    scores = [h["score"] for h in specific["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_validate_checks_every_report_of_a_folder(two_reports_content: Path, tmp_path: Path,
                                                   project_root: Path,
                                                   faqbot_cache_dir: Path) -> None:
    assert validate([two_reports_content]) == []
    bad = copy_of(two_reports_content, tmp_path / "content")
    (bad / f"{SEED}.yaml").rename(bad / "Seed.yaml")
    environment = {"FAQBOT_CACHE_DIR": str(faqbot_cache_dir), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "bot.cli", "validate"]
    good = subprocess.run([*command, str(two_reports_content)], cwd=project_root,
                          env=environment, capture_output=True, text=True, timeout=300)
    assert (good.returncode, good.stdout, good.stderr) == (
        0, f"ok: {two_reports_content}\n", "")
    refused = subprocess.run([*command, str(bad)], cwd=project_root, env=environment,
                             capture_output=True, text=True, timeout=300)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == (f"{bad / 'Seed.yaml'}:0: report id 'Seed' (the file's name) may "
                              "hold only a-z, 0-9, _ and -: rename the file\n")


def copy_of(content: Path, folder: Path) -> Path:
    shutil.copytree(content, folder)
    return folder


@pytest.mark.parametrize(("rename", "message"), [
    ("Siming Report.yaml", "report id 'Siming Report' (the file's name) may hold only a-z, "
                           "0-9, _ and -: rename the file"),
    ("s" * 50 + ".yaml", "report id '" + "s" * 50 + "' (the file's name) is too long: button "
                         "data for passage author would take 65 bytes, Telegram allows 64; "
                         "rename the file to at most 49 characters"),
])
def test_a_report_id_unfit_for_buttons_is_refused(
    two_reports_content: Path, tmp_path: Path, settings: Settings, rename: str, message: str
) -> None:
    folder = copy_of(two_reports_content, tmp_path / "content")
    (folder / f"{SEED}.yaml").rename(folder / rename)
    wanted = [f"{folder / rename}:0: {message}"]
    assert [str(p) for p in validate([folder])] == wanted
    with pytest.raises(ContentError) as error:
        Library.load(folder, None)
    assert [str(p) for p in error.value.problems] == wanted


def test_two_reports_of_one_name_are_refused(two_reports_content: Path, tmp_path: Path) -> None:
    folder = copy_of(two_reports_content, tmp_path / "content")
    shutil.copy(folder / f"{SEED}.yaml", folder / "copy.yaml")
    line = next(n for n, text in enumerate(
        (folder / "copy.yaml").read_text(encoding="utf-8").splitlines(), 1)
        if text.strip().startswith("name:"))
    assert [str(p) for p in validate([folder])] == [
        f"{folder / f'{SEED}.yaml'}:{line}: report name '{SEED_NAME}' is also the name of "
        f"{folder / 'copy.yaml'}: name each report differently"]


def test_one_report_in_a_folder_is_served_as_ever(settings: Settings, faq_bot: FaqBot,
                                                 tmp_path: Path) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    shutil.copy(settings.content / f"{SEED}.yaml", folder)
    alone = FaqBot.from_settings(dataclasses.replace(settings, content=folder))
    assert type(alone) is FaqBot and alone.report_id == SEED
    for question in ["督查问效是怎么做的", "作者是谁", "第二部分讲什么"]:
        reply = alone.ask(question)
        assert reply == faq_bot.ask(question) and reply.report == ""
        assert all("/" not in a for a in actions(reply))
        assert not any("《" in s for s in sources(reply))


def test_reload_serves_every_reports_new_content_and_keeps_the_set(
    settings: Settings, two_reports_content: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "content"
    shutil.copytree(two_reports_content, folder)
    bot = FaqBot.from_settings(dataclasses.replace(
        settings, content=folder, cache_dir=tmp_path / "cache"))
    assert isinstance(bot, ReportsBot)
    draft = folder / "caizheng-2021.yaml"
    draft.write_text(draft.read_text(encoding="utf-8").replace("36.8亿元", "39.9亿元"),
                     encoding="utf-8")
    bot.reload()
    answer = bot.handle("全区一般公共预算收入完成了多少").plain()
    assert "39.9亿元" in answer and "36.8亿元" not in answer
    # another set of reports needs a restart: the old set stays served
    (folder / "caizheng-copy.yaml").write_text(
        draft.read_text(encoding="utf-8").replace("稳字当头强保障", "另一份报告", 1),
        encoding="utf-8")
    with pytest.raises(ValueError, match="restart"):
        bot.reload()
    assert set(bot.books) == {"siming-report", "caizheng-2021"}
    assert "39.9亿元" in bot.handle("全区一般公共预算收入完成了多少").plain()
