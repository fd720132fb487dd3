"""Observability in-process: readiness states, metrics per outcome (a private registry per
bot), store timing, JSON log lines without the token or, by default, what users typed, the
status pages of the health server, and their settings."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientSession
from prometheus_client.parser import text_string_to_metric_families
from telegram.ext import Application
from test_telegram import (
    TOKEN,
    OfflineRequest,
    bot_message,
    make_message,
    message_update,
    press,
)

from bot.config import ConfigError, Settings, load_settings
from bot.health import Liveness, Readiness, ReadyState, content_check, store_check
from bot.logs import JsonFormatter, message_text
from bot.metrics import ErrorKind, Metrics, Outcome, TimedStore, outcome_of
from bot.replies import FaqBot
from bot.telegram_app import Redactor, RedactSecrets, build_application
from bot.webhook_server import HealthServer, WebhookServer

ROOT = Path(__file__).resolve().parents[1]
ANSWERED = "海峡论坛是谁保障的"
DECLINED = "今天天气怎么样"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    cache = tmp_path_factory.mktemp("cache")
    loaded = load_settings(ROOT / "config.yaml", environ={"FAQBOT_CACHE_DIR": str(cache)})
    return dataclasses.replace(loaded, telegram=dataclasses.replace(loaded.telegram, token=TOKEN))


@pytest.fixture(scope="module")
def core(settings: Settings) -> FaqBot:
    return FaqBot.from_settings(settings)


async def started_app(settings: Settings, faq: FaqBot, metrics: Metrics) -> Application:
    application = build_application(settings, faq, request=OfflineRequest(), metrics=metrics)
    await application.initialize()
    return application


# --- readiness ------------------------------------------------------------------------------


class PingStore:
    """A store with a ping that answers as told."""

    def __init__(self, answer: Any = True, error: Exception | None = None, delay: float = 0):
        self.answer, self.error, self.delay, self.pings = answer, error, delay, 0

    def ping(self) -> Any:
        self.pings += 1
        if self.delay:
            time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.answer


class AsyncPingStore:
    def __init__(self, answer: bool):
        self.answer = answer

    async def ping(self) -> bool:
        await asyncio.sleep(0)
        return self.answer


def bot_with(index: Any = "real", store: Any = None, core: FaqBot | None = None) -> Any:
    return SimpleNamespace(index=core.index if index == "real" and core else index, store=store)


def serving(*checks: Any, timeout: float = 2.0) -> Readiness:
    return Readiness(list(checks), ReadyState.SERVING, timeout)


@pytest.mark.parametrize(("state", "reason"), [
    (ReadyState.STARTING, "not serving: starting"),
    (ReadyState.STOPPING, "not serving: stopping"),
    (ReadyState.SERVING, None),
])
async def test_only_a_serving_bot_is_ready(core: FaqBot, state: ReadyState,
                                           reason: str | None) -> None:
    bot = bot_with(core=core)
    readiness = Readiness([content_check(bot), store_check(bot)], state)
    assert await readiness.reason() == reason


@pytest.mark.parametrize(("store", "ready"), [
    (None, True),  # nothing is recorded: nothing to reach
    (object(), True),  # a store without ping() counts as reachable
    (PingStore(True), True),
    (PingStore(None), True),  # a ping that returns nothing did not fail
    (AsyncPingStore(True), True),
])
async def test_a_reachable_store_or_none_is_ready(core: FaqBot, store: Any, ready: bool) -> None:
    bot = bot_with(core=core, store=store)
    assert (await serving(content_check(bot), store_check(bot)).reason() is None) is ready


@pytest.mark.parametrize(("store", "reason"), [
    (PingStore(False), "store unreachable: ping failed"),
    (AsyncPingStore(False), "store unreachable: ping failed"),
    (PingStore(error=ConnectionRefusedError("connection refused\non 5432")),
     "store check failed: ConnectionRefusedError: connection refused on 5432"),
    (PingStore(delay=1.0), "store check: no answer within 0.2 s"),
])
async def test_an_unreachable_store_is_not_ready_and_says_why_in_one_line(
    core: FaqBot, store: Any, reason: str,
) -> None:
    bot = bot_with(core=core, store=store)
    assert await serving(content_check(bot), store_check(bot), timeout=0.2).reason() == reason


@pytest.mark.parametrize("index", [None, SimpleNamespace(passages={})])
async def test_content_not_loaded_is_not_ready(index: Any) -> None:
    bot = bot_with(index=index, store=PingStore(True))
    reason = await serving(content_check(bot), store_check(bot)).reason()
    assert reason == "content not loaded: the index has no passages"
    assert bot.store.pings == 0  # the first reason is enough


async def test_the_checks_read_the_bot_each_time(core: FaqBot) -> None:
    """A reload or a new store is seen at the next check, not frozen at start."""
    bot = bot_with(core=core, store=PingStore(False))
    readiness = serving(content_check(bot), store_check(bot))
    assert await readiness.reason() == "store unreachable: ping failed"
    bot.store = PingStore(True)
    assert await readiness.reason() is None
    bot.index = None
    assert await readiness.reason() == "content not loaded: the index has no passages"


# --- metrics --------------------------------------------------------------------------------


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, parsed back as Prometheus reads it."""
    text = metrics.exposition().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


def questions(metrics: Metrics) -> dict[str, float]:
    return {dict(labels)["outcome"]: value for (name, labels), value in samples(metrics).items()
            if name == "faqbot_questions_total"}


def test_every_outcome_and_error_kind_is_exposed_at_zero_before_the_first() -> None:
    metrics = Metrics()
    assert questions(metrics) == {outcome.value: 0.0 for outcome in Outcome}
    exposed = samples(metrics)
    assert {dict(labels)["kind"] for (name, labels) in exposed
            if name == "faqbot_errors_total"} == {kind.value for kind in ErrorKind}


async def test_handled_updates_are_counted_and_timed_per_outcome(settings: Settings,
                                                                 core: FaqBot) -> None:
    metrics = Metrics()
    app = await started_app(settings, core, metrics)
    try:
        for text in (ANSWERED, ANSWERED, DECLINED, "/help", "/sections", "/nonsense"):
            await app.process_update(message_update(make_message(app, text)))
        await app.process_update(press(app, "sec:s1", bot_message(app)))
    finally:
        await app.shutdown()
    answered = outcome_of(core.ask(ANSWERED))
    assert answered in (Outcome.ANSWER, Outcome.PROBABLE)
    expected = {outcome.value: 0.0 for outcome in Outcome}
    expected.update({answered.value: 2.0, "decline": 1.0, "command": 3.0, "button": 1.0})
    assert questions(metrics) == expected
    exposed = samples(metrics)
    timed = {dict(labels)["outcome"]: value for (name, labels), value in exposed.items()
             if name == "faqbot_handling_seconds_count"}
    assert timed == expected  # one latency per handled update
    assert exposed[("faqbot_handling_seconds_sum", (("outcome", "command"),))] > 0


async def test_two_bots_in_one_process_count_apart(settings: Settings, core: FaqBot) -> None:
    first, second = Metrics(), Metrics()
    app = await started_app(settings, core, first)
    other = await started_app(settings, core, second)
    try:
        await app.process_update(message_update(make_message(app, "/help")))
    finally:
        await app.shutdown()
        await other.shutdown()
    assert (first.count(Outcome.COMMAND), second.count(Outcome.COMMAND)) == (1, 0)


async def test_a_failing_handler_counts_as_a_handler_error(settings: Settings, core: FaqBot,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    metrics = Metrics()
    faq = FaqBot(settings, core.index)
    monkeypatch.setattr(faq, "ask", lambda question: 1 / 0)
    app = await started_app(settings, faq, metrics)
    try:
        await app.process_update(message_update(make_message(app, ANSWERED)))
    finally:
        await app.shutdown()
    errors = {dict(labels)["kind"]: value for (name, labels), value in samples(metrics).items()
              if name == "faqbot_errors_total"}
    assert errors["handler"] == 1 and errors["network"] == 0
    assert sum(questions(metrics).values()) == 0  # an apology is no outcome


def result_with(**fields: Any) -> Any:
    return SimpleNamespace(hits=(), corrections=(), intent=None, **fields)


class Band:
    """The shape of bot.search.results' band (an enum member with a name)."""

    def __init__(self, name: str):
        self.name = name


@pytest.mark.parametrize(("result", "outcome"), [
    (result_with(answered=True), Outcome.ANSWER),
    (result_with(answered=False), Outcome.DECLINE),
    (result_with(answered=True, band=Band("ANSWER")), Outcome.ANSWER),
    (result_with(answered=True, band=Band("PROBABLE")), Outcome.PROBABLE),
    (result_with(answered=False, band=Band("DECLINE")), Outcome.DECLINE),
    (result_with(answered=True, band="probable"), Outcome.PROBABLE),  # a plain string too
    (result_with(answered=False, band=Band("SOMETHING_NEW")), Outcome.DECLINE),  # falls back
    (None, Outcome.SMALL_TALK),  # no search at all
])
def test_the_outcome_comes_from_the_band_else_from_answered(core: FaqBot, result: Any,
                                                            outcome: Outcome) -> None:
    reply = dataclasses.replace(core.ask(ANSWERED), result=result)
    assert outcome_of(reply) is outcome


class RecordingStore:
    def __init__(self) -> None:
        self.records: list[str] = []

    def record_question(self, question: str, *rest: Any) -> None:
        self.records.append(question)

    def review(self, limit: int = 20) -> None:
        raise OSError("disk I/O error")

    async def fetch_context(self, user: str) -> str:
        await asyncio.sleep(0.01)
        return f"context of {user}"


async def test_store_calls_are_timed_by_operation_and_failures_counted() -> None:
    metrics = Metrics()
    store = TimedStore(RecordingStore(), metrics)
    store.record_question("问题", "s1", 40, False)
    store.record_question("问题", "s1", 40, False)
    with pytest.raises(OSError, match="disk I/O error"):
        store.review()
    assert await store.fetch_context("u1") == "context of u1"
    assert store.inner.records == ["问题", "问题"]
    exposed = samples(metrics)

    def count(operation: str) -> float:
        return exposed[("faqbot_store_seconds_count", (("operation", operation),))]

    assert (count("record_question"), count("review"), count("fetch_context")) == (2, 1, 1)
    assert exposed[("faqbot_store_seconds_sum", (("operation", "fetch_context"),))] >= 0.005
    assert exposed[("faqbot_errors_total", (("kind", "store"),))] == 1


# --- logs -------------------------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The adapter's log lines as the JSON format writes them, behind the redacting filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets(TOKEN))
    handler.setFormatter(JsonFormatter(Redactor(TOKEN)))
    logger = logging.getLogger("bot.telegram_app")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.setLevel(previous)
    logger.removeHandler(handler)


QUESTION_WITH_TOKEN = f"{ANSWERED}\n我的密钥是 {TOKEN}"


async def run_question(settings: Settings, core: FaqBot, text: str) -> None:
    app = await started_app(settings, FaqBot(settings, core.index), Metrics())
    try:
        await app.process_update(message_update(make_message(app, text)))
    finally:
        await app.shutdown()


def lines_of(stream: io.StringIO) -> list[dict[str, Any]]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]  # each line one object


async def test_a_question_is_one_json_line_without_its_text_or_the_token(
    settings: Settings, core: FaqBot, json_log: io.StringIO,
) -> None:
    await run_question(settings, core, QUESTION_WITH_TOKEN)
    [line] = [line for line in lines_of(json_log) if line.get("event") == "question handled"]
    expected = core.ask(" ".join(QUESTION_WITH_TOKEN.split()))  # as the adapter asks it
    assert line["outcome"] == outcome_of(expected).value
    assert line["passage_id"] == (expected.passage_id or "-")
    assert 0 < line["latency_ms"] < 10_000
    assert line["level"] == "INFO" and line["logger"] == "bot.telegram_app"
    assert "text" not in line
    raw = json_log.getvalue()
    assert TOKEN.split(":")[1] not in raw and "海峡" not in raw and "密钥" not in raw


async def test_with_log_message_text_the_text_is_escaped_clipped_and_redacted(
    settings: Settings, core: FaqBot, json_log: io.StringIO,
) -> None:
    chatty = dataclasses.replace(settings, log_message_text=True)
    long_question = QUESTION_WITH_TOKEN + "啊" * 500
    await run_question(chatty, core, long_question)
    [line] = [line for line in lines_of(json_log) if line.get("event") == "question handled"]
    logged = json.loads(line["text"])  # a JSON string literal: newlines escaped
    assert logged.startswith(ANSWERED + " 我的密钥是 <redacted>")  # as asked, token hidden
    assert len(line["text"]) < 300 and logged.endswith("…")
    assert TOKEN.split(":")[1] not in json_log.getvalue()


def test_a_text_line_with_a_message_text_stays_one_line() -> None:
    assert message_text("第一行\n第二行\t\"引号\"") == '"第一行\\n第二行\\t\\"引号\\""'


def test_json_lines_redact_tracebacks_and_fields() -> None:
    formatter = JsonFormatter(Redactor(TOKEN))
    try:
        raise ValueError(f"upstream said {TOKEN}")
    except ValueError as error:
        record = logging.LogRecord("bot", logging.ERROR, __file__, 1, "failed", (),
                                   (type(error), error, error.__traceback__))
    record.reason = f"token {TOKEN}"
    line = json.loads(formatter.format(record))
    assert "upstream said <redacted>" in line["exception"]
    assert line["reason"] == "token <redacted>"
    assert "\n" not in formatter.format(record)


# --- settings ------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_defaults_keep_texts_out_of_logs_and_no_health_port(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "{}\n"), environ={})
    assert (settings.log_format, settings.log_message_text) == ("text", False)
    assert (settings.telegram.health_port, settings.telegram.health_listen) == (0, "127.0.0.1")


def test_log_format_comes_from_config_or_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "log_format: json\nlog_message_text: true\n"
                           "telegram:\n  health_port: 9100\n  health_listen: '::1'\n")
    settings = load_settings(path, environ={})
    assert (settings.log_format, settings.log_message_text) == ("json", True)
    assert (settings.telegram.health_port, settings.telegram.health_listen) == (9100, "::1")
    assert load_settings(path, environ={"FAQBOT_LOG_FORMAT": "text"}).log_format == "text"


@pytest.mark.parametrize(("text", "environ", "message"), [
    ("log_format: xml\n", {}, "'log_format' (or FAQBOT_LOG_FORMAT) must be 'text' or 'json'"),
    ("{}\n", {"FAQBOT_LOG_FORMAT": "JSON "}, "must be 'text' or 'json', not 'JSON '"),
    ("log_message_text: 'no'\n", {}, "'log_message_text' must be true or false"),
    ("telegram:\n  health_port: 70000\n", {}, "'telegram.health_port' must be 0 to 65535"),
    ("telegram:\n  health_listen: localhost\n", {},
     "telegram.health_listen must be an IP address"),
])
def test_bad_observability_settings_are_one_line(tmp_path: Path, text: str,
                                                 environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(write(tmp_path, text), environ=environ)


# --- the status pages -----------------------------------------------------------------------


@pytest_asyncio.fixture
async def health(core: FaqBot) -> AsyncIterator[tuple[HealthServer, Any]]:
    bot = bot_with(core=core, store=PingStore(True))
    readiness = Readiness([content_check(bot), store_check(bot)])
    server = HealthServer(Liveness(), readiness, Metrics())
    server.bind("127.0.0.1", 0)
    server.start()
    yield server, bot
    await server.stop()


async def get(port: int, path: str) -> tuple[int, str, str]:
    async with ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as r:
        return r.status, r.headers.get("Content-Type", ""), await r.text()


async def test_the_health_server_reports_liveness_readiness_and_metrics(
    health: tuple[HealthServer, Any], caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "tornado.access")
    server, bot = health
    assert server.readiness is not None and server.metrics is not None
    assert (await get(server.port, "/healthz"))[0] == 503  # no poll yet
    assert await get(server.port, "/readyz") == (503, "text/plain; charset=utf-8",
                                                 "not ready: not serving: starting\n")
    server.readiness.state = ReadyState.SERVING
    server.liveness.mark_ok()
    assert (await get(server.port, "/healthz"))[0] == 200
    assert (await get(server.port, "/readyz"))[::2] == (200, "ready\n")
    bot.store = PingStore(False)
    assert (await get(server.port, "/readyz"))[::2] == (
        503, "not ready: store unreachable: ping failed\n")
    server.metrics.handled(Outcome.DECLINE, 0.01)
    status, content_type, body = await get(server.port, "/metrics")
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    assert 'faqbot_questions_total{outcome="decline"} 1.0' in body.splitlines()
    assert (await get(server.port, "/telegram"))[0] == 404  # no updates here
    # probes are not logged (a starting bot's 503s are no errors); other requests are
    assert [(r.levelname, r.getMessage()[:21]) for r in caplog.records
            if r.name == "tornado.access"] == [("WARNING", "404 GET /telegram (12")]


@pytest.mark.parametrize("path", ["readyz", "/metrics/", "healthz"])
def test_the_webhook_path_cannot_hide_a_status_page(path: str) -> None:
    with pytest.raises(ConfigError, match="reports the bot's health or metrics"):
        WebhookServer(path, "s", lambda update: asyncio.sleep(0), Liveness())


def test_a_busy_health_port_is_one_line() -> None:
    first = HealthServer(Liveness())
    first.bind("127.0.0.1", 0)
    try:
        with pytest.raises(ConfigError, match=f"cannot listen for health checks on "
                                              f"127.0.0.1:{first.port}: "):
            HealthServer(Liveness()).bind("127.0.0.1", first.port)
    finally:
        first.close()

