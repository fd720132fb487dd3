"""The webhook server in-process on loopback: the secret before the body, size limits,
constant-time comparison, /healthz; and the liveness it reports."""

from __future__ import annotations

import asyncio
import hmac
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from bot import webhook_server
from bot.config import ConfigError
from bot.health import Liveness
from bot.webhook_server import MAX_BODY_BYTES, SECRET_HEADER, WebhookServer

SECRET = "unit-Webhook_secret-42"
UPDATE = {"update_id": 7, "message": {"message_id": 1, "text": "hi"}}


class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class Served:
    def __init__(self, server: WebhookServer, delivered: list[dict[str, Any]], clock: Clock):
        self.server = server
        self.delivered = delivered
        self.clock = clock

    async def request(self, head: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send raw HTTP; the status and body of the answer (the server may close early)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.server.port)
        writer.write(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        try:
            await writer.drain()
        except ConnectionError:
            pass
        answer = await asyncio.wait_for(reader.read(65536), timeout=5)
        writer.close()
        status_line, _, rest = answer.partition(b"\r\n")
        return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]

    async def post(self, body: bytes, secret: str | None = SECRET, **headers: str) -> int:
        lines = ["POST /telegram HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
        if secret is not None:
            lines.append(f"{SECRET_HEADER}: {secret}")
        lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
        if "Content_Length" not in headers and "Transfer_Encoding" not in headers:
            lines.append(f"Content-Length: {len(body)}")
        status, _ = await self.request("\n".join(lines) + "\n", body)
        return status


@pytest_asyncio.fixture
async def served() -> AsyncIterator[Served]:
    delivered: list[dict[str, Any]] = []
    clock = Clock()

    async def deliver(update: dict[str, Any]) -> None:
        if "update_id" not in update:
            raise TypeError("not an update")
        delivered.append(update)

    server = WebhookServer("telegram", SECRET, deliver, Liveness(clock=clock))
    server.bind("127.0.0.1", 0)
    server.start()
    try:
        yield Served(server, delivered, clock)
    finally:
        await server.stop()


async def test_an_update_with_the_secret_is_delivered_and_counts_as_alive(served: Served) -> None:
    assert await served.post(json.dumps(UPDATE).encode()) == 200
    assert served.delivered == [UPDATE]
    assert served.server.liveness.last_ok == served.clock.now


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET[:-1], SECRET + "x",
                                    SECRET.upper(), "é" * len(SECRET)])
async def test_a_post_without_the_right_secret_is_refused(served: Served,
                                                         secret: str | None) -> None:
    assert await served.post(json.dumps(UPDATE).encode(), secret=secret) == 403
    assert served.delivered == []
    assert served.server.liveness.last_ok is None


async def test_the_secret_is_compared_in_constant_time(served: Served,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def compare_digest(given: bytes, expected: bytes) -> bool:
        compared.append((given, expected))
        return real(given, expected)

    monkeypatch.setattr(webhook_server.hmac, "compare_digest", compare_digest)
    assert await served.post(b"{}", secret="guess") == 403
    assert await served.post(json.dumps(UPDATE).encode()) == 200
    assert compared == [(b"guess", SECRET.encode()), (SECRET.encode(), SECRET.encode())]


async def test_a_wrong_secret_is_answered_on_the_headers_alone(served: Served) -> None:
    head = (f"POST /telegram HTTP/1.1\nHost: x\n{SECRET_HEADER}: wrong\n"
            f"Content-Length: {90 * 1024 * 1024}\n")
    status, _ = await served.request(head)  # the 90 MB body is never sent
    assert status == 403


async def test_a_declared_body_over_the_limit_gets_413_unread(served: Served) -> None:
    head = (f"POST /telegram HTTP/1.1\nHost: x\n{SECRET_HEADER}: {SECRET}\n"
            f"Content-Length: {MAX_BODY_BYTES + 1}\n")
    status, _ = await served.request(head)
    assert status == 413
    assert await served.post(b"{}", Content_Length="12x") == 413  # not a length


async def test_a_chunked_body_over_the_limit_gets_413(served: Served) -> None:
    chunk = b"x" * 65536
    body = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * (MAX_BODY_BYTES // len(chunk) + 2)
    assert await served.post(body, Transfer_Encoding="chunked") == 413
    assert served.delivered == []


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'"text"', b'{"no": "id"}'])
async def test_a_body_that_is_no_update_gets_400(served: Served, body: bytes) -> None:
    assert await served.post(body) == 400
    assert served.delivered == []
    assert served.server.liveness.last_ok is None


async def test_other_methods_and_paths_are_refused(served: Served) -> None:
    status, _ = await served.request(f"GET /telegram HTTP/1.1\nHost: x\n{SECRET_HEADER}: "
                                     f"{SECRET}\nConnection: close\n")
    assert status == 405
    status, _ = await served.request("POST /other HTTP/1.1\nHost: x\nContent-Length: 0\n"
                                     "Connection: close\n")
    assert status == 404


async def test_healthz_reports_the_last_delivery_and_503_when_stale(served: Served) -> None:
    get = "GET /healthz HTTP/1.1\nHost: x\nConnection: close\n"
    status, body = await served.request(get)
    assert (status, json.loads(body)) == (503, {"last_update_ok": None, "age_seconds": None})

    assert await served.post(json.dumps(UPDATE).encode()) == 200
    served.clock.now += 12.5
    status, body = await served.request(get)
    assert (status, json.loads(body)) == (
        200, {"last_update_ok": "2023-11-14T22:13:20+00:00", "age_seconds": 12.5})

    served.clock.now += served.server.liveness.stale_after
    status, body = await served.request(get)
    assert status == 503 and json.loads(body)["age_seconds"] > 90


def test_a_busy_port_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = WebhookServer("telegram", SECRET, lambda update: asyncio.sleep(0), Liveness())
        with pytest.raises(ConfigError, match=rf"^cannot listen for webhook updates on "
                                              rf"127\.0\.0\.1:{port}: Address already in use$"):
            server.bind("127.0.0.1", port)


@pytest.mark.parametrize(("address", "port"), [("256.1.2.3", 8443), ("no-such-host.invalid", 8443),
                                               ("127.0.0.1", 70000)])
def test_a_bad_address_is_one_line(address: str, port: int) -> None:
    server = WebhookServer("telegram", SECRET, lambda update: asyncio.sleep(0), Liveness())
    with pytest.raises(ConfigError, match=rf"^cannot listen for webhook updates on {address}"):
        server.bind(address, port)


def test_the_webhook_path_cannot_hide_the_health_page() -> None:
    with pytest.raises(ConfigError, match="webhook_path"):
        WebhookServer("/healthz/", SECRET, lambda update: asyncio.sleep(0), Liveness())


def test_liveness_before_and_after_a_success() -> None:
    clock = Clock()
    liveness = Liveness(stale_after=90, clock=clock)
    assert (liveness.alive(), liveness.age()) == (False, None)
    liveness.mark_ok()
    clock.now += 90
    assert liveness.alive() and liveness.age() == 90
    clock.now += 0.1
    assert not liveness.alive()
