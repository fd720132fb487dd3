"""Hostile and broken input: YAML bombs, values that would break the bot, unreadable
files, bytes that are not UTF-8, and `import` guarding its files.

Every case ends the same way: exit code 2, exactly one line on stderr, no traceback.
The YAML bombs run in a subprocess with its address space capped, so a loader that
expands them fails the test instead of taking the machine's memory.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bot.cli
from bot import safe_yaml
from bot.config import NUMBER_RANGES, MatchSettings, Settings, TelegramSettings, load_settings
from bot.content import load_report, parse_number, validate
from bot.errors import EXIT_ERROR
from bot.replies import FaqBot, rendering_problems
from bot.search import Index

ROOT = Path(__file__).resolve().parents[1]
CONTENT = ROOT / "content" / "siming-report.yaml"
RAW = ROOT / "content" / "raw" / "siming-report.txt"
MEMORY_CAP = 1024**3  # the CLI answers in about 300 MB; the billion laughs needs 20 GB and more
TIMEOUT = 120  # seconds; the checks take about one
_OVERRIDES = (
    "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_API_BASE_URL",
    "FAQBOT_CONFIG", "FAQBOT_CONTENT", "FAQBOT_LOG_LEVEL", "FAQBOT_DEBUG",
)


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def faqbot(
    *args: str | bytes, env: dict[str, str] | None = None, stdin: bytes = b"", cwd: Path = ROOT
) -> subprocess.CompletedProcess[bytes]:
    """`python -m bot ARGS` with at most MEMORY_CAP of address space."""
    environ = {k: v for k, v in os.environ.items() if k not in _OVERRIDES}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, input=stdin, capture_output=True,
        timeout=TIMEOUT, preexec_fn=_cap_memory,
        env={**environ, "PYTHONPATH": str(ROOT), **(env or {})},  # this tree's bot, from any cwd
    )


def one_error_line(result: subprocess.CompletedProcess[bytes]) -> str:
    """The single stderr line of a run that failed cleanly with exit code 2."""
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err + result.stdout.decode("utf-8", "replace"), err[-2000:]
    assert result.returncode == EXIT_ERROR, (result.returncode, err[-2000:])
    lines = err.splitlines()
    assert len(lines) == 1, err[-2000:]
    return lines[0]


def line_of(text: str, marker: str) -> int:
    return text[: text.index(marker)].count("\n") + 1


def report_dir(tmp_path: Path, text: str, name: str = "report.yaml") -> Path:
    """A content directory holding one report file with ``text`` and the raw source."""
    folder = tmp_path / "content"
    (folder / "raw").mkdir(parents=True, exist_ok=True)
    shutil.copy(RAW, folder / "raw")
    (folder / name).write_text(text, encoding="utf-8")
    return folder


# --- 4. YAML bombs and deep nesting ----------------------------------------------------


def billion_laughs(last: str) -> str:
    """Ten aliases per level, nine levels: 10**9 nodes once expanded, 1 KB on disk."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n" + last + "\n"


BOMBS = {
    # an alias as a mapping key: once made the validator print the expanded key (24 GB)
    "alias-key": billion_laughs("report:\n  *a9 : boom"),
    "alias-values": billion_laughs("report: *a9"),
    "deep-brackets": "report: " + "[" * 500 + "]" * 500 + "\n",
    "deep-mappings": "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v\n",
    "recursive-alias": "report: &loop [*loop]\n",
}


@pytest.mark.parametrize("bomb", BOMBS, ids=list(BOMBS))
@pytest.mark.parametrize("where", ["validate", "ask", "config", "eval"])
def test_yaml_bombs_are_one_line_under_a_memory_cap(
    tmp_path: Path, bomb: str, where: str
) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMBS[bomb], encoding="utf-8")
    if where == "validate":
        result = faqbot("validate", str(path))
    elif where == "ask":  # the bot's own start
        result = faqbot("ask", "你好", env={"FAQBOT_CONTENT": str(path)})
    elif where == "config":
        result = faqbot("--config", str(path), "ask", "你好")
    else:
        result = faqbot("eval", str(path))
    line = one_error_line(result)
    assert str(path) in line
    assert any(word in line for word in ("nodes", "levels deep", "contains it")), line


def test_a_non_text_key_is_a_line_not_a_repr(tmp_path: Path) -> None:
    path = tmp_path / "key.yaml"
    path.write_text("report:\n  ? [id, name]\n  : x\n", encoding="utf-8")
    line = one_error_line(faqbot("validate", str(path)))
    assert line == f"{path}:2: a key must be plain text, not a list or mapping"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a' (first at line 1)"),
        ("a: &x [1]\n" + "".join(f"b{i}: *x\n" for i in range(101)), 102, "more than 100 aliases"),
        ("a: 1\n<<: {b: 2}\n", 2, "merge keys (<<) are not supported"),
        ('a: "\\udc00"\n', 1, "lone surrogate \\udc00 is not text"),
        ("[" * 51 + "]" * 51, 1, "nested more than 50 levels deep"),
    ],
    ids=["duplicate", "aliases", "merge", "surrogate", "depth"],
)
def test_limited_loader_refuses_with_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = tmp_path / "x.yaml"
    with pytest.raises(safe_yaml.YamlFileError) as error:
        safe_yaml.compose(path, text)
    assert (error.value.line, error.value.message[: len(message)]) == (line, message)


def test_limited_loader_keeps_what_is_within_the_limits(tmp_path: Path) -> None:
    text = "[" * 49 + "]" * 49 + "\n"  # the root counts as a level
    assert safe_yaml.compose(tmp_path / "x.yaml", text) is not None
    shared = "q: &q [a, b]\n" + "".join(f"r{i}: *q\n" for i in range(100))
    node = safe_yaml.compose(tmp_path / "x.yaml", shared)
    assert node is not None and len(node.value) == 101


@pytest.mark.parametrize("where", ["content", "config"])
def test_files_over_the_size_cap_are_refused_unread(tmp_path: Path, where: str) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as handle:  # sparse: the size is all that matters
        handle.truncate(3 * 1024 * 1024)
    args = ("validate", str(path)) if where == "content" else ("--config", str(path), "ask", "x")
    line = one_error_line(faqbot(*args))
    assert "bytes; the limit is" in line


# --- 8. Config values that pass but break the bot -----------------------------------


BAD_CONFIG = [
    ("match:\n  related: -1\n", "'match.related' must be 0 to 5, not -1"),
    ("match:\n  related: 6\n", "'match.related' must be 0 to 5"),
    ("match:\n  related_threshold: 101\n", "'match.related_threshold' must be 0 to 100"),
    ("telegram:\n  webhook_port: 70000\n", "'telegram.webhook_port' must be 1 to 65535"),
    ("telegram:\n  webhook_port: 0\n", "'telegram.webhook_port' must be 1 to 65535"),
    ("texts:\n  source: '出处：{path:>999999999}'\n", "uses {path:>999999999}"),
    ("texts:\n  source: '{path.__class__}'\n", "uses {path.__class__}"),
    ("texts:\n  source: '{path[0]}'\n", "uses {path[0]}"),
    ("texts:\n  source: '{path!r}'\n", "uses {path!r}"),
    ("texts:\n  source: '{}'\n", "uses {}"),
    ("match:\n  related: 1\n  related: 2\n", ":3: duplicate key 'related' (first at line 2)"),
    ("telegram:\n  mode: Webhook\n", "telegram.mode must be 'polling' or 'webhook'"),
    ("telegram:\n  base_url: file:///etc/passwd\n", "telegram.base_url must be an http(s) URL"),
    ("telegram:\n  base_url: 'http://'\n", "telegram.base_url must be an http(s) URL"),
    ("telegram:\n  webhook_url: 'https://x.org:99999/'\n", "webhook_url must be an http(s) URL"),
    ("telegram:\n  webhook_path: ../admin\n", "telegram.webhook_path must be path segments"),
    ("telegram:\n  webhook_path: 'a b?c=1'\n", "telegram.webhook_path must be path segments"),
    ("telegram:\n  webhook_path: ''\n", "telegram.webhook_path must be path segments"),
    ("telegram:\n  webhook_listen: localhost\n", "webhook_listen must be an IP address"),
    ("telegram:\n  webhook_listen: 300.1.1.1\n", "webhook_listen must be an IP address"),
    ("content: ''\n", "'content' must be a path"),
    ("content: ' '\n", "'content' must be a path"),
    ("content: \"a\\0b\"\n", "'content' must be a path"),
    ("telegram:\n  webhook_path: a/./b\n", "telegram.webhook_path must be path segments"),
    ("match:\n  answer_threshold: 99999999999999999999999\n", "must be 0 to 100"),
]


@pytest.mark.parametrize(("config", "message"), BAD_CONFIG, ids=[m for _, m in BAD_CONFIG])
def test_config_values_that_would_break_the_bot_are_refused(
    tmp_path: Path, config: str, message: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config, encoding="utf-8")
    line = one_error_line(faqbot("--config", str(path), "ask", "以文辅政有什么要求"))
    assert line.startswith(f"faqbot: {path}") and message in line, line


@pytest.mark.parametrize(
    "config",
    [
        "match:\n  related: 0\n  related_threshold: 100\n",
        "match:\n  related: 5\n  answer_threshold: 100\n  suggest_threshold: 0\n",
        "telegram:\n  webhook_port: 1\n  webhook_listen: '::1'\n",
        "telegram:\n  webhook_port: 65535\n  webhook_listen: 0.0.0.0\n",
        "telegram:\n  webhook_path: /hooks/bot-1.v2\n  webhook_url: https://x.org/hooks\n",
        "telegram:\n  base_url: http://127.0.0.1:8081/bot\n",
    ],
)
def test_values_at_the_edges_of_their_ranges_are_kept(tmp_path: Path, config: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config, encoding="utf-8")
    load_settings(path, environ={})


def test_doubled_braces_are_braces_in_every_text(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("texts:\n  source: '{{出处}}：{path}'\n  decline: '没有{{答案}}'\n",
                    encoding="utf-8")
    settings = load_settings(path, environ={})
    assert settings.text("source", path="引言") == "{出处}：引言"
    assert settings.text("decline") == "没有{答案}"


def test_every_number_of_the_settings_has_a_documented_range() -> None:
    numbers = {
        f"{section}.{f.name}"
        for section, cls in (("match", MatchSettings), ("telegram", TelegramSettings))
        for f in dataclasses.fields(cls)
        if isinstance(f.default, int) and not isinstance(f.default, bool)
    }
    assert numbers == set(NUMBER_RANGES)
    config_lines = (ROOT / "config.yaml").read_text(encoding="utf-8").splitlines()
    undocumented = [
        key for key, (low, high) in NUMBER_RANGES.items()
        if not any(line.strip().startswith(key.split(".")[1] + ":") and f"{low}-{high}" in line
                   for line in config_lines)
    ]
    assert undocumented == []


def test_the_webhook_listens_on_loopback_by_default(tmp_path: Path) -> None:
    empty = tmp_path / "config.yaml"
    empty.write_text("", encoding="utf-8")
    assert load_settings(empty, environ={}).telegram.webhook_listen == "127.0.0.1"
    shipped = load_settings(ROOT / "config.yaml", environ={})
    assert shipped.telegram.webhook_listen == "127.0.0.1"


def test_duplicate_keys_in_content_are_refused(tmp_path: Path) -> None:
    text = CONTENT.read_text(encoding="utf-8").replace(
        "  id: siming-report\n", "  id: siming-report\n  id: other\n", 1
    )
    folder = report_dir(tmp_path, text)
    line = one_error_line(faqbot("validate", str(folder)))
    first = line_of(text, "  id: siming-report")
    where = f"{folder / 'report.yaml'}:{first + 1}"
    assert line == f"{where}: duplicate key 'id' (first at line {first})"


# --- 11. IO errors: one line, the traceback only on request --------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "report.yaml"
    os.mkfifo(path)
    return path


def test_content_that_is_a_fifo_is_refused_without_blocking(fifo: Path) -> None:
    assert one_error_line(faqbot("validate", str(fifo))) == f"{fifo}:0: is not a regular file"
    line = one_error_line(faqbot("ask", "你好", env={"FAQBOT_CONTENT": str(fifo.parent)}))
    assert line == f"{fifo}:0: is not a regular file"


def test_a_directory_where_the_report_should_be(tmp_path: Path) -> None:
    (tmp_path / "report.yaml").mkdir()
    line = one_error_line(faqbot("ask", "你好", env={"FAQBOT_CONTENT": str(tmp_path)}))
    assert line == f"{tmp_path / 'report.yaml'}:0: is a directory, not a file"


def test_a_device_as_content_is_refused() -> None:
    line = one_error_line(faqbot("validate", "/dev/zero"))
    assert line == "/dev/zero:0: is not a regular file"


@pytest.mark.parametrize("where", ["validate", "config"])
def test_a_path_through_a_regular_file(tmp_path: Path, where: str) -> None:
    path = tmp_path / "file.txt"
    path.write_text("x", encoding="utf-8")
    through = path / "report.yaml"
    args = ("validate", str(through)) if where == "validate" else ("--config", str(through), "ask")
    assert str(through) in one_error_line(faqbot(*args))


def test_a_config_that_is_a_directory(tmp_path: Path) -> None:
    line = one_error_line(faqbot("--config", str(tmp_path), "ask", "你好"))
    assert line == f"faqbot: {tmp_path}: is a directory, not a file"


def test_a_default_config_that_is_a_directory_is_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").mkdir()
    line = one_error_line(faqbot("ask", "你好", cwd=tmp_path))
    assert line == "faqbot: config.yaml: is a directory, not a file"


def test_content_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    folder = report_dir(tmp_path, "")
    (folder / "report.yaml").write_bytes(b"report:\n  id: \xff\xfe\n")
    line = one_error_line(faqbot("ask", "你好", env={"FAQBOT_CONTENT": str(folder)}))
    assert line == f"{folder / 'report.yaml'}:2: not UTF-8 text"


@pytest.mark.parametrize("command", ["ask", "chat"])
def test_stdin_that_is_not_utf8(command: str) -> None:
    line = one_error_line(faqbot(command, stdin=b"\xff\xfe\xfd\n"))
    assert line.startswith("faqbot: the input is not UTF-8 text")


def test_arguments_that_are_not_utf8() -> None:
    line = one_error_line(faqbot("ask", b"\xff\xfe"))
    assert line == "faqbot: the command line is not UTF-8 text"


def _crash(args: object) -> int:
    raise RuntimeError("a bug\nover two lines")


@pytest.mark.parametrize(
    ("flag", "environ", "traceback"),
    [((), {}, False), (("--debug",), {}, True), ((), {"FAQBOT_DEBUG": "1"}, True)],
    ids=["quiet", "--debug", "FAQBOT_DEBUG"],
)
def test_an_unexpected_error_is_one_line_unless_debugging(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    flag: tuple[str, ...], environ: dict[str, str], traceback: bool,
) -> None:
    monkeypatch.delenv("FAQBOT_DEBUG", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(bot.cli, "cmd_review", _crash)
    assert bot.cli.main([*flag, "review"]) == EXIT_ERROR
    err = capsys.readouterr().err
    last = "faqbot: unexpected error: RuntimeError: a bug over two lines (--debug or"
    assert err.splitlines()[-1].startswith(last)
    assert ("Traceback" in err) is traceback
    if not traceback:
        assert len(err.splitlines()) == 1


def test_os_errors_of_a_command_are_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    result = faqbot("import", str(RAW), "-o", str(blocker / "out" / "draft.yaml"))
    assert str(blocker) in one_error_line(result)


def test_an_unwritable_use_log_is_one_warning_and_the_chat_goes_on(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    result = faqbot("chat", stdin="明天天气怎么样\n海峡论坛\n".encode(),
                    env={"FAQBOT_FEEDBACK_DB": str(blocker / "db" / "faqbot.sqlite3")})
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if "WARNING" in line] != []
    assert len(err.strip().splitlines()) == 1, err
    assert "海峡论坛" in result.stdout.decode("utf-8")


# --- 12. validate accepts only what the bot serves ------------------------------------


def test_validate_fails_on_a_folder_the_bot_refuses(tmp_path: Path) -> None:
    folder = report_dir(tmp_path, CONTENT.read_text(encoding="utf-8"), "a.yaml")
    shutil.copy(folder / "a.yaml", folder / "b.yaml")
    refused = one_error_line(faqbot("ask", "你好", env={"FAQBOT_CONTENT": str(folder)}))
    assert one_error_line(faqbot("validate", str(folder))) == refused
    # a folder of several reports is served (tests/test_reports.py), but not two of one name
    assert refused.startswith(f"{folder / 'b.yaml'}:6: report name '思明区政府办工作经验材料' "
                              f"is also the name of {folder / 'a.yaml'}")


def test_validate_refuses_lone_surrogates(tmp_path: Path) -> None:
    text = CONTENT.read_text(encoding="utf-8").replace(
        "  name: ", '  name: "\\ud83d" # ', 1
    )
    folder = report_dir(tmp_path, text)
    line = one_error_line(faqbot("validate", str(folder)))
    where = f"{folder / 'report.yaml'}:{line_of(text, '  name: ')}"
    assert line == f"{where}: lone surrogate \\ud83d is not text"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("number: 1\n", "number: 100\n"), "must be at most 99"),
        (("number: 1\n", "number: 0x64\n"), "must be at most 99"),
        (("missing_measures: [1, 2, 3]", "missing_measures: [1, 2, 100]"), "must be at most 99"),
    ],
    ids=["beyond-headings", "hex", "missing-beyond-headings"],
)
def test_numbers_beyond_any_heading_are_refused(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    original = CONTENT.read_text(encoding="utf-8")
    assert edit[0] in original
    folder = report_dir(tmp_path, original.replace(*edit, 1))
    assert message in one_error_line(faqbot("validate", str(folder)))


def test_validate_renders_every_reply(settings: Settings, faq_bot: FaqBot) -> None:
    assert rendering_problems(faq_bot) == []
    # texts that load_settings refuses, given directly: the renderer chokes on every source line
    broken = dataclasses.replace(settings, texts={**settings.texts, "source": "{path[99]}"})
    problems = rendering_problems(FaqBot(broken, faq_bot.index))
    shown = {p.message.split(" cannot be shown")[0] for p in problems}
    passages = {f"passage {p.id}" for p in faq_bot.report.passages}
    assert passages <= shown
    assert all("IndexError" in p.message for p in problems)


def test_validate_passes_the_real_content() -> None:
    result = faqbot("validate")
    assert (result.returncode, result.stderr) == (0, b"")


def test_real_content_loads_within_the_limits() -> None:
    assert validate([CONTENT]) == []
    assert isinstance(Index.build(load_report(CONTENT)), Index)


# --- 14. import guards its files ---------------------------------------------------------


def test_import_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "draft.yaml"
    target.write_text("keep me", encoding="utf-8")
    line = one_error_line(faqbot("import", str(RAW), "-o", str(target)))
    assert line == f"faqbot: {target}: already exists; use --force to overwrite it"
    assert target.read_text(encoding="utf-8") == "keep me"
    result = faqbot("import", str(RAW), "-o", str(target), "--force")
    assert result.returncode == 0
    assert target.read_text(encoding="utf-8").startswith("report:")


@pytest.mark.parametrize("how", ["same-path", "hard-link", "symlink"])
def test_import_never_overwrites_its_input(tmp_path: Path, how: str) -> None:
    source = tmp_path / "raw.txt"
    shutil.copy(RAW, source)
    output = {"same-path": source, "hard-link": tmp_path / "link.txt",
              "symlink": tmp_path / "sym.txt"}[how]
    if how == "hard-link":
        os.link(source, output)
    elif how == "symlink":
        output.symlink_to(source)
    line = one_error_line(faqbot("import", str(source), "-o", str(output), "--force"))
    assert line == f"faqbot: {output}: is the input; write the draft elsewhere"
    assert source.read_bytes() == RAW.read_bytes()


@pytest.mark.parametrize("numeral", ["二二", "十十十", "一十一十"])
def test_import_odd_numerals_are_one_line(tmp_path: Path, numeral: str) -> None:
    source = tmp_path / "raw.txt"
    source.write_text(f"引言内容。\n{numeral}、标题内容\n正文内容。\n", encoding="utf-8")
    line = one_error_line(faqbot("import", str(source)))
    assert line.startswith(f"faqbot: {source}: no sections found")  # 二二、 is no heading


def test_import_caps_the_input_size(tmp_path: Path) -> None:
    source = tmp_path / "raw.txt"
    with source.open("wb") as handle:
        handle.truncate(bot.cli.MAX_IMPORT_BYTES + 1)
    line = one_error_line(faqbot("import", str(source)))
    assert line == f"faqbot: {source}: larger than 4,194,304 bytes; is it a report?"


def test_import_of_a_fifo_does_not_block(fifo: Path) -> None:
    assert one_error_line(faqbot("import", str(fifo))) == f"faqbot: {fifo}: not a regular file"


@pytest.mark.parametrize(
    ("numeral", "value"),
    [("一", 1), ("十", 10), ("十九", 19), ("二十", 20), ("九十九", 99), ("一十", 10)],
)
def test_chinese_numbers(numeral: str, value: int) -> None:
    assert parse_number(numeral) == value


def test_section_command_with_an_odd_numeral_says_there_is_no_such_section(
    faq_bot: FaqBot,
) -> None:
    reply = faq_bot.handle("/section 二二")  # read digit by digit, as 一三 is 13
    assert not reply.answered and "没有第二二部分" in reply.plain()
