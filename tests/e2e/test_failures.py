"""When things go wrong: one line and exit 2 (never the token, in any form), or one log line
and carry on; never deaf but alive. And the webhook server against hostile clients."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import ClientSession, web

from e2e.conftest import running_bot
from e2e.emulator import BotApiEmulator
from e2e.test_operations import LEAKY_TOKEN, SECRET, free_port, one_line_error

EXIT_WITHIN = 20  # seconds: generous on two busy cores; polling notices within one poll
RSS_GROWTH_LIMIT_KB = 20_000  # a 50 MB body must not be read: far below its size
HUGE_BODY_BYTES = 50 * 1024 * 1024


def token_forms(token: str = LEAKY_TOKEN) -> set[str]:
    """Every form in which an echo could carry the token or its secret part."""
    forms = set()
    for secret in (token, token.split(":", 1)[1]):
        every_byte = "".join(f"%{byte:02X}" for byte in secret.encode())
        for form in (secret, quote(secret, safe=""), every_byte, quote(quote(secret, safe=""))):
            forms |= {form, form.lower(), form.upper()}
    return forms


def assert_no_token(text: str) -> None:
    leaked = sorted(form for form in token_forms() if form in text)
    assert leaked == [], text


def percent_every_byte(text: str) -> str:
    return "".join(f"%{byte:02X}" for byte in text.encode())


# what a server or a proxy in front of it might answer to getMe: each echoes the path
ECHOES: dict[str, Callable[[web.Request], web.Response]] = {
    "json 404 with the path": lambda r: web.json_response(
        {"ok": False, "error_code": 404, "description": f"Not Found: {r.path}"}, status=404),
    "json 401 with the path lowercased": lambda r: web.json_response(
        {"ok": False, "error_code": 401, "description": f"Unauthorized: {r.path.lower()}"},
        status=401),
    "html 502 with the path lowercased": lambda r: web.Response(
        status=502, content_type="text/html",
        text=f"<html><body><h1>502 Bad Gateway</h1>{r.path.lower()}</body></html>"),
    "text 500 with the path url-encoded": lambda r: web.Response(
        status=500, text=f"upstream error for {quote(r.path, safe='')}"),
    "json 500 with the secret part percent-encoded": lambda r: web.json_response(
        {"ok": False, "error_code": 500,
         "description": f"Internal: {percent_every_byte(r.path.split(':', 1)[1])}"},
        status=500),
    "html 200": lambda r: web.Response(status=200, content_type="text/html",
                                       text=f"<html>login page for {r.path}</html>"),
    "empty 200": lambda r: web.Response(status=200, body=b""),
    "json 200 of the wrong shape": lambda r: web.json_response({"ok": True, "result": r.path}),
    "json 200 without a result": lambda r: web.json_response({"ok": True, "path": r.path}),
}


@pytest.mark.parametrize("answer", list(ECHOES), ids=list(ECHOES))
async def test_an_odd_answer_at_startup_is_one_line_without_the_token(
    tmp_path: Path, cache_dir: Path, answer: str,
) -> None:
    emulator = BotApiEmulator(LEAKY_TOKEN)
    emulator.answer_next("getMe", ECHOES[answer])
    async with running_bot(tmp_path, cache_dir, wait=False, emulator=emulator) as bot:
        assert await bot.process.wait() == 2
        line = one_line_error(bot.process.stderr)
        assert emulator.calls_of("getMe"), "the odd answer was never asked for"
    assert_no_token(bot.process.stderr + bot.process.stdout)
    status = answer.split()[1]
    assert f"HTTP {status}" in line  # reported by its status, not by its body
    assert "Not Found:" not in line and "upstream" not in line and "<html" not in line


async def test_a_token_revoked_while_polling_stops_the_bot_with_exit_2(
    tmp_path: Path, cache_dir: Path,
) -> None:
    emulator = BotApiEmulator(LEAKY_TOKEN)
    async with running_bot(tmp_path, cache_dir, emulator=emulator) as bot:
        tg = bot.tg
        user = tg.user()
        sent = tg.send(user, tg.private_chat(user), "/start")
        await tg.wait_for(lambda: tg.after(sent))
        revoked_at = time.monotonic()
        tg.revoke()
        assert await bot.process.wait(EXIT_WITHIN) == 2
        took = time.monotonic() - revoked_at
        line = one_line_error(bot.process.stderr)
    assert "rejected TELEGRAM_BOT_TOKEN while running (HTTP 401)" in line
    assert took < EXIT_WITHIN
    assert_no_token(bot.process.stderr + bot.process.stdout)


async def test_a_second_instance_polling_stops_the_bot_with_exit_2(
    tmp_path: Path, cache_dir: Path,
) -> None:
    async with running_bot(tmp_path, cache_dir) as bot:
        tg = bot.tg
        await tg.wait_for(lambda: len(tg.calls_of("getUpdates")) >= 1)
        async with ClientSession() as session:  # the other instance polls once
            url = f"{tg.base_url}{tg.token}/getUpdates"
            async with session.post(url, json={"timeout": 0}) as response:
                assert response.status == 200
        assert await bot.process.wait(EXIT_WITHIN) == 2
        line = one_line_error(bot.process.stderr)
    assert "another instance" in line and "409" in line


async def test_odd_answers_while_polling_are_one_log_line_each_and_the_bot_carries_on(
    tmp_path: Path, cache_dir: Path,
) -> None:
    emulator = BotApiEmulator(LEAKY_TOKEN)
    async with running_bot(tmp_path, cache_dir, emulator=emulator) as bot:
        tg = bot.tg
        tg.answer_next("getUpdates", ECHOES["html 502 with the path lowercased"])
        tg.answer_next("getUpdates", ECHOES["json 200 of the wrong shape"])
        user = tg.user()
        sent = tg.send(user, tg.private_chat(user), "/start")  # ends the current long poll
        [welcome] = await tg.wait_for(lambda: tg.after(sent))
        assert welcome["text"]
        await tg.wait_for(lambda: [c.error for c in tg.calls_of("getUpdates")].count("raw") == 2)
        await tg.wait_for(lambda: tg.calls_of("getUpdates")[-1].error != "raw")  # polls again
        assert not bot.process.exited()

        tg.answer_next("getUpdates", ECHOES["empty 200"], times=5)
        await tg.wait_for(lambda: tg.calls_of("getUpdates")[-1].error == "raw", timeout=15)
        assert await bot.process.stop() == 0  # a stop signal while waiting to retry
    logs = bot.process.stderr
    assert "getUpdates failed (HTTP 502 Bad Gateway" in logs
    assert "getUpdates failed (unexpected answer" in logs
    assert "Traceback" not in logs
    assert_no_token(logs + bot.process.stdout)


# --- the webhook server --------------------------------------------------------------------


def webhook_settings(port: int, listen: str = "127.0.0.1") -> dict[str, object]:
    return {"mode": "webhook", "webhook_listen": listen, "webhook_port": port,
            "webhook_url": f"http://127.0.0.1:{port}/telegram", "webhook_path": "telegram"}


# an address that is no IP address is refused by the config (tests/test_hostile_input.py);
# 192.0.2.1 (TEST-NET-1) is one, but not of this machine: binding it fails, nothing is sent
@pytest.mark.parametrize("listen", ["127.0.0.1", "192.0.2.1"])
async def test_a_busy_port_or_bad_address_exits_2_before_set_webhook(
    tmp_path: Path, cache_dir: Path, listen: str,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with running_bot(tmp_path, cache_dir, wait=False,
                               env={"TELEGRAM_WEBHOOK_SECRET": SECRET},
                               **webhook_settings(port, listen)) as bot:
            assert await bot.process.wait() == 2
            line = one_line_error(bot.process.stderr)
            assert bot.tg.calls_of("setWebhook") == []
            assert bot.tg.webhook is None
    assert f"cannot listen for webhook updates on {listen}:{port}" in line


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("VmRSS:")))


def post_headers(port: int, secret: str, length: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(f"POST /telegram HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\n"
                 f"Content-Length: {length}\r\n\r\n".encode())
    return sock


def status_of(sock: socket.socket) -> int:
    """The status of the answer (it must come without the body having been sent)."""
    head = sock.recv(4096)
    return int(head.split(b" ", 2)[1])


def send_body(sock: socket.socket, size: int) -> int:
    """Try to send ``size`` bytes; how many went before the server closed the connection."""
    chunk = b"x" * (1024 * 1024)
    sent = 0
    try:
        while sent < size:
            sent += sock.send(chunk)
    except OSError:
        pass
    return sent


async def test_the_webhook_refuses_bodies_before_reading_them_and_reports_health(
    tmp_path: Path, cache_dir: Path,
) -> None:
    port = free_port()
    async with running_bot(tmp_path, cache_dir, webhook=True,
                           env={"TELEGRAM_WEBHOOK_SECRET": SECRET},
                           **webhook_settings(port)) as bot:
        pid = bot.process.process.pid  # type: ignore[union-attr]
        loop = asyncio.get_running_loop()
        before = rss_kb(pid)

        def attack() -> tuple[int, float, int, int]:
            started = time.monotonic()
            with post_headers(port, "wrong-secret", 90 * 1024 * 1024) as wrong:
                forbidden = status_of(wrong)
            took = time.monotonic() - started
            with post_headers(port, SECRET, HUGE_BODY_BYTES) as huge:
                too_large = status_of(huge)
                sent = send_body(huge, HUGE_BODY_BYTES)
            return forbidden, took, too_large, sent

        forbidden, took, too_large, sent = await loop.run_in_executor(None, attack)
        assert (forbidden, too_large) == (403, 413)
        assert took < 5  # answered on the headers: the 90 MB never came
        assert sent < HUGE_BODY_BYTES
        assert rss_kb(pid) - before < RSS_GROWTH_LIMIT_KB

        await bot.tg.wait_for(lambda: bot.tg.calls_of("getWebhookInfo"))  # the first check
        async with ClientSession() as session:
            health_url = f"http://127.0.0.1:{port}/healthz"
            async with session.get(health_url) as response:
                assert response.status == 200
                first = await response.json()
            await asyncio.sleep(2)
            tg = bot.tg
            user = tg.user()
            sent_message = tg.send(user, tg.private_chat(user), "/start")
            await tg.wait_for(lambda: tg.after(sent_message))
            async with session.get(health_url) as response:
                assert response.status == 200
                after = await response.json()
        assert set(first) == {"last_update_ok", "age_seconds"}
        assert after["age_seconds"] < 1.5
        assert after["last_update_ok"] > first["last_update_ok"]  # the delivery counted
        assert not bot.process.exited()


async def test_a_refused_set_webhook_is_one_line_and_exit_2(tmp_path: Path,
                                                            cache_dir: Path) -> None:
    emulator = BotApiEmulator(LEAKY_TOKEN)
    emulator.fail_next("setWebhook", 400, "Bad Request: bad webhook: An HTTPS URL must be "
                                          "provided for webhook")
    async with running_bot(tmp_path, cache_dir, wait=False, emulator=emulator,
                           env={"TELEGRAM_WEBHOOK_SECRET": SECRET},
                           **webhook_settings(free_port())) as bot:
        assert await bot.process.wait() == 2
        line = one_line_error(bot.process.stderr)
    assert "Telegram refused setWebhook" in line and "https url must be provided" in line.lower()
