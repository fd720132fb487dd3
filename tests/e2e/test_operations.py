"""Running it: webhook mode, flood limits, a failing command menu, and the token in logs."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from aiohttp import ClientSession

from e2e.conftest import assert_shows, running_bot
from e2e.emulator import BotApiEmulator

SECRET = "e2e-Webhook_secret-123"
LEAKY_TOKEN = "4242424242:LEAK-CANARY-token-should-never-be-logged-7f3a"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("faqbot: "), stderr
    assert "Traceback" not in stderr, stderr
    return lines[-1]


async def test_webhook_mode_answers_updates_with_the_secret_and_rejects_others(
    tmp_path: Path, cache_dir: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    async with running_bot(
        tmp_path, cache_dir, webhook=True, env={"TELEGRAM_WEBHOOK_SECRET": SECRET},
        mode="webhook", webhook_listen="127.0.0.1", webhook_port=port, webhook_url=url,
        webhook_path="telegram",
    ) as bot:
        tg = bot.tg
        assert tg.webhook is not None
        assert (tg.webhook.url, tg.webhook.secret) == (url, SECRET)
        assert not tg.calls_of("getUpdates")

        user = tg.user()
        chat = tg.private_chat(user)
        sent = tg.send(user, chat, "/start")  # the emulator POSTs it with the secret header
        [welcome] = await tg.wait_for(lambda: tg.after(sent))
        assert_shows(welcome, bot.core.start())
        assert tg.webhook.deliveries[-1][1] == 200

        forged = {"update_id": 1, "message": {
            "message_id": 99, "date": int(time.time()), "chat": chat, "from": user,
            "text": "/help", "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}
        async with ClientSession() as session:
            for headers in ({"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {}):
                async with session.post(url, json=forged, headers=headers) as response:
                    assert response.status == 403
        check = tg.send(user, chat, "/sections")
        await tg.wait_for(lambda: tg.after(check))
        assert tg.after(sent) == [welcome, *tg.after(check)]  # nothing for the forged /help


async def test_webhook_mode_without_a_secret_exits_2_with_one_line(tmp_path: Path,
                                                                    cache_dir: Path) -> None:
    async with running_bot(tmp_path, cache_dir, wait=False, mode="webhook",
                           webhook_url="https://example.org/telegram") as bot:
        assert await bot.process.wait() == 2
        assert "TELEGRAM_WEBHOOK_SECRET" in one_line_error(bot.process.stderr)
        assert bot.tg.calls == []


async def test_flood_limits_are_respected_when_rate_limiting_is_on(tmp_path: Path,
                                                                   cache_dir: Path) -> None:
    emulator = BotApiEmulator(LEAKY_TOKEN)
    emulator.fail_next("setMyCommands", 400, "Bad Request: BOT_COMMAND_INVALID")
    emulator.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    async with running_bot(tmp_path, cache_dir, emulator=emulator, rate_limit=True) as bot:
        tg = bot.tg
        user = tg.user()
        chat = tg.private_chat(user)
        sent = tg.send(user, chat, "海峡论坛是谁保障的")
        [answer] = await tg.wait_for(lambda: tg.replies_to(sent))
        refused, delivered = tg.calls_of("sendMessage")
        assert refused.error.startswith("Too Many Requests")
        assert delivered.at - refused.at >= 1.0  # waited as told, then sent it once
        assert_shows(answer, bot.core.handle("海峡论坛是谁保障的"))

        # at most 30 messages a second overall: 60 answers take about a second (the first 30
        # may go at once); a generous bound, as arrival times on two busy cores jitter, while
        # without the limit they all go out within a fraction of that
        users = [tg.user() for _ in range(60)]
        questions = [tg.send(u, tg.private_chat(u), "/help") for u in users]
        await tg.wait_for(lambda: all(tg.after(q) for q in questions), timeout=60)
        times = sorted(c.at for c in tg.calls_of("sendMessage")[2:])
        assert len(times) == 60 and times[-1] - times[0] >= 0.6

        assert "could not register the command menu" in bot.process.stderr
        assert tg.commands == []  # the menu failed; the bot kept running all the same


async def test_the_token_never_reaches_the_logs(tmp_path: Path, cache_dir: Path) -> None:
    emulator = BotApiEmulator(LEAKY_TOKEN)
    emulator.fail_next("editMessageText", 400, "Bad Request: message to edit not found")
    async with running_bot(tmp_path, cache_dir, emulator=emulator,
                           env={"FAQBOT_LOG_LEVEL": "DEBUG"}) as bot:
        tg = bot.tg
        user = tg.user()
        chat = tg.private_chat(user)
        sent = tg.send(user, chat, "/sections")
        [message] = await tg.wait_for(lambda: tg.after(sent))
        await tg.answer_of(tg.press(user, message, "sec:s1"))  # its edit fails: logged
        await tg.answer_of(tg.inline(user, "海峡论坛"))
        question = tg.send(user, chat, "海峡论坛是谁保障的")
        await tg.wait_for(lambda: tg.replies_to(question))
        await tg.wait_for(lambda: "error while handling" in bot.process.stderr)
    logs = bot.process.stderr + bot.process.stdout
    assert "DEBUG" in logs and "Traceback" in logs  # logging was verbose, errors included
    assert "button 'sec:s1'" in logs
    for private in ("海峡论坛", user["first_name"]):  # what users typed, and who they are
        assert private not in logs
    secret_half = LEAKY_TOKEN.split(":", 1)[1]
    assert LEAKY_TOKEN not in logs and secret_half not in logs


async def test_a_rejected_token_exits_2_without_printing_it(tmp_path: Path,
                                                            cache_dir: Path) -> None:
    async with running_bot(tmp_path, cache_dir, wait=False,
                           env={"TELEGRAM_BOT_TOKEN": LEAKY_TOKEN}) as bot:
        assert await bot.process.wait() == 2
        line = one_line_error(bot.process.stderr)
        assert "rejected TELEGRAM_BOT_TOKEN" in line
        assert LEAKY_TOKEN.split(":", 1)[1] not in bot.process.stderr
        assert [c.method for c in bot.tg.calls] == []  # 401 before any method ran


async def test_an_unreachable_bot_api_server_exits_2_with_one_line(tmp_path: Path,
                                                                   cache_dir: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/bot"
    async with running_bot(tmp_path, cache_dir, wait=False,
                           env={"TELEGRAM_API_BASE_URL": closed}) as bot:
        assert await bot.process.wait() == 2
        line = one_line_error(bot.process.stderr)
        assert "cannot reach the Telegram Bot API" in line and closed in line
