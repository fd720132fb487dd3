"""bot.flow: chat queues (fair, capped, stoppable), the per-user limit and the log throttle."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import warnings
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.flow import ChatQueues, LogThrottle, UserRateLimit, Verdict, slot_released


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- ChatQueues -----------------------------------------------------------------------------


async def test_work_of_one_chat_runs_in_order_and_other_chats_do_not_wait_for_it() -> None:
    queues = ChatQueues(slots=4, backlog=100)
    done: list[str] = []

    async def work(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        done.append(name)

    jobs = [(1, "a1", 0.05), (1, "a2", 0.0), (2, "b1", 0.01), (1, "a3", 0.0), (2, "b2", 0.0)]
    await asyncio.gather(*(queues.run(chat, work(name, delay)) for chat, name, delay in jobs))
    assert [n for n in done if n.startswith("a")] == ["a1", "a2", "a3"]
    assert [n for n in done if n.startswith("b")] == ["b1", "b2"]
    assert done.index("b2") < done.index("a1")


async def test_a_chat_waiting_for_its_turn_holds_no_slot() -> None:
    queues = ChatQueues(slots=2, backlog=100)
    release = asyncio.Event()
    done: list[str] = []

    async def slow() -> None:
        await release.wait()
        done.append("busy")

    async def quick() -> None:
        done.append("other")

    busy = [asyncio.create_task(queues.run("busy", slow())) for _ in range(50)]
    await asyncio.wait_for(queues.run("other", quick()), timeout=1)  # 49 wait, 1 slot free
    assert done == ["other"]
    release.set()
    await asyncio.gather(*busy)
    assert done.count("busy") == 50


async def test_waiting_on_its_own_limit_a_chat_gives_its_slot_back() -> None:
    queues = ChatQueues(slots=1, backlog=10)
    limit = asyncio.Event()
    done: list[str] = []

    async def rate_limited() -> None:
        async with slot_released():
            await limit.wait()  # e.g. the group's flood limit
        done.append("group")

    async def quick() -> None:
        done.append("private")

    group = asyncio.create_task(queues.run("group", rate_limited()))
    await asyncio.sleep(0)
    await asyncio.wait_for(queues.run("private", quick()), timeout=1)
    limit.set()
    await group
    assert done == ["private", "group"]


async def test_a_chat_backlog_beyond_the_cap_is_refused_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queues = ChatQueues(slots=4, backlog=3)
    release = asyncio.Event()
    ran: list[int] = []

    async def work(number: int) -> None:
        await release.wait()
        ran.append(number)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a refused coroutine is closed, not left un-awaited
        tasks = [asyncio.create_task(queues.run(-5, work(n))) for n in range(10)]
        await asyncio.sleep(0.01)
        assert queues.waiting(-5) == 3
        release.set()
        accepted = await asyncio.gather(*tasks)
    assert accepted == [True] * 4 + [False] * 6
    assert ran == [0, 1, 2, 3]  # the first in line and the 3 behind it, in order
    lines = [r.getMessage() for r in caplog.records if "backlog full" in r.getMessage()]
    assert lines == ["backlog full in chat -5: 3 updates wait already; newer ones are dropped"]


async def test_close_cancels_what_is_left_after_the_grace_period() -> None:
    queues = ChatQueues(slots=2, backlog=100)
    finished: list[str] = []

    async def forever() -> None:
        await asyncio.Event().wait()

    async def quick() -> None:
        await asyncio.sleep(0.01)
        finished.append("quick")

    stuck = [asyncio.create_task(queues.run(1, forever())) for _ in range(5)]
    done = asyncio.create_task(queues.run(2, quick()))
    await asyncio.sleep(0)
    started = time.monotonic()
    await queues.close(grace=0.3)
    assert time.monotonic() - started < 2
    assert finished == ["quick"] and await done  # what could finish in the grace did
    assert all(task.cancelled() for task in stuck)
    assert await queues.run(3, quick()) is False  # closed: nothing new starts


# --- UserRateLimit --------------------------------------------------------------------------


def test_a_burst_gets_n_messages_then_one_notice_then_silence() -> None:
    clock = FakeClock()
    limit = UserRateLimit(messages=5, seconds=10, clock=clock)
    verdicts = [limit.check("alice") for _ in range(30)]
    assert verdicts == [Verdict.ALLOW] * 5 + [Verdict.NOTIFY] + [Verdict.DROP] * 24
    assert limit.check("bob") is Verdict.ALLOW  # per user

    clock.now += 2  # one message's worth refilled (5 per 10 s)
    assert [limit.check("alice") for _ in range(2)] == [Verdict.ALLOW, Verdict.DROP]
    clock.now += 10  # quiet until full again: the burst is over
    verdicts = [limit.check("alice") for _ in range(7)]
    assert verdicts == [Verdict.ALLOW] * 5 + [Verdict.NOTIFY, Verdict.DROP]


def test_no_user_limit_when_messages_is_0() -> None:
    limit = UserRateLimit(messages=0, seconds=10)
    assert {limit.check("alice") for _ in range(100)} == {Verdict.ALLOW}


# --- LogThrottle --------------------------------------------------------------------------


def test_one_line_per_kind_per_interval_and_a_summary_of_the_repeats(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    throttle = LogThrottle(logging.getLogger("test.throttle"), interval=30, clock=clock)
    caplog.set_level(logging.INFO, "test.throttle")
    written = [throttle.log(logging.WARNING, "NetworkError", "send failed (%s)", n)
               for n in range(100)]
    throttle.log(logging.WARNING, "TimedOut", "send timed out")
    assert written == [True] + [False] * 99
    clock.now += 31
    throttle.log(logging.WARNING, "NetworkError", "send failed (%s)", "again")
    throttle.flush()
    assert [r.getMessage() for r in caplog.records] == [
        "NetworkError: send failed (0)",
        "TimedOut: send timed out",
        "NetworkError: 99 more in the last 31 s",
        "NetworkError: send failed (again)",
    ]


async def test_the_summary_comes_when_the_interval_ends(caplog: pytest.LogCaptureFixture) -> None:
    throttle = LogThrottle(logging.getLogger("test.throttle"), interval=0.1)
    caplog.set_level(logging.INFO, "test.throttle")
    for _ in range(5):
        throttle.log(logging.ERROR, "Bad Gateway", "polling failed")
    await asyncio.sleep(0.3)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.ERROR, "Bad Gateway: polling failed"),
        (logging.ERROR, "Bad Gateway: 4 more in the last 0 s"),
    ]


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(("telegram", "message"), [
    ("user_messages: -1", "'telegram.user_messages' must be 0 to 1000"),
    ("user_messages: 1001", "'telegram.user_messages' must be 0 to 1000"),
    ("user_seconds: 0", "'telegram.user_seconds' must be 1 to 3600"),
    ("user_seconds: 86400", "'telegram.user_seconds' must be 1 to 3600"),
    ("user_seconds: soon", "'telegram.user_seconds' must be a whole number"),
])
def test_the_user_limit_settings_are_range_checked(tmp_path: Path, telegram: str,
                                                   message: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"telegram:\n  {telegram}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(config, environ={})


def test_the_user_limit_settings_are_read(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("telegram:\n  user_messages: 0\n  user_seconds: 3600\n", encoding="utf-8")
    telegram = load_settings(config, environ={}).telegram
    assert (telegram.user_messages, telegram.user_seconds) == (0, 3600)


def test_refilled_user_buckets_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.flow.FORGET_AT_BUCKETS", 100)
    clock = FakeClock()
    limit = UserRateLimit(messages=2, seconds=10, clock=clock)
    for user in range(150):
        limit.check(user)
    assert limit.check(0) is Verdict.ALLOW  # its second message
    clock.now += 10
    assert [limit.check("new") for _ in range(3)] == [Verdict.ALLOW] * 2 + [Verdict.NOTIFY]
    assert len(limit) == 1  # everyone else had refilled: forgotten
