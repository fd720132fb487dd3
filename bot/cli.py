"""faqbot: run | chat | ask | validate | import (and the quality tools).

The CLI opens the core, calls one thing, and turns a core error into one line
on stderr with exit code 2: never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import logging
import os
import sys
import traceback
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NoReturn, TextIO

from bot import pidfile
from bot.admin import review_lines
from bot.config import Settings, check_database_url, load_settings
from bot.content import parse_number, validate
from bot.errors import EXIT_ERROR, FaqbotError
from bot.replies import FaqBot, Reply, rendering_problems
from bot.store import StoreError, open_store

# A scraped report is about 40 KB; 4 MB is a hundred of them, and read whole into memory.
MAX_IMPORT_BYTES = 4 * 1024 * 1024
DEBUG_ENV = "FAQBOT_DEBUG"  # FAQBOT_DEBUG=1: show the traceback of an unexpected error
CONSOLE_CHAT = "console"  # the console chat is one conversation (follow-ups, /lang)
CHAT_HINT = "（输入问题或命令；数字按按钮；:good / :bad 评价上一个回答；:quit 退出）"
NO_TOKEN = (
    "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and run "
    "`export TELEGRAM_BOT_TOKEN=<token>`"
)


class CliError(FaqbotError):
    """A user-facing error: printed as one line, exit code 2."""

    def format_message(self) -> str:
        return f"faqbot: {self}"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"faqbot: {message} (see faqbot --help)\n")


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def _bot(args: argparse.Namespace) -> FaqBot:
    return FaqBot.from_settings(_settings(args))


# --- commands -----------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    paths = [Path(p) for p in args.paths] or [settings.content]
    problems = validate(paths)  # the bot's own loading function, for each path
    if not problems:  # then every reply the bot can give, with the config's texts
        for path in paths:
            bot = FaqBot.from_settings(dataclasses.replace(settings, content=path))
            for part in bot.parts():  # each report of a folder of several
                problems.extend(rendering_problems(part))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return EXIT_ERROR
    print(f"ok: {', '.join(str(p) for p in paths)}")
    return 0


def _read_raw(source: Path) -> str:
    """The raw report text: a regular UTF-8 file of at most MAX_IMPORT_BYTES."""
    try:
        if not source.is_file():  # checked before opening: a FIFO would block
            raise CliError(f"{source}: not a regular file" if source.exists()
                           else f"{source}: file not found")
        if source.stat().st_size > MAX_IMPORT_BYTES:
            raise CliError(f"{source}: larger than {MAX_IMPORT_BYTES:,} bytes; is it a report?")
        with source.open("rb") as handle:
            data = handle.read(MAX_IMPORT_BYTES + 1)
    except OSError as error:
        raise CliError(f"{source}: cannot read ({error.strerror})") from None
    if len(data) > MAX_IMPORT_BYTES:
        raise CliError(f"{source}: larger than {MAX_IMPORT_BYTES:,} bytes; is it a report?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CliError(f"{source}:{line}: not UTF-8 text") from None


def cmd_import(args: argparse.Namespace) -> int:
    from bot.importer import DraftError, build_draft  # only here: ~30 ms of every start

    source = Path(args.raw)
    output = Path(args.output) if args.output and args.output != "-" else None
    if output is not None:
        if output.exists() and source.exists() and output.samefile(source):
            raise CliError(f"{output}: is the input; write the draft elsewhere")
        if (output.exists() or output.is_symlink()) and not args.force:
            raise CliError(f"{output}: already exists; use --force to overwrite it")
    raw = _read_raw(source)
    try:
        relative = os.path.relpath(source.resolve(), (output or Path.cwd() / "-").resolve().parent)
        # source: is read relative to the YAML's folder, so write it that way
        draft = build_draft(raw, Path(relative).as_posix(), source.stem)
    except DraftError as error:
        raise CliError(f"{source}: {error}") from None
    if output is not None:
        try:
            output.write_text(draft.yaml, encoding="utf-8")
        except OSError as error:
            raise CliError(f"{output}: cannot write ({error.strerror})") from None
        print(draft.cleaned.summary())
        print(
            f"draft written to {output}: {draft.sections} sections, {draft.measures} measures; "
            "add questions, keywords and slogan names"
        )
    else:
        print(draft.cleaned.summary(), file=sys.stderr)  # stdout is the YAML
        sys.stdout.write(draft.yaml)
    return 0


def _questions(values: list[str], stdin: TextIO) -> Iterator[str]:
    if not values or values == ["-"]:
        for line in stdin:
            if line.strip():
                yield line.strip()
    else:
        yield from values


def cmd_ask(args: argparse.Namespace) -> int:
    bot = _bot(args)
    for question in _questions(args.question, sys.stdin):
        reply = bot.handle(question)
        if args.json:
            result, hits = bot.ranked_hits(question, args.k)
            print(json.dumps({
                "question": question,
                "answered": result.answered,
                "band": result.band.value,
                "answer_span": list(result.answer_span) if result.answer_span else None,
                "hits": hits,
                "reply": reply.plain(),
            }, ensure_ascii=False))
        else:
            print(reply.plain())
            print()
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    bot = FaqBot.from_settings(_settings(args), record=True)
    try:
        return chat(bot, sys.stdin, sys.stdout, interactive=sys.stdin.isatty())
    finally:
        bot.close()


def visible(text: str) -> str:
    """Text typed by users, safe for a terminal: control and format characters (escape
    sequences, bidi overrides, line breaks) shown as Python escapes, e.g. \\x1b, \\u202e."""
    return "".join(
        ascii(char)[1:-1] if unicodedata.category(char) in _INVISIBLE else char for char in text
    )


_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # controls, formats, separators


def cmd_review(args: argparse.Namespace) -> int:
    settings = _settings(args)
    store = open_store(settings)
    try:
        review = store.review(args.limit)
    except StoreError as error:
        raise CliError(str(error)) from None
    finally:
        store.close()
    for line in review_lines(settings, review, store.where, shown=visible):
        print(line)
    return 0


def cmd_reload(args: argparse.Namespace) -> int:
    settings = _settings(args)
    pid = pidfile.signal_reload(settings.cache_dir)
    print(f"sent SIGHUP to the bot (pid {pid}): it re-reads {settings.content} and logs "
          "\"content reloaded\" or \"content reload failed\" with the FILE:LINE errors")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not settings.telegram.token and args.telegram:
        raise CliError(NO_TOKEN)
    bot = FaqBot.from_settings(settings, record=True)
    try:
        if settings.telegram.token:
            from bot.telegram_app import run_telegram

            run_telegram(settings, bot)
            return 0
        print("（未设置 TELEGRAM_BOT_TOKEN，以控制台模式运行；"
              "设置后 `make run` 即连接 Telegram。）")
        return chat(bot, sys.stdin, sys.stdout, interactive=sys.stdin.isatty())
    finally:
        bot.close()


def cmd_eval(args: argparse.Namespace) -> int:
    from bot import evaluation, suite  # quality tools load on demand: `ask` starts cold

    if args.file is not None and args.suite is not None:
        raise CliError("give a question set or --suite, not both")
    if args.file is None:
        return _eval_suite(args, args.suite or suite.DEFAULT_SUITE)
    try:
        questions = evaluation.load_questions(args.file)
        comparison = evaluation.compare(_bot(args).index, questions, str(args.file))
    except evaluation.EvaluationError as error:
        raise CliError(str(error)) from None
    if args.json:
        print(evaluation.format_json(comparison))
    else:
        print(evaluation.format_text(comparison, verbose=args.verbose))
    return 0


def _eval_suite(args: argparse.Namespace, path: Path) -> int:
    from bot import suite

    settings = _settings(args)
    thresholds = suite.Thresholds(settings.match.answer_threshold,
                                  settings.match.suggest_threshold,
                                  settings.match.probable_threshold)
    try:
        results = suite.run_suite(suite.load_suite(path), settings.cache_dir, thresholds)
    except suite.EvaluationError as error:
        raise CliError(str(error)) from None
    if args.json:
        print(suite.format_suite_json(path, results))
    else:
        print(suite.format_suite_text(path, results, verbose=args.verbose))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from bot import bench, evaluation

    check_database_url("--database-url", args.database_url)
    try:
        questions = evaluation.load_questions(args.questions)
        result = bench.run(
            _settings(args), _bot(args).index, questions, config=args.config,
            question=args.question, scale=args.scale, quick=args.quick,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
            database_url=args.database_url,
        )
    except (bench.BenchError, evaluation.EvaluationError) as error:
        raise CliError(str(error)) from None
    print(bench.format_text(result))
    return 0


# --- console chat ---------------------------------------------------------------


def _render_buttons(reply: Reply) -> str:
    buttons = [b for row in reply.buttons for b in row]
    return "  ".join(f"[{n}] {b.label}" for n, b in enumerate(buttons, 1))


def _lines(stdin: TextIO, interactive: bool) -> Iterable[str]:
    if not interactive:
        yield from stdin
        return
    try:
        import readline  # noqa: F401  (gives input() history and editing)
    except ImportError:
        pass
    while True:
        try:
            yield input("问> ")
        except EOFError:
            return


def _button_number(text: str) -> int:
    """The button a typed number presses (2 or ２, counted from 1); 0 for other text."""
    return (parse_number(text) or 0) if text.isdecimal() else 0


def chat(bot: FaqBot, stdin: TextIO, stdout: TextIO, interactive: bool) -> int:
    """Console chat: same replies as Telegram; a number presses a button of the last reply."""
    if interactive:
        print(bot.start().plain(), file=stdout)
        print(CHAT_HINT, file=stdout)
    buttons: list = []
    last, last_question = Reply(()), ""  # the answer :good / :bad rate
    for line in _lines(stdin, interactive):
        text = line.strip()
        if not text:
            continue
        if text in (":quit", ":q", "/quit", "/exit"):
            break
        if text in (":good", ":bad"):
            reply = bot.feedback(last.passage_id, text == ":good", last_question)
        elif 1 <= (pressed := _button_number(text)) <= len(buttons):
            reply = bot.action(buttons[pressed - 1].action, CONSOLE_CHAT) or bot.stale_button()
        else:
            reply = bot.handle(text, CONSOLE_CHAT)
            last_question = text
        if reply.passage_id:
            last = reply
        buttons = [b for row in reply.buttons for b in row]
        print(reply.plain(), file=stdout)
        if interactive and buttons:
            print(_render_buttons(reply), file=stdout)
        print(file=stdout)
        stdout.flush()
    return 0


# --- entry point ------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="faqbot",
        description="Answers questions about a Chinese government work report.",
    )
    parser.add_argument(
        "--config", type=Path, default=None,
        help="config file (default: $FAQBOT_CONFIG or ./config.yaml)",
    )
    parser.add_argument(
        "--debug", action="store_true",
        help=f"show the traceback of an unexpected error (or set {DEBUG_ENV}=1)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser(
        "run", help="start the bot: Telegram when TELEGRAM_BOT_TOKEN is set, else the console",
        description="Example: TELEGRAM_BOT_TOKEN=123:abc faqbot run",
    )
    run.add_argument(
        "--telegram", action="store_true", help="require Telegram (exit 2 without a token)"
    )
    run.set_defaults(handler=cmd_run)

    chat_parser = commands.add_parser(
        "chat", help="console chat with the same replies as Telegram",
        description="Example: echo 第二部分讲了什么 | faqbot chat",
    )
    chat_parser.set_defaults(handler=cmd_chat)

    ask = commands.add_parser(
        "ask", help="answer questions (arguments, or one per line on stdin)",
        description="Example: faqbot ask --json 海峡论坛是谁保障的",
    )
    ask.add_argument("question", nargs="*", help="questions; none or '-' reads stdin")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument("-k", type=int, default=5, help="hits to list with --json (default 5)")
    ask.set_defaults(handler=cmd_ask)

    check = commands.add_parser(
        "validate", help="check content YAML; FILE:LINE: message per problem",
        description="Example: faqbot validate content/siming-report.yaml",
    )
    check.add_argument("paths", nargs="*", help="files or directories (default: the content)")
    check.set_defaults(handler=cmd_validate)

    review = commands.add_parser(
        "review", help="most frequent unanswered questions and worst-rated answers",
        description="Example: faqbot review --limit 10",
    )
    review.add_argument("--limit", type=int, default=20, help="rows per list (default 20)")
    review.set_defaults(handler=cmd_review)
    reload = commands.add_parser(
        "reload", help="make the running bot re-read its content (SIGHUP)",
        description="Example: faqbot reload  (the bot of this configuration: the pid file "
                    "faqbot.pid in its cache_dir; the bot logs the outcome)",
    )
    reload.set_defaults(handler=cmd_reload)

    draft = commands.add_parser(
        "import", help="turn a raw scraped report into a draft YAML",
        description="Example: faqbot import content/raw/siming-report.txt -o draft.yaml",
    )
    draft.add_argument("raw", help="the raw scraped text file")
    draft.add_argument("-o", "--output", help="write the draft here (default: stdout)")
    draft.add_argument("--force", action="store_true",
                       help="overwrite an existing output file (never the input)")
    draft.set_defaults(handler=cmd_import)

    measure = commands.add_parser(
        "eval", help="accuracy per category on the evaluation suite or one question set, "
                     "beside a BM25 baseline",
        description="Example: faqbot eval (the suite tests/data/suite.yaml: one table per "
                    "report and a summary); faqbot eval tests/data/questions.yaml --verbose "
                    "(one set against the configured report)",
    )
    measure.add_argument("file", nargs="?", type=Path, default=None,
                         help="one question set, against the configured report "
                              "(default: run the suite)")
    measure.add_argument("--suite", type=Path, default=None,
                         help="suite file: reports with their question sets "
                              "(default: tests/data/suite.yaml)")
    measure.add_argument("--json", action="store_true", help="print the figures as JSON")
    measure.add_argument("-v", "--verbose", action="store_true",
                         help="list the wrong answers (never those of an untouched set)")
    measure.set_defaults(handler=cmd_eval)

    timing = commands.add_parser(
        "bench", help="latency, cold start and memory on this machine, beside BM25 and jieba",
        description="Example: faqbot bench --quick (about a minute; numbers only, no pass/fail)",
    )
    timing.add_argument("--quick", action="store_true", help="fewer timed passes and runs")
    timing.add_argument("--scale", type=int, default=1000,
                        help="size of the synthetic corpus, in reports (default 1000)")
    timing.add_argument("--question", default="海峡论坛是谁保障的",
                        help="the question of the cold-start runs")
    timing.add_argument("--questions", type=Path, default=Path("tests/data/questions.yaml"),
                        help="question set timed per question (default: tests/data/questions.yaml)")
    timing.add_argument("--database-url", default="", metavar="URL",
                        help="also time the PostgreSQL store there, in a temporary schema it "
                             "drops (default: the tests' server if running, else not measured)")
    timing.set_defaults(handler=cmd_bench)
    return parser


def _not_utf8(argv: list[str]) -> bool:
    """Arguments that were not UTF-8 bytes reach Python as lone surrogates."""
    return any(not arg.isascii() and any("\udc80" <= c <= "\udcff" for c in arg)
               for arg in argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("FAQBOT_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its URLs contain the bot token
    if os.environ.get("FAQBOT_LOG_USER_DATA") != "1":
        # python-telegram-bot logs whole updates and sent messages (names, texts) at DEBUG
        level = max(logging.getLogger().getEffectiveLevel(), logging.INFO)
        logging.getLogger("telegram").setLevel(level)
    argv = sys.argv[1:] if argv is None else argv
    if isinstance(sys.stdin, io.TextIOWrapper):  # not the surrogateescape of a C locale:
        sys.stdin.reconfigure(errors="strict")  # bytes that are not UTF-8 stop with one line
    if _not_utf8(argv):
        print("faqbot: the command line is not UTF-8 text", file=sys.stderr)
        return EXIT_ERROR
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        return args.handler(args)
    except FaqbotError as error:
        print(error.format_message(), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except UnicodeDecodeError as error:  # stdin that is not UTF-8
        if debug:
            traceback.print_exc()
        print(f"faqbot: the input is not UTF-8 text ({error.reason})", file=sys.stderr)
    except OSError as error:  # a read-only directory, a path through a file, ...
        if debug:
            traceback.print_exc()
        where = f"{error.filename}: " if error.filename else ""
        print(f"faqbot: {where}{error.strerror or error}", file=sys.stderr)
    except Exception as error:  # noqa: BLE001  (last resort: a bug, still one line)
        if debug:
            traceback.print_exc()
        detail = " ".join(str(error).split())[:200]
        print(f"faqbot: unexpected error: {error.__class__.__name__}: {detail} "
              f"(--debug or {DEBUG_ENV}=1 shows the traceback)", file=sys.stderr)
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
