"""Several replicas: two `faqbot run` processes in webhook mode behind one address, sharing
one PostgreSQL store, the emulator delivering updates to them in turn as a load balancer
would. A follow-up finds its context whichever replica took the question, a second vote
replaces the first, a reload (SIGHUP, as `faqbot reload` sends) of one replica while the other
answers serves the new content there at once, and a rolling restart (one replica stopped and
started with changed content while the other answers) loses no update and answers none twice."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientError, ClientSession

from bot import bench
from bot.config import Settings
from bot.replies import FaqBot
from e2e.conftest import (
    CONTENT,
    START_TIMEOUT,
    TOKEN,
    BotProcess,
    assert_shows,
    bot_environment,
    core_for,
    text_of,
    write_config,
)
from e2e.emulator import BotApiEmulator
from e2e.test_operations import SECRET, free_port
from tests.storekit import PostgresBackend

REPLICAS = 2
QUESTION = "督查这块怎么搞的"  # then 下一点呢 / 详细说说 on the other replica
FOLLOW_UPS = ("下一点呢", "详细说说", "上一条")
CHANGED_QUESTION = "海峡论坛是谁保障的"
OLD_WORDS = "圆满完成省市工作检查"
NEW_WORDS = "圆满完成省市两级工作检查"  # the changed content's answer says this instead
RATING_TIMEOUT = 30.0  # ratings are written by a background thread
SEND_INTERVAL = 0.2  # seconds between questions during the rolling restart


@dataclass
class Replica:
    """One bot process: its own webhook port and directory, the shared store."""

    directory: Path
    port: int
    process: BotProcess | None = None  # set by Cluster.start

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/telegram"


@dataclass
class Cluster:
    tg: BotApiEmulator
    replicas: list[Replica]
    core: FaqBot
    public_url: str
    database_url: str
    cache_dir: Path

    def start(self, replica: Replica, content: Path = CONTENT) -> None:
        """(Re)start a replica on its port, with ``content``."""
        config = write_config(
            replica.directory, content=content, mode="webhook", webhook_listen="127.0.0.1",
            webhook_port=replica.port, webhook_url=self.public_url, webhook_path="telegram")
        env = bot_environment(self.tg, self.cache_dir, TELEGRAM_WEBHOOK_SECRET=SECRET,
                              FAQBOT_DATABASE_URL=self.database_url)
        replica.process = BotProcess(config, env, replica.directory)
        replica.process.start()

    def stderr(self) -> str:
        return "".join(r.process.stderr for r in self.replicas if r.process is not None)


async def wait_ready(replica: Replica, timeout: float = START_TIMEOUT) -> None:
    """Until the replica's /readyz says 200 (content loaded, store reachable, serving)."""
    assert replica.process is not None
    deadline = time.monotonic() + timeout
    async with ClientSession() as session:
        while True:
            if replica.process.exited():
                raise AssertionError(f"replica {replica.port} exited:\n{replica.process.stderr}")
            with contextlib.suppress(ClientError, OSError):
                async with session.get(f"http://127.0.0.1:{replica.port}/readyz") as response:
                    if response.status == 200:
                        return
            assert time.monotonic() < deadline, f"replica {replica.port} not ready"
            await asyncio.sleep(0.2)


def in_schema(url: str, schema: str) -> str:
    """The URL with libpq options that put the tables in ``schema``."""
    return f"{url}&options=-csearch_path%3D{schema}"


@pytest.fixture
def shared_store(postgres_url: str) -> Iterator[PostgresBackend]:
    """A schema of its own in the test server, for both replicas; dropped afterwards."""
    backend = PostgresBackend(postgres_url)
    backend.rows(f"CREATE SCHEMA {backend.schema}")
    yield backend
    backend.drop()


@contextlib.asynccontextmanager
async def cluster(directory: Path, cache_dir: Path, store: PostgresBackend,
                  content: Path = CONTENT) -> AsyncIterator[Cluster]:
    """The emulator balancing over REPLICAS bot processes; every process always stopped."""
    tg = BotApiEmulator(TOKEN)
    await tg.start()
    running = None
    try:
        core = core_for(write_config(directory / "core"), cache_dir)  # warms the index cache
        replicas = [Replica(directory / f"replica-{n}", free_port()) for n in range(REPLICAS)]
        running = Cluster(tg, replicas, core, f"http://127.0.0.1:{free_port()}/telegram",
                          in_schema(store.url, store.schema), cache_dir)
        tg.balance([replica.url for replica in replicas])
        for replica in replicas:
            running.start(replica, content)
        for replica in replicas:
            await wait_ready(replica)
        yield running
    finally:
        if running is not None:
            for replica in running.replicas:
                if replica.process is not None:
                    await replica.process.stop()
        await tg.stop()


async def one_reply(tg: BotApiEmulator, sent: dict[str, Any]) -> dict[str, Any]:
    [reply] = await tg.wait_for(lambda: tg.after(sent), what=f"a reply to {sent['text']}")
    return reply


async def test_a_follow_up_on_the_other_replica_finds_the_context_and_a_second_vote_replaces(
    tmp_path: Path, cache_dir: Path, shared_store: PostgresBackend,
) -> None:
    async with cluster(tmp_path, cache_dir, shared_store) as running:
        tg, core = running.tg, running.core
        assert tg.webhook is not None and tg.webhook.url == running.public_url
        assert len(tg.calls_of("setWebhook")) == REPLICAS  # both set the one address

        user = tg.user()
        chat = tg.private_chat(user)
        key = "expected"
        asked = tg.send(user, chat, QUESTION)
        answer = await one_reply(tg, asked)
        assert_shows(answer, core.handle(QUESTION, key))
        taken_by = [tg.backend_of(asked)]
        for text in FOLLOW_UPS:
            sent = tg.send(user, chat, text)
            assert_shows(await one_reply(tg, sent), core.handle(text, key))
            taken_by.append(tg.backend_of(sent))
        # in turn: every follow-up went to the other replica than the message before it
        assert all(a != b for a, b in zip(taken_by, taken_by[1:], strict=False)), taken_by
        assert set(taken_by) == {replica.url for replica in running.replicas}

        passage = core.handle(QUESTION).passage_id
        good = tg.press(user, answer, f"fb:good:{passage}")
        await tg.answer_of(good)
        bad = tg.press(user, answer, f"fb:bad:{passage}")
        await tg.answer_of(bad)
        assert tg.backend_of(good) != tg.backend_of(bad)

        def ratings() -> list[tuple[Any, ...]]:
            return shared_store.rows("SELECT passage_id, good FROM ratings")

        await tg.wait_for(lambda: ratings() and ratings()[0][1] == 0, RATING_TIMEOUT,
                          "the second vote written")
        assert ratings() == [(passage, 0)]  # one rating per user and passage: the last

        # nothing lost or answered twice: one reply per message, each delivered once
        messages = [m for m in tg.messages.values()
                    if m["chat"]["id"] == chat["id"] and m["from"]["id"] == user["id"]]
        assert len(tg.bot_messages(chat)) == len(messages) == 1 + len(FOLLOW_UPS)
        accepted = [uid for uid, _, status in tg.routed if status == 200]
        assert len(accepted) == len(set(accepted)) == len(messages) + 2
        assert "Traceback" not in running.stderr()


def changed_content(directory: Path) -> Path:
    """A copy of the content with one answer reworded (as an editor's update would)."""
    copy = directory / "content"
    shutil.copytree(CONTENT, copy)
    report = copy / "siming-report.yaml"
    text = report.read_text(encoding="utf-8")
    assert text.count(OLD_WORDS) == 1
    report.write_text(text.replace(OLD_WORDS, NEW_WORDS), encoding="utf-8")
    return copy


async def test_a_rolling_restart_with_changed_content_loses_no_update(
    tmp_path: Path, cache_dir: Path, shared_store: PostgresBackend,
) -> None:
    new_content = changed_content(tmp_path / "new")
    new_core = core_for(write_config(tmp_path / "new-core", content=new_content), cache_dir)
    async with cluster(tmp_path, cache_dir, shared_store) as running:
        tg, old_core = running.tg, running.core
        old, new = (text_of(core.handle(CHANGED_QUESTION)) for core in (old_core, new_core))
        assert OLD_WORDS in old and NEW_WORDS in new

        sent: list[dict[str, Any]] = []
        restarted = asyncio.Event()

        async def keep_asking() -> None:
            """A new user every SEND_INTERVAL until the restarted replica took a question."""
            while not restarted.is_set() or not any(
                    tg.backend_of(m) == restarting.url for m in sent[after_restart:]):
                user = tg.user()
                sent.append(tg.send(user, tg.private_chat(user), CHANGED_QUESTION))
                await asyncio.sleep(SEND_INTERVAL)

        restarting, serving = running.replicas
        assert restarting.process is not None
        after_restart = 1 << 30
        asking = asyncio.create_task(keep_asking())
        try:
            await asyncio.sleep(1)
            assert await restarting.process.stop() == 0
            during = len(sent)
            running.start(restarting, new_content)
            await wait_ready(restarting)
            after_restart = len(sent)
            restarted.set()
            await asyncio.wait_for(asking, START_TIMEOUT)
        finally:
            asking.cancel()
            await asyncio.gather(asking, return_exceptions=True)

        replies = [await one_reply(tg, message) for message in sent]  # each exactly one
        # each answered from the content of the process that took it: the old one until the
        # replica stopped, the new one after; the other replica the old one throughout
        for number, (message, reply) in enumerate(zip(sent, replies, strict=True)):
            restarted_took = tg.backend_of(message) == restarting.url and number >= during
            assert reply["text"] == (new if restarted_took else old), number
        # while it was down or loading the other answered; once back, it answers again
        assert serving.url in {tg.backend_of(m) for m in sent[during:after_restart]}
        assert restarting.url in {tg.backend_of(m) for m in sent[after_restart:]}
        accepted = [uid for uid, _, status in tg.routed if status == 200]
        assert len(accepted) == len(set(accepted)) == len(sent)
        assert "Traceback" not in running.stderr()


RELOADED_LOG = "content reloaded"  # what a replica logs once it serves the new content


async def test_a_reload_on_one_replica_while_the_other_answers(
    tmp_path: Path, cache_dir: Path, shared_store: PostgresBackend,
) -> None:
    """SIGHUP (what `faqbot reload` sends) to one replica: it rebuilds and swaps its index
    while both keep answering; until the other reloads too, each answers from its own."""
    live = tmp_path / "live"
    live.mkdir()
    content = live / "content"
    shutil.copytree(CONTENT, content)
    new_content = changed_content(tmp_path / "new")
    new_core = core_for(write_config(tmp_path / "new-core", content=new_content), cache_dir)
    async with cluster(tmp_path, cache_dir, shared_store, content) as running:
        tg = running.tg
        old, new = (text_of(core.handle(CHANGED_QUESTION)) for core in (running.core, new_core))
        shutil.copy(new_content / "siming-report.yaml", content / "siming-report.yaml")
        sent: list[dict[str, Any]] = []

        async def ask(times: int) -> None:
            for _ in range(times):
                user = tg.user()
                sent.append(tg.send(user, tg.private_chat(user), CHANGED_QUESTION))
                await asyncio.sleep(SEND_INTERVAL)

        async def reload(replica: Replica) -> None:
            assert replica.process is not None and replica.process.process is not None
            os.kill(replica.process.process.pid, signal.SIGHUP)
            await ask(4)  # both answer while it rebuilds
            await tg.wait_for(lambda: RELOADED_LOG in replica.process.stderr, START_TIMEOUT,
                              "the reload")

        first, second = running.replicas
        await reload(first)
        between = len(sent)
        await ask(4)
        before_second = len(sent)
        await reload(second)
        settled = len(sent)
        await ask(4)
        replies = [await one_reply(tg, message) for message in sent]  # each exactly one
        for number, (message, reply) in enumerate(zip(sent, replies, strict=True)):
            if between <= number < before_second:  # the first reloaded, the second not yet
                expected = new if tg.backend_of(message) == first.url else old
                assert reply["text"] == expected, number
            if number >= settled:
                assert reply["text"] == new, number
            assert reply["text"] in (old, new)
        assert {tg.backend_of(m) for m in sent[between:before_second]} == {
            first.url, second.url}
        accepted = [uid for uid, _, status in tg.routed if status == 200]
        assert len(accepted) == len(set(accepted)) == len(sent)
        assert "Traceback" not in running.stderr()


# --- faqbot bench: the end-to-end rows --------------------------------------------------------

BENCH_MESSAGES = 40
MAX_MESSAGES_PER_SECOND = 100_000  # sanity only: a figure, never a pass mark


def test_bench_times_one_and_two_replicas_beside_the_echo_bot_and_drops_its_schema(
    settings: Settings, shared_store: PostgresBackend, postgres_url: str,
) -> None:
    texts = [q for p in FaqBot.from_settings(settings).report.passages for q in p.questions]
    figures, notes = bench.throughput_rows(settings, None, texts, BENCH_MESSAGES, postgres_url)
    assert [figure.replicas for figure in figures] == [1, 2]
    for figure in figures:
        assert 0 < figure.bot < MAX_MESSAGES_PER_SECOND
        assert 0 < figure.echo < MAX_MESSAGES_PER_SECOND
    assert shared_store.rows(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'faqbot_bench_e2e_%'") == []
    [note] = notes
    assert f"{BENCH_MESSAGES} questions" in note and "PostgreSQL" in note
    shown = bench.format_text(bench.BenchResult(
        (bench.Row("p50 per question, report (ms)", 0.2, 0.3, 0.1),), (), notes, figures))
    lines = shown.splitlines()
    assert re.fullmatch(r"end to end \(messages/s\) +bot +echo bot +bot/echo", lines[2])
    for line, figure in zip(lines[3:5], figures, strict=True):
        replicas, word, bot, echo, ratio = line.split()
        assert (int(replicas), word) == (figure.replicas, "replica" if figure.replicas == 1
                                         else "replicas")
        assert float(bot) == pytest.approx(figure.bot, rel=0.01)  # shown rounded
        assert float(echo) == pytest.approx(figure.echo, rel=0.01)
        assert ratio == f"{figure.bot / figure.echo:.2f}×"
