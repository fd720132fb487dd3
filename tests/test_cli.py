"""The CLI contract: commands, exit codes, one-line errors, never a traceback."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.cli import EXIT_ERROR, build_parser, main
from bot.replies import FaqBot

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "content" / "raw" / "siming-report.txt"
ANSWERABLE = "以文辅政有什么要求"
OFF_TOPIC = "明天天气怎么样"
# Environment that would change what the CLI reads; tests start without them
# (FAQBOT_CACHE_DIR and FAQBOT_FEEDBACK_DB point into temp dirs: see conftest.py).
_OVERRIDES = (
    "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_API_BASE_URL",
    "FAQBOT_CONFIG", "FAQBOT_CONTENT", "FAQBOT_LOG_LEVEL",
)
CORE_COMMANDS = {"run", "chat", "ask", "validate", "import"}


def parser_commands() -> dict[str, str | None]:
    """Every command the CLI defines, with its one-line help."""
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    helps = {a.dest: a.help for a in subparsers._choices_actions}
    return {name: helps.get(name) for name in subparsers.choices}


COMMANDS = sorted(parser_commands())


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, faq_bot: FaqBot) -> None:
    """Run from the project root without a token; ``faq_bot`` has filled the index cache."""
    for name in _OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(ROOT)


def run(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`python -m bot ARGS` in the project root; no output may hold a traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, input=stdin, capture_output=True,
        text=True, timeout=60, env={**os.environ, **(env or {})},
    )
    assert "Traceback" not in result.stdout + result.stderr
    return result


def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    """bot.cli.main in this process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        code = main(list(args))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, text
    return lines[0]


# --- ask -------------------------------------------------------------------------


def test_ask_prints_the_reply(faq_bot: FaqBot) -> None:
    result = run("ask", ANSWERABLE)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == faq_bot.handle(ANSWERABLE).plain() + "\n\n"
    assert "出处：" in result.stdout


def test_ask_json_one_object_per_question(faq_bot: FaqBot) -> None:
    questions = [ANSWERABLE, OFF_TOPIC, "第二部分讲了什么"]
    result = run("ask", "--json", *questions)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == len(questions)
    for line, question in zip(lines, questions, strict=True):
        record = json.loads(line)
        assert set(record) == {"question", "answered", "band", "answer_span", "hits", "reply"}
        assert record["question"] == question
        expected = faq_bot.index.search(question, k=5)
        assert record["answered"] is expected.answered
        assert record["band"] == expected.band.value
        assert record["hits"] == [{**faq_bot.described(h).as_dict(), "report": "siming-report"}
                                  for h in expected.hits]
        assert record["reply"] == faq_bot.handle(question).plain()
        for hit in record["hits"]:
            assert set(hit) == {"id", "kind", "title", "text", "path", "score", "report"}
        scores = [h["score"] for h in record["hits"]]
        assert scores == sorted(scores, reverse=True)
    answered = [json.loads(line)["answered"] for line in lines]
    assert answered == [True, False, True]
    assert json.loads(lines[0])["hits"][0]["id"] == "s2.m2"


@pytest.mark.parametrize(("question", "hit"), [
    ("第三部分第一点是什么", {
        "id": "s3.m1", "kind": "missing", "title": "一是（原文缺失）",
        "text": "原文此处缺失：三、着力作风提效,确保工作落实的一是在来源中已丢失，"
                "报告只保留了四是。",
        "path": "三、着力作风提效 › 一是", "score": 100,
    }),
    ("这份材料一共分几个部分", {
        "id": "sections", "kind": "sections", "title": "报告目录", "text": "", "path": "全文",
        "score": 100,
    }),
    ("报告里有哪些口号", {
        "id": "slogans", "kind": "slogans", "title": "报告中的口号和提法", "text": "",
        "path": "全文", "score": 100,
    }),
])
def test_ask_json_describes_what_is_no_passage(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, question: str,
    hit: dict[str, object],
) -> None:
    code, out, _ = cli(capsys, monkeypatch, "ask", "--json", question)
    assert code == 0
    assert json.loads(one_line(out))["hits"] == [{**hit, "report": "siming-report"}]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_ask_json_k_limits_the_hits(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, faq_bot: FaqBot, k: int
) -> None:
    code, out, _ = cli(capsys, monkeypatch, "ask", "--json", "-k", str(k), ANSWERABLE)
    hits = json.loads(one_line(out))["hits"]
    assert code == 0
    assert len(hits) == min(k, len(faq_bot.index.search(ANSWERABLE, k=10).hits))
    assert [h["id"] for h in hits] == [h.id for h in faq_bot.index.search(ANSWERABLE, k=k).hits]


@pytest.mark.parametrize("args", [(), ("-",)], ids=["no-arguments", "dash"])
def test_ask_reads_questions_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    stdin = f"{ANSWERABLE}\n\n   \n{OFF_TOPIC}\n"
    code, out, err = cli(capsys, monkeypatch, "ask", "--json", *args, stdin=stdin)
    assert (code, err) == (0, "")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["question"] for r in records] == [ANSWERABLE, OFF_TOPIC]


def test_ask_reads_stdin_in_a_subprocess(faq_bot: FaqBot) -> None:
    result = run("ask", "-", stdin=f"{ANSWERABLE}\n{OFF_TOPIC}\n")
    assert result.returncode == 0
    expected = "".join(faq_bot.handle(q).plain() + "\n\n" for q in (ANSWERABLE, OFF_TOPIC))
    assert result.stdout == expected


# --- chat ------------------------------------------------------------------------


def test_chat_answers_each_piped_line_and_presses_buttons(faq_bot: FaqBot) -> None:
    toc = faq_bot.handle("/sections")
    second = [b for row in toc.buttons for b in row][1]
    section = faq_bot.action(second.action)
    beyond = str(len([b for row in section.buttons for b in row]) + 1)
    result = run("chat", stdin=f"{ANSWERABLE}\n\n/sections\n2\n{beyond}\n")
    assert (result.returncode, result.stderr) == (0, "")
    replies = [
        faq_bot.handle(ANSWERABLE), toc, section,
        faq_bot.handle(beyond),  # no such button: the number is a question
    ]
    assert result.stdout == "".join(r.plain() + "\n\n" for r in replies)


def test_chat_stops_at_quit(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, faq_bot: FaqBot
) -> None:
    code, out, _ = cli(capsys, monkeypatch, "chat", stdin=f"/help\n:quit\n{ANSWERABLE}\n")
    assert code == 0
    assert out == faq_bot.handle("/help").plain() + "\n\n"


# --- validate and import ---------------------------------------------------------------


@pytest.mark.parametrize("args", [(), ("content",), ("content/siming-report.yaml",)])
def test_validate_ok(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    code, out, err = cli(capsys, monkeypatch, "validate", *args)
    assert (code, err) == (0, "")
    assert one_line(out).startswith("ok: ")


def test_validate_broken_prints_file_line_on_stderr(tmp_path: Path) -> None:
    text = (ROOT / "content" / "siming-report.yaml").read_text(encoding="utf-8")
    text = text.replace("  - id: s2\n", "  - id: s1\n", 1).replace("source: s1.m2", "source: s9", 1)
    broken = tmp_path / "broken.yaml"
    broken.write_text(text, encoding="utf-8")
    result = run("validate", str(broken))
    assert result.returncode == EXIT_ERROR
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) >= 2
    for line in lines:
        assert re.fullmatch(rf"{re.escape(str(broken))}:\d+: \S.*", line), line
    assert any("slogan source 's9' is not a passage id" in line for line in lines)


def test_ask_with_broken_content_names_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "report.yaml"
    broken.write_text("report: [\n", encoding="utf-8")
    result = run("ask", ANSWERABLE, env={"FAQBOT_CONTENT": str(broken)})
    assert result.returncode == EXIT_ERROR
    assert re.fullmatch(rf"{re.escape(str(broken))}:\d+: invalid YAML: .+", one_line(result.stderr))


def test_import_prints_a_draft(faq_bot: FaqBot) -> None:
    result = run("import", "content/raw/siming-report.txt")
    assert result.returncode == 0
    # the cleaning summary goes to stderr (stdout is the YAML), one line per changed line
    assert result.stderr.startswith("junk removed from 15 lines (3 whole junk lines); 0 unsure")
    assert "line 19: removed start '* q# F3 c\" F- q', end ') z0 W# B: Q- ^% l1 c'" in result.stderr
    draft = yaml.safe_load(result.stdout)
    assert draft["report"]["intro"]["text"] == faq_bot.report.intro
    assert [s["title"] for s in draft["sections"]] == [s.title for s in faq_bot.report.sections]


def test_import_to_an_unwritable_place_is_one_line(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "draft.yaml"
    result = run("import", str(RAW), "-o", str(target))
    assert result.returncode == EXIT_ERROR
    assert f"{target}: cannot write" in one_line(result.stderr)


def test_validate_binary_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "report.yaml"
    path.write_bytes(b"\xff\xfe\x00\x01")
    result = run("validate", str(path))
    assert result.returncode == EXIT_ERROR
    assert one_line(result.stderr) == f"{path}:1: not UTF-8 text"


def test_import_writes_the_draft_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = tmp_path / "draft.yaml"
    code, out, _ = cli(capsys, monkeypatch, "import", str(RAW), "-o", str(target))
    assert code == 0
    assert str(target) in out.splitlines()[-1]
    assert out.startswith("junk removed from 15 lines")
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["report"]["byline"]
    # valid as written: source: is relative to the draft's folder
    assert main(["validate", str(target)]) == 0


def test_import_refuses_to_overwrite_without_force(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = tmp_path / "draft.yaml"
    target.write_text("mine\n", encoding="utf-8")
    code, _, err = cli(capsys, monkeypatch, "import", str(RAW), "-o", str(target))
    assert (code, target.read_text(encoding="utf-8")) == (EXIT_ERROR, "mine\n")
    assert "already exists; use --force" in one_line(err)
    code, _, _ = cli(capsys, monkeypatch, "import", str(RAW), "-o", str(target), "--force")
    assert code == 0 and target.read_text(encoding="utf-8").startswith("report:")


def write_if_given(path: Path, content: str | bytes | None) -> Path:
    """Write text or bytes to path; None leaves the file missing."""
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"), ("a1 b2 c3\n#$ %^\n", "no report text"),
        (b"\xff\xfe\x00", "not UTF-8"), ("", "no report text"),
        (b"\x00\x01\x02ELF", "binary"), ("这是一段普通的中文文字。\n", "no sections"),
        ("plain English text only\n", "no Chinese text"),
    ],
    ids=["missing", "junk-only", "not-utf8", "empty", "binary", "no-sections", "not-chinese"],
)
def test_import_errors_are_one_line(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    source = write_if_given(tmp_path / "raw.txt", content)
    result = run("import", str(source))
    assert result.returncode == EXIT_ERROR
    assert message in one_line(result.stderr)


# --- errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("frobnicate",), ("ask", "-k", "many", "x"), ("validate", "--nope"), ("import",)],
    ids=["unknown-command", "bad-option-value", "unknown-option", "missing-argument"],
)
def test_usage_errors_are_one_line_exit_2(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode == EXIT_ERROR
    assert one_line(result.stderr).startswith("faqbot: ")
    assert result.stdout == ""


def test_no_command_prints_help_and_exits_2() -> None:
    result = run()
    assert result.returncode == EXIT_ERROR
    for name in COMMANDS:
        assert name in result.stderr


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("match: [1,\n", "invalid YAML"),
        ("colour: blue\n", "unknown setting 'colour'"),
        ("match:\n  answer_threshold: high\n", "'match.answer_threshold' must be a whole number"),
        ("match:\n  answer_threshold: 10\n  suggest_threshold: 20\n", "suggest_threshold"),
        ("telegram:\n  mode: carrier-pigeon\n", "telegram.mode"),
        ("telegram:\n  token: '123:abc'\n", "unknown setting 'telegram.token'"),
        ("- a list\n", "must be a mapping"),
        (None, "configuration file not found"),
        ("texts:\n  welcom: 你好\n", "unknown text 'texts.welcom'"),
        ("texts:\n  source: '出处：{paht}'\n", "'texts.source' uses {paht}"),
        ("texts:\n  welcome: '您好 {report'\n", "'texts.welcome' has unbalanced braces"),
        ("texts:\n  decline: 5\n", "'texts' must map names to text"),
        ("texts:\n  decline: 抱歉\n".encode("gb18030"), ":2: not UTF-8 text"),
    ],
    ids=[
        "syntax", "unknown", "type", "thresholds", "mode", "token-in-file", "list", "missing",
        "unknown-text", "unknown-placeholder", "unbalanced-braces", "text-type", "not-utf8",
    ],
)
def test_broken_config_is_one_line_exit_2(
    tmp_path: Path, config: str | bytes | None, message: str
) -> None:
    path = write_if_given(tmp_path / "config.yaml", config)
    result = run("--config", str(path), "ask", ANSWERABLE)
    assert result.returncode == EXIT_ERROR
    line = one_line(result.stderr)
    assert str(path) in line and message in line
    assert result.stdout == ""


def test_broken_config_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAQBOT_CONFIG", str(tmp_path / "nowhere.yaml"))
    code, out, err = cli(capsys, monkeypatch, "ask", ANSWERABLE)
    assert (code, out) == (EXIT_ERROR, "")
    assert "nowhere.yaml" in one_line(err)


# --- run ---------------------------------------------------------------------------


def test_run_telegram_without_token_exits_2() -> None:
    result = run("run", "--telegram")
    assert result.returncode == EXIT_ERROR
    assert "TELEGRAM_BOT_TOKEN" in one_line(result.stderr)
    assert result.stdout == ""


def test_run_without_token_falls_back_to_console_chat(faq_bot: FaqBot) -> None:
    result = run("run", stdin=f"{ANSWERABLE}\n")
    assert result.returncode == 0
    note, _, rest = result.stdout.partition("\n")
    assert "TELEGRAM_BOT_TOKEN" in note
    assert rest == faq_bot.handle(ANSWERABLE).plain() + "\n\n"


@pytest.mark.parametrize("token", ["", "   "], ids=["empty", "blank"])
def test_run_treats_a_blank_token_as_none(token: str) -> None:
    result = run("run", "--telegram", env={"TELEGRAM_BOT_TOKEN": token})
    assert result.returncode == EXIT_ERROR
    assert "TELEGRAM_BOT_TOKEN" in one_line(result.stderr)


# --- help --------------------------------------------------------------------------


def test_every_command_is_documented() -> None:
    commands = parser_commands()
    assert CORE_COMMANDS <= set(commands)
    assert [name for name, about in commands.items() if not about] == []


@pytest.mark.parametrize("name", COMMANDS)
def test_command_help_has_an_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    code, out, _ = cli(capsys, monkeypatch, name, "--help")
    assert code == 0
    assert re.search(rf"Example: .*faqbot {name}\b", out), out


def test_python_m_bot_works() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "faqbot" in result.stdout
    for name in COMMANDS:
        assert name in result.stdout
