"""faqbot import on reports of the genre in every style, clean and salted with junk."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import yaml

from bot.cleaning import clean_line
from bot.config import Settings
from bot.content import MAX_PASSAGE_CHARS, load_file, sentences, validate
from bot.importer import build_draft, split_byline
from bot.replies import FaqBot
from tests.junk import salt

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "tests" / "data" / "reports"
SEED = ROOT / "content" / "raw" / "siming-report.txt"
SEED_CLEAN = ROOT / "content" / "siming-report.yaml"

# file -> (sections, measures, author, role, issuer, date, title, closing starts with)
EXPECTED = {
    "caizheng-2021.txt": (5, 14, "王芳", "云川市东湖区财政局党组书记、局长", "", "",
                          "稳字当头强保障 改革创新提效能", "2022年，区财政局将"),
    "gongxinju-2022.txt": (5, 4, "李建国", "青禾县工业和信息化局局长", "", "",
                           "聚力工业强县 奋力争先进位", "下一步，"),
    "jiaoyu-2023.txt": (4, 18, "陈晓梅", "南湖区教育局", "", "",
                        "深化集团化办学 推动区域教育优质均衡发展", "区域教育优质均衡发展任重道远"),
    "zhengce-2019.txt": (3, 16, "", "", "滨江市人民政府办公厅", "2019年3月5日",
                         "滨江市2019年优化营商环境工作要点", "各县（市、区）人民政府"),
    "real-guofa-2018-42-nongji.txt": (
        8, 20, "", "", "国务院", "2018年12月21日",
        "国务院关于加快推进农业机械化和\n农机装备产业转型升级的指导意见", "（此件公开发布）"),
    "real-guobanhan-2005-57-liangshi.txt": (
        7, 24, "", "", "国务院办公厅", "二〇〇五年六月十一日",
        "国务院办公厅关于印发\n国 家 粮 食 应 急 预 案 的 函", ""),
    "real-guofa-2019-4-zhijiao.txt": (
        7, 20, "", "", "国务院", "2019年1月24日",
        "国务院关于印发国家职业教育改革\n实施方案的通知", ""),
}


def import_to(tmp_path: Path, raw_text: str, name: str) -> Path:
    """`faqbot import raw -o draft.yaml` as the core does it, raw beside in raw/."""
    raw = tmp_path / "raw" / name
    raw.parent.mkdir(exist_ok=True)
    raw.write_text(raw_text, encoding="utf-8")
    out = tmp_path / "draft.yaml"
    source = os.path.relpath(raw, out.parent)
    out.write_text(build_draft(raw_text, source, raw.stem).yaml, encoding="utf-8")
    return out


def original_sentences(text: str) -> list[str]:
    """The clean original, sentence by sentence (layout whitespace and a line's own
    wrapping brackets aside: a byline is kept without them)."""
    lines = [line.strip(" \u3000\t") for line in text.splitlines()]
    out = []
    for line in lines:
        if line:
            if line[0] in "（(" and line[-1] in "）)" and not set("（()）") & set(line[1:-1]):
                line = line[1:-1]
            out.extend(sentences(line))
    return out


def yaml_sentences(path: Path) -> list[str]:
    report = load_file(path)
    return sorted(
        s for line in [*report.source_lines(), *report.metadata_lines()]
        for s in sentences(line[1:-1] if line[:1] in "（(" and line[-1:] in "）)"
                           and not set("（()）") & set(line[1:-1]) else line)
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_structure_and_metadata_of_each_style(tmp_path: Path, name: str) -> None:
    path = import_to(tmp_path, (REPORTS / name).read_text(encoding="utf-8"), name)
    assert validate([path]) == []
    report = load_file(path)
    sections, measures, author, role, issuer, date, title, closing = EXPECTED[name]
    assert (len(report.sections), sum(len(s.measures) for s in report.sections)) == (
        sections, measures)
    assert (report.author, report.role, report.issuer, report.date, report.title) == (
        author, role, issuer, date, title)
    assert report.closing.startswith(closing) and bool(report.closing) == bool(closing)
    assert max(len(p.text) for p in report.passages) <= MAX_PASSAGE_CHARS


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("density", [0.3, 0.7, 1.0])
@pytest.mark.parametrize("seed", [1, 2])
def test_junk_is_removed_and_nothing_else(tmp_path: Path, name: str, density: float,
                                          seed: int) -> None:
    clean = (REPORTS / name).read_text(encoding="utf-8")
    salted = salt(clean, seed, density)
    assert salted != clean
    path = import_to(tmp_path, salted, name)
    assert validate([path]) == []
    # every sentence of the clean original exactly once, nothing else
    assert yaml_sentences(path) == sorted(original_sentences(clean))
    # the same draft as from the clean original
    assert build_draft(salted, "x", "x").yaml == build_draft(clean, "x", "x").yaml


def test_long_measures_are_split_into_parts_with_their_parent_path(tmp_path: Path) -> None:
    path = import_to(tmp_path, (REPORTS / "zhengce-2019.txt").read_text(encoding="utf-8"), "z.txt")
    report = load_file(path)
    parts = [p for p in report.passages if p.kind == "part"]
    assert {p.parent for p in parts} >= {"s2.m2"}
    first = next(p for p in parts if p.id == "s2.m2.p1")
    assert first.path.startswith("第二部分　重点任务 › 2.") and first.path.endswith("第1段")
    assert "s2.m2" not in {p.id for p in report.passages}  # the parts stand for it
    measure = report.section(2).measure(2)  # type: ignore[union-attr]
    joined = "".join(p.text for p in parts if p.parent == "s2.m2")
    assert joined.replace("\n", "") == measure.text.replace("\n", "")  # type: ignore[union-attr]


def test_the_seed_imports_to_its_curated_passages(tmp_path: Path) -> None:
    path = import_to(tmp_path, SEED.read_text(encoding="utf-8"), "siming-report.txt")
    draft, curated = load_file(path), load_file(SEED_CLEAN)
    kept = [(p.id, p.title, p.text) for p in curated.passages if p.kind != "slogan"]
    assert [(p.id, p.title, p.text) for p in draft.passages if p.kind != "slogan"] == kept
    assert not [p for p in curated.passages if p.kind == "part"]


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("x- F6 2021年以来,全区GDP增长3.6%。", "2021年以来,全区GDP增长3.6%。"),
        ("2021年以来,全区投资增长。7 N2 `.", "2021年以来,全区投资增长。"),
        ("Q: {9 W8 （一）加强领导。", "（一）加强领导。"),
        ("a4 S( (一)加强领导。", "(一)加强领导。"),
        ("拨打12345热线,压缩至0.8个工作日,达97.2%", "拨打12345热线,压缩至0.8个工作日,达97.2%"),
        ("建成5G基站,新增A级景区 x- F6", "建成5G基站,新增A级景区"),
        ("* q# F3 c\" F- q(作者系某区政府办主任张三)) z0 W#", "(作者系某区政府办主任张三)"),
    ],
)
def test_cleaning_keeps_real_ascii(raw: str, text: str) -> None:
    assert clean_line(raw)[0] == text


def test_cleaning_reports_what_it_is_unsure_of() -> None:
    text, report = clean_line("x- 5G 网络覆盖全区。")
    assert text.startswith("5G") and report.doubts


@pytest.mark.parametrize(
    ("byline", "author", "role"),
    [
        ("作者系某市某区财政局局长张明", "张明", "某市某区财政局局长"),
        ("作者系云川市东湖区财政局党组书记、局长王芳", "王芳", "云川市东湖区财政局党组书记、局长"),
        ("作者：李建国，青禾县工业和信息化局局长", "李建国", "青禾县工业和信息化局局长"),
        ("作者单位：南湖区教育局\n陈晓梅", "陈晓梅", "南湖区教育局"),
        ("作者系某区发展和改革委员会副主任欧阳明辉", "欧阳明辉", "某区发展和改革委员会副主任"),
    ],
)
def test_bylines_split_by_title_words(byline: str, author: str, role: str) -> None:
    assert split_byline(byline) == (author, role)


def test_validate_names_missing_changed_and_repeated_sentences(tmp_path: Path) -> None:
    path = import_to(tmp_path, SEED.read_text(encoding="utf-8"), "siming-report.txt")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    measures = document["sections"][0]["measures"]
    measures[0]["text"] = measures[0]["text"].replace("增强党性意识,", "")  # changed
    measures[1]["text"] += measures[1]["text"].split("。")[0] + "。"  # repeated
    document["sections"][1]["text"] = ""  # missing
    del document["sections"][1]["text"]
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    problems = {p.message: p.line for p in validate([path])}
    assert len(problems) == 3, problems

    def line_of(message: str, marker: str) -> None:
        [found] = [line for m, line in problems.items() if m.startswith(message)]
        assert text.splitlines()[found - 1].lstrip().startswith(marker), (message, found)

    line_of("sentence changed: '坚持与党中央保持", "text: 坚持与党中央保持")
    line_of("sentence repeated: '牢固执政为民理念", "text: 牢固执政为民理念")
    line_of("sentence missing: '我们坚持用创造性思维", "title: 着力业务提速")


def ask(tmp_path: Path, yaml_path: Path, question: str) -> str:
    """`faqbot --config CONFIG ask QUESTION` on an imported report, as a user runs it."""
    import subprocess
    import sys

    config = tmp_path / "config.yaml"
    config.write_text(
        f"content: {yaml_path}\ncache_dir: {tmp_path / 'cache'}\n"
        f"feedback_db: {tmp_path / 'fb.sqlite3'}\n", encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), "ask", question],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("name", "question", "answer"),
    [
        ("zhengce-2019.txt", "这个文件是谁发布的",
         "本文件由滨江市人民政府办公厅于2019年3月5日发布，未署个人作者。"),
        ("zhengce-2019.txt", "作者是谁", "未署个人作者"),
        ("caizheng-2021.txt", "作者是谁", "王芳，云川市东湖区财政局党组书记、局长。"),
        ("zhengce-2019.txt", "怎么强化督查考核", "建立全市营商环境评价制度"),
    ],
)
def test_an_imported_report_answers_at_once(
    tmp_path: Path, name: str, question: str, answer: str
) -> None:
    path = import_to(tmp_path, (REPORTS / name).read_text(encoding="utf-8"), name)
    assert answer in ask(tmp_path, path, question)


def test_who_wrote_it_is_declined_when_nothing_names_an_author(tmp_path: Path) -> None:
    raw = "\n".join(
        line for line in (REPORTS / "gongxinju-2022.txt").read_text(encoding="utf-8").splitlines()
        if not line.startswith("（作者")
    )
    path = import_to(tmp_path, raw, "anonymous.txt")
    assert load_file(path).author == ""
    assert "没有署名" in ask(tmp_path, path, "这篇文章的作者是谁")


@pytest.fixture
def zhengce_bot(tmp_path: Path, settings: Settings) -> FaqBot:
    path = import_to(tmp_path, (REPORTS / "zhengce-2019.txt").read_text(encoding="utf-8"), "z.txt")
    return FaqBot.from_settings(dataclasses.replace(settings, content=path))


def test_a_question_gets_one_part_and_the_measure_button_all_of_it(zhengce_bot: FaqBot) -> None:
    parts = [p for p in zhengce_bot.report.passages if p.parent == "s2.m2" and p.kind == "part"]
    whole = zhengce_bot.show("s2.m2")
    texts = [b.text for b in whole.blocks if b.kind == "text"]
    assert texts == [p.text for p in parts] and len(parts) >= 2
    labels = [b.label for b in whole.buttons[-1]]
    assert labels[0].startswith("◀") and labels[1:-1] == ["↩ 目录"] and labels[-1].endswith("▶")
    reply = zhengce_bot.ask(parts[1].text[:40])
    assert reply.passage_id == parts[1].id
    assert len("".join(b.text for b in reply.blocks if b.kind == "text")) <= MAX_PASSAGE_CHARS


CHAPTERS = """\
某县农村人居环境整治实施办法
（2020年6月1日）
为改善农村人居环境，制定本办法。
第一章　总则
本办法适用于全县行政村。
第二章　主要任务
1、推进厕所革命。2020年完成改厕3000户。
——新建公厕12座；
——改造户厕2988户。
2、治理生活垃圾。建立村收集、镇转运、县处理体系。
第三章　附则
各乡镇要结合实际制定细则。
本办法自发布之日起施行。
某县人民政府办公室
"""


def test_chapters_numbered_items_bullets_and_a_front_date(tmp_path: Path) -> None:
    path = import_to(tmp_path, salt(CHAPTERS, 3, 1.0), "chapters.txt")
    assert validate([path]) == []
    report = load_file(path)
    assert [s.heading for s in report.sections] == [
        "第一章　总则", "第二章　主要任务", "第三章　附则"]
    [first, second] = report.sections[1].measures
    assert (first.heading, first.text) == (
        "1、推进厕所革命", "2020年完成改厕3000户。\n——新建公厕12座；\n——改造户厕2988户。")
    assert second.id == "s2.m2"
    assert (report.title, report.date, report.issuer) == (
        "某县农村人居环境整治实施办法", "2020年6月1日", "某县人民政府办公室")
    assert report.intro == "为改善农村人居环境，制定本办法。"
    assert report.sections[2].text == "各乡镇要结合实际制定细则。"
    assert report.closing == "本办法自发布之日起施行。"
