"""Timings and memory on this machine, each beside the BM25 baseline and plain jieba.

- per-question latency (p50, p99) of ``Index.search`` over the question set, on the
  report and on a synthetic corpus ``scale`` times larger built here from the report;
- cold start of ``faqbot ask`` for one question (a fresh process, index cache warm);
- peak RSS of that process;
- the store: what recording one question costs the caller and the writer, with SQLite and
  (given a database URL) with PostgreSQL;
- end to end: messages/s of `faqbot run` (webhook mode, rate limits off) with one and with
  two replicas through the Bot API emulator of the tests (tests/e2e/emulator.py, so only in
  a source checkout), each beside a minimal python-telegram-bot echo bot in the same run.

Beside each: the BM25 baseline of ``bot.evaluation`` (same tokens, ``get_scores``)
and plain ``jieba.lcut`` with jieba's default dictionary (end to end: the echo bot).
Numbers only: nothing here passes or fails a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import platform
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.config import Settings, redact_database_url
from bot.content import Passage
from bot.evaluation import Bm25Baseline, Question, document_text
from bot.search import Index
from bot.store import PostgresStore, SqliteStore
from bot.textnorm import has_chinese, normalize

DEFAULT_QUESTION = "海峡论坛是谁保障的"
STORE_RECORDS = 5000  # questions recorded per back end: seconds of writing, not minutes
STORE_RECORDS_QUICK = 1000
STORE_READS = 200  # hit_rate calls timed per back end
STORE_FLUSH_SECONDS = 300.0  # the bench waits for every record (the bot waits 2 s at most)
TEST_DATABASE_URL = "FAQBOT_TEST_DATABASE_URL"  # the tests' throwaway server, when running
E2E_MESSAGES = 600  # per end-to-end measurement: many seconds of answering at ~100/s
E2E_MESSAGES_QUICK = 150
E2E_USERS = 50  # the messages come from this many private chats, in turn
E2E_REPLICAS = (1, 2)
E2E_START_SECONDS = 120.0  # a replica loads content and connects (two slow cores: ~10 s)
E2E_ANSWER_SECONDS = 300.0  # every message answered, or the measurement is lost
E2E_STOP_SECONDS = 30.0
E2E_TOKEN = "5550009999:BenchFakeTokenOnlyForTheEmulator"  # never a real bot
E2E_SECRET = "bench-webhook-secret"
ROOT = Path(__file__).resolve().parents[1]
EMULATOR = ROOT / "tests" / "e2e" / "emulator.py"
ECHO_BOT = ROOT / "tests" / "e2e" / "echo_bot.py"  # PTB alone, beside the bot end to end
P50_REPORT_MS = 0.5
P50_LARGE_MS = 10.0
_CLAUSE = re.compile(r"[^，,。；;！？!?]+[，,。；;！？!?]?")

# A BM25 process as one would write it without the bot: jieba's default dictionary.
_BM25_COLD = """
import json, sys
import jieba
from rank_bm25 import BM25Okapi
with open(sys.argv[1], encoding="utf-8") as handle:
    docs = json.load(handle)
model = BM25Okapi([jieba.lcut(doc) for doc in docs])
scores = model.get_scores(jieba.lcut(sys.argv[2]))
print(max(range(len(docs)), key=scores.__getitem__))
"""


class BenchError(Exception):
    """The bench cannot run; the message is one line."""


# --- the synthetic corpus -------------------------------------------------------


def synthetic_passages(passages: Sequence[Passage], scale: int, seed: int = 0) -> list[Passage]:
    """A corpus ``scale`` times the report: the report's own passages (intents name
    them by id) and ``scale - 1`` variants of each, with clauses shuffled, one spliced
    in from another passage, a few characters swapped for other characters of the
    report, questions perturbed and half the keywords kept; ids ``<id>~<n>``."""
    rng = random.Random(seed)
    pool = sorted({c for p in passages for c in p.title + p.text if has_chinese(c)})
    clauses = [_CLAUSE.findall(p.text) or [p.text] for p in passages]
    every_clause = [c for group in clauses for c in group]

    def perturb(text: str, rate: float) -> str:
        return "".join(
            rng.choice(pool) if has_chinese(c) and rng.random() < rate else c for c in text
        )

    variants: list[Passage] = list(passages)
    for number in range(1, scale):
        for passage, own in zip(passages, clauses, strict=True):
            parts = list(own)
            rng.shuffle(parts)
            if len(parts) > 1:
                parts[rng.randrange(len(parts))] = rng.choice(every_clause)
            keywords = passage.keywords
            if len(keywords) > 1:
                keywords = tuple(rng.sample(keywords, len(keywords) // 2))
            variants.append(replace(
                passage,
                id=f"{passage.id}~{number}",
                title=perturb(passage.title, 0.05),
                text=perturb("".join(parts), 0.03),
                questions=tuple(perturb(q, 0.05) for q in passage.questions),
                keywords=keywords,
            ))
    return variants


# --- measuring --------------------------------------------------------------------


def latencies_ms(query: Callable[[str], object], questions: Sequence[str],
                 passes: int) -> list[float]:
    """Per-call wall time in ms, after one untimed warm-up pass. The normalisation
    cache is cleared before each call: every question is new to the process."""
    for question in questions:
        query(question)
    samples: list[float] = []
    for _ in range(passes):
        for question in questions:
            normalize.cache_clear()
            start = time.perf_counter_ns()
            query(question)
            samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    """(p50, p99)."""
    if len(samples) < 2:
        return samples[0], samples[0]
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


@dataclass(frozen=True)
class ColdRun:
    seconds: float  # median wall time of a fresh process
    rss_mb: float  # peak resident set of the largest run


def cold(argv: list[str], runs: int, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> ColdRun:
    """Start a fresh process ``runs`` times (after one untimed run that warms caches)."""
    _run(argv, env, cwd)
    measured = [_run(argv, env, cwd) for _ in range(runs)]
    return ColdRun(
        statistics.median(seconds for seconds, _ in measured), max(rss for _, rss in measured)
    )


# Runs one command and reports its wall time and its own peak RSS. A child's
# ru_maxrss includes what it held before exec (a copy of its parent), so the
# command is started from this small process, not from the bench holding the
# large corpus.
_LAUNCHER = """
import json, os, subprocess, sys, time
argv = json.loads(sys.argv[1])
start = time.perf_counter_ns()
child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
elapsed = time.perf_counter_ns() - start
child.returncode = code = os.waitstatus_to_exitcode(status)
print(json.dumps([elapsed, usage.ru_maxrss, code]))
"""


def _run(argv: list[str], env: dict[str, str] | None, cwd: Path | None) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MB) of one fresh process running argv."""
    if not hasattr(os, "wait4"):
        raise BenchError("the bench measures child processes with os.wait4 (Linux, macOS)")
    launcher = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, json.dumps(argv)],
        capture_output=True, text=True, env=env, cwd=cwd, check=False,
    )
    try:
        elapsed, maxrss, code = json.loads(launcher.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        code = launcher.returncode or 1
    if launcher.returncode != 0 or code != 0:
        lines = launcher.stderr.strip().splitlines()
        last = lines[-1] if lines else "no output"
        raise BenchError(f"`{_shown(argv)}` failed (exit {code}): {last}")
    # ru_maxrss is in KiB on Linux, in bytes on macOS
    return elapsed / 1e9, maxrss / (2**20 if sys.platform == "darwin" else 2**10)


def _shown(argv: list[str]) -> str:
    text = " ".join(a if len(a) < 40 else a[:37].strip() + "…" for a in argv[1:])
    return f"python {text}"


# --- the report ---------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    metric: str
    bot: float
    bm25: float | None
    jieba: float | None
    target: str = ""
    met: bool | None = None


@dataclass(frozen=True)
class Throughput:
    """End-to-end messages/s with ``replicas`` processes: the bot's, the echo bot's."""

    replicas: int
    bot: float
    echo: float


@dataclass(frozen=True)
class BenchResult:
    rows: tuple[Row, ...]
    context: tuple[str, ...]
    notes: tuple[str, ...]
    throughput: tuple[Throughput, ...] = field(default=())


def store_rows(database_url: str, records: int) -> tuple[tuple[Row, ...], tuple[str, ...]]:
    """Record ``records`` questions in a temporary SQLite file and (with ``database_url``)
    in a temporary schema of that PostgreSQL database, dropped afterwards. Per question:
    the caller's cost (queueing) and the writer's (flushed in batches, wall time / records)."""
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="faqbot-bench-store-") as temp:
        sqlite = SqliteStore(Path(temp) / "bench.sqlite3", queue_size=records + 1)
        rows.extend(_store_figures("SQLite", sqlite, records))
    if not database_url:
        notes.append("store, PostgreSQL: not measured: no database_url "
                     "(faqbot bench --database-url postgresql://…)")
        return tuple(rows), tuple(notes)
    schema = f"faqbot_bench_{os.getpid()}_{random.randrange(10**6)}"
    try:
        postgres = PostgresStore(database_url, schema=schema, queue_size=records + 1)
        try:
            postgres.hit_rate("bench", 1)  # connect and create the schema before timing
            rows.extend(_store_figures("PostgreSQL", postgres, records))
        finally:
            postgres.close()
            _drop_schema(database_url, schema)
    except Exception as error:  # noqa: BLE001  (a bench row, not the bench, is lost)
        notes.append(f"store, PostgreSQL: not measured: {' '.join(str(error).split())[:160]}")
        return tuple(rows), tuple(notes)
    notes.append(f"store: {records} questions per back end through record_question; "
                 f"PostgreSQL at {redact_database_url(database_url)} (schema {schema}, "
                 "dropped after); caller: the call itself (queueing); written: first call to "
                 "all written, per question (batches in one transaction each); rate counter: "
                 f"hit_rate (a synchronous read-write on the reply path), {STORE_READS} calls")
    return tuple(rows), tuple(notes)


def _store_figures(name: str, recording: SqliteStore | PostgresStore, records: int) -> list[Row]:
    started = time.perf_counter()
    caller = 0.0
    for n in range(records):
        before = time.perf_counter()
        recording.record_question(f"问题{n}", "decline", best_id="s1", score=n % 100)
        caller += time.perf_counter() - before
    recording.close(STORE_FLUSH_SECONDS)
    written = time.perf_counter() - started
    if recording.dropped or recording.review(1).unanswered[0][1] != 1:
        raise BenchError(f"store bench: {name} did not write every record")
    reads = []
    for n in range(STORE_READS):  # what a reply waits for: the shared rate counter
        before = time.perf_counter()
        recording.hit_rate(f"user{n % 10}", 60)
        reads.append(time.perf_counter() - before)
    return [Row(f"store: record a question, caller, {name} (µs)", 1e6 * caller / records,
                None, None),
            Row(f"store: record a question, written, {name} (µs)", 1e6 * written / records,
                None, None),
            Row(f"store: rate counter per message, {name}, p50 (µs)",
                1e6 * statistics.median(reads), None, None)]


def _drop_schema(database_url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


# --- end to end: replicas through the Bot API emulator ------------------------------------

def _load_emulator():  # -> the tests' e2e.emulator module
    """The Bot API emulator of the tests, loaded from the source checkout."""
    for needed in (EMULATOR, ECHO_BOT):
        if not needed.is_file():
            raise BenchError(f"end to end: not measured: {needed} is not here (it comes "
                             "with a source checkout)")
    spec = importlib.util.spec_from_file_location("faqbot_bench_emulator", EMULATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _child_environment(base_url: str, **extra: str) -> dict[str, str]:
    """A replica's environment: the fake token and the emulator, never the host's token,
    store or proxies."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "FAQBOT_")) and "proxy" not in k.lower()}
    env.update(TELEGRAM_BOT_TOKEN=E2E_TOKEN, TELEGRAM_API_BASE_URL=base_url,
               TELEGRAM_WEBHOOK_SECRET=E2E_SECRET, NO_PROXY="127.0.0.1,localhost",
               FAQBOT_LOG_LEVEL="WARNING", **extra)
    return env


@dataclass(frozen=True)
class _Launch:
    """How to start a replica listening on a port with the webhook URL ``public``; ``ready``:
    the status line start its GET /readyz answers once it serves."""

    argv: Callable[[int, str], list[str]]
    env: dict[str, str]
    cwd: Path
    ready: bytes


async def _wait_listening(launch: _Launch, process: subprocess.Popen[bytes], port: int,
                          log: Path, deadline: float) -> None:
    """Until the replica's webhook server answers GET /readyz as ``launch.ready`` says."""
    while True:
        if process.poll() is not None:
            lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            raise BenchError(f"end to end: a replica exited with {process.returncode}: "
                             f"{lines[-1] if lines else 'no output'}")
        with contextlib.suppress(OSError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /readyz HTTP/1.0\r\n\r\n")
            answer = await reader.read(len(launch.ready))
            writer.close()
            await writer.wait_closed()
            if answer == launch.ready:
                return
        if time.monotonic() > deadline:
            raise BenchError(f"end to end: a replica did not start within {E2E_START_SECONDS:g} s")
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def _replicas(launch: _Launch, count: int, public: str, temp: Path
                    ) -> AsyncIterator[list[str]]:
    """``count`` processes listening on free ports; their webhook URLs. Always stopped."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        ports = [_free_port() for _ in range(count)]
        deadline = time.monotonic() + E2E_START_SECONDS
        for number, port in enumerate(ports):
            log = temp / f"replica-{number}-{port}.log"
            with log.open("wb") as output:
                processes.append(subprocess.Popen(
                    launch.argv(port, public), env=launch.env, cwd=launch.cwd,
                    stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT))
            await _wait_listening(launch, processes[-1], port, log, deadline)
        yield [f"http://127.0.0.1:{port}/telegram" for port in ports]
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        stop_by = time.monotonic() + E2E_STOP_SECONDS
        for process in processes:
            while process.poll() is None and time.monotonic() < stop_by:
                await asyncio.sleep(0.05)
            if process.poll() is None:
                process.kill()
                process.wait()


async def _messages_per_second(emulator_type: type, launch: Callable[[str], _Launch],
                               count: int, texts: Sequence[str], messages: int,
                               temp: Path) -> float:
    """Start ``count`` replicas behind the emulator (round-robin), send ``messages`` texts
    from E2E_USERS users at once, and time them until the last is answered."""
    tg = emulator_type(E2E_TOKEN)
    await tg.start()
    try:
        public = f"http://127.0.0.1:{_free_port()}/telegram"  # the address only: balanced
        async with _replicas(launch(tg.base_url), count, public, temp) as urls:
            try:
                await tg.wait_for(lambda: len(tg.calls_of("setWebhook")) >= count,
                                  E2E_START_SECONDS, "every replica's setWebhook")
            except AssertionError as error:
                raise BenchError(f"end to end: {error}") from None
            tg.balance(urls)
            users = [tg.user() for _ in range(E2E_USERS)]
            chats = [tg.private_chat(user) for user in users]

            async def answered(sending: int) -> float:
                before = len(tg.calls_of("sendMessage"))
                started = time.monotonic()
                for n in range(sending):
                    tg.send(users[n % len(users)], chats[n % len(chats)], texts[n % len(texts)])
                await tg.wait_for(lambda: len(tg.calls_of("sendMessage")) - before >= sending,
                                  E2E_ANSWER_SECONDS, f"{sending} answers")
                return time.monotonic() - started

            try:
                await answered(2 * count)  # warm-up: every replica's first update
                seconds = await answered(messages)
            except AssertionError as error:  # the emulator's wait_for timed out
                raise BenchError(f"end to end: {error}") from None
            failed = [c for c in tg.calls_of("sendMessage") if c.error]
            if failed:
                raise BenchError(f"end to end: {len(failed)} replies failed: {failed[0].error}")
            return messages / seconds
    finally:
        await tg.stop()


def throughput_rows(settings: Settings, config: Path | None, texts: Sequence[str],
                    messages: int, database_url: str = "",
                    replica_counts: Sequence[int] = E2E_REPLICAS,
                    ) -> tuple[tuple[Throughput, ...], tuple[str, ...]]:
    """Messages/s through the emulator with each number of replicas: `faqbot run` in
    webhook mode (rate limits off; one store shared by the replicas: a temporary schema of
    ``database_url``, dropped after, else a temporary SQLite file) and the echo bot."""
    try:
        emulator = _load_emulator()
    except BenchError as error:
        return (), (str(error),)
    schema = f"faqbot_bench_e2e_{os.getpid()}_{random.randrange(10**6)}"
    with tempfile.TemporaryDirectory(prefix="faqbot-bench-e2e-") as name:
        temp = Path(name)
        store_env = {"FAQBOT_FEEDBACK_DB": str(temp / "shared.sqlite3")}
        if database_url:
            _create_schema(database_url, schema)
            store_env = {"FAQBOT_DATABASE_URL": _url_in_schema(database_url, schema)}
        try:

            cache = str(settings.cache_dir.resolve())

            def bot(base_url: str) -> _Launch:
                return _Launch(
                    lambda port, public: [sys.executable, "-m", "bot", "--config",
                                          str(_replica_config(settings, config, temp, port,
                                                              public)), "run"],
                    _child_environment(base_url, FAQBOT_CACHE_DIR=cache, **store_env), ROOT,
                    b"HTTP/1.1 200")

            def echo(base_url: str) -> _Launch:
                return _Launch(lambda port, public: [sys.executable, str(ECHO_BOT), str(port),
                                                     public],
                               _child_environment(base_url), temp, b"HTTP/1.")  # any answer

            figures = []
            for count in replica_counts:
                bot_rate, echo_rate = (asyncio.run(_messages_per_second(
                    emulator.BotApiEmulator, launch, count, texts, messages, temp))
                    for launch in (bot, echo))
                figures.append(Throughput(count, bot_rate, echo_rate))
        except BenchError as error:
            return (), (str(error),)
        finally:
            if database_url:
                _drop_schema(database_url, schema)
    store = (f"PostgreSQL at {redact_database_url(database_url)} (schema {schema}, dropped "
             "after)" if database_url else
             "one temporary SQLite file (fine for a bench on one host; replicas in production "
             "share PostgreSQL)")
    return tuple(figures), (
        f"end to end: {messages} questions from {E2E_USERS} users sent at once, timed until "
        "the last answer; the emulator delivers webhook updates one at a time, to the "
        "replicas in turn; `faqbot run` in webhook mode, rate limits off, the replicas "
        f"sharing {store}; echo: a python-telegram-bot echo bot (concurrent updates) in "
        "the same way",)


def _replica_config(settings: Settings, config: Path | None, temp: Path, port: int,
                    public: str) -> Path:
    """A replica's config.yaml: the bench's own (content, match settings, texts) in webhook
    mode on ``port``, every rate limit off."""
    import yaml

    raw: dict[str, Any] = {}
    if config is not None and config.is_file():
        raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    raw.pop("database_url", None)  # the store is the bench's, from the environment
    raw["content"] = str(settings.content.resolve())
    raw["telegram"] = {**(raw.get("telegram") or {}), "mode": "webhook", "rate_limit": False,
                       "user_messages": 0, "webhook_listen": "127.0.0.1",
                       "webhook_port": port, "webhook_url": public, "webhook_path": "telegram"}
    path = temp / f"config-{port}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def _url_in_schema(url: str, schema: str) -> str:
    """The URL with libpq options that put the tables in ``schema``."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def _create_schema(database_url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")


def run(settings: Settings, index: Index, questions: Sequence[Question], *,
        config: Path | None = None, question: str = DEFAULT_QUESTION, scale: int = 1000,
        quick: bool = False, progress: Callable[[str], None] | None = None,
        database_url: str = "") -> BenchResult:
    """Measure everything; ``progress`` receives one line per step. The store row uses
    ``database_url`` for PostgreSQL, else the tests' server if one is running."""
    say = progress or (lambda _: None)
    if scale < 1:
        raise BenchError("--scale must be 1 or more")
    texts = [q.text for q in questions]
    passes_small, passes_large, runs = (3, 1, 3) if quick else (10, 2, 5)
    passages = index.report.passages

    say("bench: BM25 baseline and jieba (default dictionary) on the report")
    baseline = Bm25Baseline(passages, index.data.segmenter)
    jieba_tokenizer = _plain_jieba()

    say(f"bench: per-question latency on the report ({len(texts)} questions × {passes_small})")
    small = {
        "bot": percentiles(latencies_ms(index.search, texts, passes_small)),
        "bm25": percentiles(latencies_ms(baseline.rank, texts, passes_small)),
        "jieba": percentiles(latencies_ms(jieba_tokenizer.lcut, texts, passes_small)),
    }

    say(f"bench: building the ×{scale} corpus ({scale * len(passages):,} passages)")
    start = time.perf_counter()
    variants = synthetic_passages(passages, scale)
    large_index = Index.build(
        index.report, passages=variants, segmenter=index.data.segmenter,
        answer_threshold=index.answer_threshold, suggest_threshold=index.suggest_threshold,
        probable_threshold=index.probable_threshold,
    )
    # The homophone guard needs jieba's full dictionary; reuse the real index's.
    large_index.data.real_words = index.data.real_words
    build_seconds = time.perf_counter() - start
    start = time.perf_counter()
    large_baseline = Bm25Baseline(variants, index.data.segmenter)
    bm25_build_seconds = time.perf_counter() - start

    say(f"bench: per-question latency on the ×{scale} corpus ({len(texts)} × {passes_large})")
    large = {
        "bot": percentiles(latencies_ms(large_index.search, texts, passes_large)),
        "bm25": percentiles(latencies_ms(large_baseline.rank, texts, passes_large)),
    }
    del large_index, large_baseline, variants

    say(f"bench: cold starts ({runs} runs each, after one warm-up run)")
    with tempfile.TemporaryDirectory(prefix="faqbot-bench-") as temp:
        env = dict(os.environ)
        env.update({
            "FAQBOT_CACHE_DIR": str(Path(temp) / "cache"),
            "FAQBOT_CONTENT": str(settings.content.resolve()),
            "FAQBOT_LOG_LEVEL": "WARNING",
        })
        if config is not None:
            env["FAQBOT_CONFIG"] = str(config.resolve())
        bot_cold = cold([sys.executable, "-m", "bot", "ask", question], runs, env)
        jieba_cold = cold([sys.executable, "-c", f"import jieba; jieba.lcut({question!r})"], runs)
        documents = Path(temp) / "documents.json"
        documents.write_text(
            json.dumps([normalize(document_text(p)) for p in passages], ensure_ascii=False),
            encoding="utf-8",
        )
        bm25_cold = cold(
            [sys.executable, "-c", _BM25_COLD, str(documents), normalize(question)], runs
        )

    database_url = database_url or os.environ.get(TEST_DATABASE_URL, "")
    say("bench: recording questions in the store (SQLite"
        + (", PostgreSQL)" if database_url else ")"))
    store, store_notes = store_rows(database_url, STORE_RECORDS_QUICK if quick else STORE_RECORDS)

    messages = E2E_MESSAGES_QUICK if quick else E2E_MESSAGES
    say(f"bench: end to end through the emulator, {messages} messages with "
        + " and ".join(str(n) for n in E2E_REPLICAS) + " replicas, beside an echo bot")
    throughput, throughput_notes = throughput_rows(settings, config, texts, messages,
                                                   database_url)

    jieba_small_p50, jieba_small_p99 = small["jieba"]
    rows = (
        Row("p50 per question, report (ms)", small["bot"][0], small["bm25"][0], jieba_small_p50,
            f"< {P50_REPORT_MS:g} ms", small["bot"][0] < P50_REPORT_MS),
        Row("p99 per question, report (ms)", small["bot"][1], small["bm25"][1], jieba_small_p99),
        Row(f"p50 per question, ×{scale} (ms)", large["bot"][0], large["bm25"][0], jieba_small_p50,
            *((f"< {P50_LARGE_MS:g} ms", large["bot"][0] < P50_LARGE_MS) if scale >= 1000 else ())),
        Row(f"p99 per question, ×{scale} (ms)", large["bot"][1], large["bm25"][1], jieba_small_p99),
        Row("cold start, one question (ms)", 1000 * bot_cold.seconds, 1000 * bm25_cold.seconds,
            1000 * jieba_cold.seconds, "< jieba", bot_cold.seconds < jieba_cold.seconds),
        Row("peak RSS of that process (MB)", bot_cold.rss_mb, bm25_cold.rss_mb,
            jieba_cold.rss_mb),
        *store,
    )
    context = (
        f"machine: {_cpu()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        f"report: {len(passages)} passages; ×{scale} corpus: {scale * len(passages):,} passages "
        f"(the report + {scale - 1} synthetic variants of each passage; bot index built in "
        f"{build_seconds:.1f} s, BM25 in {bm25_build_seconds:.1f} s); "
        f"{len(texts)} questions, {passes_small} / {passes_large} timed passes after a warm-up; "
        f"cold: median of {runs} fresh processes",
    )
    notes = (
        "bot: Index.search; bm25: normalize + the bot's tokens + BM25Okapi.get_scores + top 3; "
        "jieba.lcut: default dictionary, the raw question (corpus-independent, so the same "
        "figure on both corpora); normalize's cache cleared before every timed call",
        f"cold: `python -m bot ask {question}` with a warm index cache | a BM25 script "
        f"(import jieba + rank_bm25, tokenise {len(passages)} passages with jieba's default "
        "dictionary, build, query) | `python -c \"import jieba; jieba.lcut(...)\"`; "
        "jieba's own cache warm in all three",
        f"bench process peak RSS: {_self_rss_mb():.0f} MB (both corpora and both indexes built)",
        *store_notes,
        *throughput_notes,
    )
    return BenchResult(rows, context, notes, throughput)


def _plain_jieba():  # -> jieba.Tokenizer
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()  # default dictionary and cache file, like `import jieba`
    tokenizer.initialize()
    return tokenizer


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _self_rss_mb() -> float:
    try:
        import resource
    except ImportError:
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _ratio(ours: float, theirs: float | None) -> str:
    return "—" if not theirs else f"{ours / theirs:.2f}×"


def format_text(result: BenchResult) -> str:
    width = max(len(row.metric) for row in result.rows)
    lines = list(result.context)
    lines.append(
        f"{'metric':{width}}  {'bot':>9} {'bm25':>9} {'jieba.lcut':>10}  "
        f"{'bot/bm25':>9} {'bot/jieba':>9}  target"
    )
    for row in result.rows:
        verdict = "" if row.met is None else (" ✓" if row.met else " ✗")
        lines.append(
            f"{row.metric:{width}}  {_num(row.bot):>9} {_num(row.bm25):>9} {_num(row.jieba):>10}  "
            f"{_ratio(row.bot, row.bm25):>9} {_ratio(row.bot, row.jieba):>9}  "
            f"{row.target}{verdict}".rstrip()
        )
    if result.throughput:
        label = "end to end (messages/s)"
        lines.append(f"{label:{width}}  {'bot':>9} {'echo bot':>9} {'':>10}  {'bot/echo':>9}")
        for figure in result.throughput:
            replicas = f"{figure.replicas} replica" + ("s" if figure.replicas > 1 else "")
            lines.append(f"{replicas:{width}}  {_num(figure.bot):>9} {_num(figure.echo):>9} "
                         f"{'':>10}  {_ratio(figure.bot, figure.echo):>9}")
    lines.extend(f"note: {note}" for note in result.notes)
    return "\n".join(lines)
