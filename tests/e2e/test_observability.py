"""Observability over HTTP: /healthz, /readyz and /metrics of a running bot, in webhook mode
(on the webhook server) and in polling mode (on telegram.health_port); the counters move
after a question; JSON log lines hold no token and no message text."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from prometheus_client.parser import text_string_to_metric_families

from e2e.conftest import Running, assert_shows, running_bot
from e2e.test_operations import SECRET, free_port

ANSWERED = "海峡论坛是谁保障的"
DECLINED = "今天天气怎么样"
LIVE_TIMEOUT = 30  # a long poll returns within 10 s; two slow cores


async def get(url: str) -> tuple[int, str]:
    async with ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def live(url: str, timeout: float = LIVE_TIMEOUT) -> dict[str, Any]:
    """/healthz once it says 200: after the first poll or webhook check returned."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, body = await get(url)
        if status == 200:
            return dict(json.loads(body))
        assert status == 503 and asyncio.get_running_loop().time() < deadline, (status, body)
        await asyncio.sleep(0.1)


async def counters(base: str) -> dict[tuple[str, str], float]:
    """(sample name, its one label value) -> value, as Prometheus would scrape them."""
    status, text = await get(f"{base}/metrics")
    assert status == 200
    return {
        (sample.name, next(iter(sample.labels.values()), "")): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


async def ask(bot: Running, text: str) -> dict[str, Any]:
    tg = bot.tg
    user = tg.user()
    sent = tg.send(user, tg.private_chat(user), text)
    [reply] = await tg.wait_for(lambda: tg.after(sent))
    return reply


async def check_status_pages(bot: Running, base: str) -> None:
    """Live, ready, and every question counted and timed under its outcome."""
    assert (await live(f"{base}/healthz"))["age_seconds"] is not None
    assert await get(f"{base}/readyz") == (200, "ready\n")

    before = await counters(base)
    answer = await ask(bot, ANSWERED)
    assert_shows(answer, bot.core.ask(ANSWERED))
    await ask(bot, DECLINED)
    await ask(bot, "/help")
    outcomes = ("answer", "probable", "decline", "command")

    def moved(after: dict[tuple[str, str], float], name: str, label: str) -> float:
        return after.get((name, label), 0.0) - before.get((name, label), 0.0)

    # a handler counts once its reply was sent, which is just after the emulator has it
    deadline = asyncio.get_running_loop().time() + LIVE_TIMEOUT
    while True:
        after = await counters(base)
        if sum(moved(after, "faqbot_questions_total", outcome) for outcome in outcomes) >= 3:
            break
        assert asyncio.get_running_loop().time() < deadline, after
        await asyncio.sleep(0.1)
    answered = "probable" if moved(after, "faqbot_questions_total", "probable") else "answer"
    assert moved(after, "faqbot_questions_total", answered) == 1
    assert moved(after, "faqbot_questions_total", "decline") == 1
    assert moved(after, "faqbot_questions_total", "command") == 1
    assert moved(after, "faqbot_handling_seconds_count", "decline") == 1
    assert moved(after, "faqbot_handling_seconds_sum", answered) > 0
    # the decline was recorded in the use log: a timed store call
    assert moved(after, "faqbot_store_seconds_count", "record_question") >= 1
    assert after[("faqbot_errors_total", "handler")] == 0

async def test_webhook_mode_serves_health_readiness_and_metrics(tmp_path: Path,
                                                                cache_dir: Path) -> None:
    port = free_port()
    async with running_bot(
        tmp_path, cache_dir, webhook=True, env={"TELEGRAM_WEBHOOK_SECRET": SECRET},
        mode="webhook", webhook_listen="127.0.0.1", webhook_port=port,
        webhook_url=f"http://127.0.0.1:{port}/telegram", webhook_path="telegram",
    ) as bot:
        await check_status_pages(bot, f"http://127.0.0.1:{port}")


async def test_polling_mode_serves_them_on_the_health_port_as_json_logs(
    tmp_path: Path, cache_dir: Path,
) -> None:
    port = free_port()
    async with running_bot(tmp_path, cache_dir, health_port=port,
                           env={"FAQBOT_LOG_FORMAT": "json"}) as bot:
        await check_status_pages(bot, f"http://127.0.0.1:{port}")
    logs = bot.process.stderr
    records = [json.loads(line) for line in logs.splitlines()]  # every line one object
    events = [record["event"] for record in records if "event" in record]
    assert events[0] == "bot started" and events[-1] == "bot stopped"
    handled = [r for r in records if r.get("event") == "question handled"]
    assert [r["outcome"] for r in handled][1:] == ["decline"]
    assert all("text" not in r for r in handled)
    assert bot.tg.token.split(":")[1] not in logs
    assert ANSWERED not in logs and DECLINED not in logs
    # probes are not logged: the 503s of a starting bot are no errors
    assert not [r for r in records if r["logger"] == "tornado.access"]

