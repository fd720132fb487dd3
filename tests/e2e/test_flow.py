"""Under load and trouble: a flooded group, a flooding user, SIGTERM under a backlog, an outage.

Each test runs its own bot (`python -m bot run`) against the emulator, which plays
Telegram's flood control for one group (429s) or an outage (502s for a few seconds).
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from pathlib import Path

import pytest

from bot.config import DEFAULT_TEXTS
from e2e.conftest import Running, assert_shows, running_bot

QUESTION = "海峡论坛是谁保障的"
GROUP_FLOOD = 120  # messages to the bot in one group, from several users
GROUP_USERS = 40
PROMPT_REPLY_SECONDS = 5.0  # a private user's reply while a group is flooded: "at once"
STOP_BOUND_SECONDS = 10.0  # SIGTERM under a backlog: the process is gone within this
TRAFFIC_LINE = re.compile(r" (INFO|WARNING|ERROR|CRITICAL) ")
HANDLED_LINE = re.compile(r": (question|update) handled: ")


async def flood_a_group(bot: Running) -> dict:
    """120 questions to the bot in one group whose flood control allows 3 messages a
    second (then a 429, retry after 2 s); returns the group once the bot answers there."""
    tg = bot.tg
    group = tg.group()
    tg.limit_chat(group, messages=3, seconds=1, retry_after=2)
    users = [tg.user() for _ in range(GROUP_USERS)]
    for number in range(GROUP_FLOOD):
        tg.send(users[number % GROUP_USERS], group, f"@{tg.username} {QUESTION}")
    await tg.wait_for(lambda: tg.bot_messages(group), what="the first answer in the group")
    return group


async def test_a_flooded_group_does_not_delay_a_private_reply_and_its_backlog_is_capped(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    async with running_bot(tmp_path, cache_dir, rate_limit=True) as bot:
        tg = bot.tg
        group = await flood_a_group(bot)

        user = tg.user()
        sent = tg.send(user, tg.private_chat(user), QUESTION)
        asked = time.monotonic()
        [answer] = await tg.wait_for(lambda: tg.replies_to(sent), timeout=30,
                                     what="the private reply")
        waited = time.monotonic() - asked
        assert waited < PROMPT_REPLY_SECONDS, f"the private reply took {waited:.1f}s"
        assert_shows(answer, bot.core.handle(QUESTION))

        logs = bot.process.stderr
        assert f"backlog full in chat {group['id']}" in logs  # the flood beyond it dropped
        assert len(re.findall("backlog full", logs)) == 1  # one line, not one per drop
        assert "Traceback" not in logs
    with capsys.disabled():
        print(f"\n[flow] private reply during a {GROUP_FLOOD}-message group flood: "
              f"{waited:.2f}s")


async def test_sigterm_under_a_backlog_stops_the_bot_within_seconds(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    async with running_bot(tmp_path, cache_dir, rate_limit=True) as bot:
        group = await flood_a_group(bot)
        assert bot.process.process is not None
        bot.process.process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        code = await bot.process.wait(timeout=STOP_BOUND_SECONDS + 20)
        took = time.monotonic() - stopping
        assert took < STOP_BOUND_SECONDS, f"the bot took {took:.1f}s to stop"
        assert code == 0
        assert len(bot.tg.bot_messages(group)) < GROUP_FLOOD  # it did not drain the backlog
        assert "cancelled" in bot.process.stderr
    with capsys.disabled():
        print(f"\n[flow] SIGTERM under a group backlog: stopped in {took:.2f}s")


async def test_a_user_sending_30_messages_in_a_second_gets_n_answers_and_one_notice(
    tmp_path: Path, cache_dir: Path,
) -> None:
    allowed = 5
    async with running_bot(tmp_path, cache_dir, user_messages=allowed, user_seconds=60) as bot:
        tg = bot.tg
        user = tg.user()
        chat = tg.private_chat(user)
        first = None
        for _ in range(30):
            sent = tg.send(user, chat, "/help")
            first = first or sent
        assert first is not None
        await tg.wait_for(lambda: len(tg.after(first)) >= allowed + 1, what="answers")
        await asyncio.sleep(1.5)  # anything more would have come by now
        texts = [m["text"] for m in tg.after(first)]
        notice = DEFAULT_TEXTS["too_fast"]
        assert texts.count(notice) == 1
        assert len(texts) == allowed + 1  # the rest ignored

        other = tg.user()  # someone else is not affected
        question = tg.send(other, tg.private_chat(other), QUESTION)
        await tg.wait_for(lambda: tg.replies_to(question))


async def test_an_outage_logs_a_few_lines_and_the_replies_follow_after_it(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    outage = 4.0
    async with running_bot(tmp_path, cache_dir) as bot:
        tg = bot.tg
        before = len(bot.process.stderr.splitlines())
        users = [tg.user() for _ in range(8)]
        sent = [tg.send(u, tg.private_chat(u), QUESTION) for u in users]
        tg.outage(outage)  # the long poll under way still returns the questions
        ends = tg.outage_until
        await tg.wait_for(lambda: all(tg.replies_to(m) for m in sent), timeout=40,
                          what="every reply after the outage")
        replies = [c for c in tg.calls_of("sendMessage") if not c.error]
        assert min(c.at for c in replies) >= ends  # they failed during it, and came after
        refused = [c for c in tg.calls if c.error == "Bad Gateway"]
        assert len(refused) > len(users)  # the bot did try during the outage
        for message in sent:
            [answer] = tg.replies_to(message)
            assert_shows(answer, bot.core.handle(QUESTION))

        await asyncio.sleep(0.5)
        lines = bot.process.stderr.splitlines()[before:]
        assert "Traceback" not in bot.process.stderr
        trouble = [line for line in lines if TRAFFIC_LINE.search(line)
                   and not HANDLED_LINE.search(line)]  # one line per message is no trouble
        kinds: dict[str, int] = {}
        for line in trouble:
            kind = line.split(": ", 1)[-1].split(":", 1)[0]
            kinds[kind] = kinds.get(kind, 0) + 1
        assert all(count <= 2 for count in kinds.values()), trouble
        assert len(trouble) <= 8, trouble
    with capsys.disabled():
        print(f"\n[flow] {outage:.0f}s outage: {len(refused)} refused requests, "
              f"{len(trouble)} log lines: {sorted(kinds)}")

