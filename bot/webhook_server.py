"""The bot's own webhook HTTP server (tornado): Telegram POSTs updates to it.

Written for hostile clients: the listener is bound before Telegram learns the URL (a busy
port fails at once), the secret header is checked in constant time before a byte of the
body is read, and bodies over ``MAX_BODY_BYTES`` are refused (413) without being read.
It knows nothing of Telegram's types: ``deliver`` gets the decoded JSON object.
``GET /healthz`` reports the liveness (200, or 503 when stale).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.config import ConfigError
from bot.health import Liveness

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1024 * 1024  # an update is a few kB (a message is at most 4096 characters)
BODY_TIMEOUT_SECONDS = 10  # a sender that trickles its body is cut off
IDLE_TIMEOUT_SECONDS = 60  # keep-alive connections Telegram does not reuse are closed
HEALTH_PATH = "/healthz"
MAX_PORT = 65535

Deliver = Callable[[dict[str, Any]], Awaitable[None]]


@tornado.web.stream_request_body
class _UpdateHandler(tornado.web.RequestHandler):
    """POST <path>: one update. prepare() runs on the headers alone, before the body."""

    def initialize(self, secret: bytes, deliver: Deliver, liveness: Liveness) -> None:
        self.secret = secret
        self.deliver = deliver
        self.liveness = liveness
        self.body = bytearray()
        self.forbidden = False  # wrong secret, small body: discarded as it comes, then 403

    def prepare(self) -> None:
        if self.request.method != "POST":
            self._refuse(405)
            return
        length = self.request.headers.get("Content-Length")
        declared = int(length) if length is not None and length.isdigit() else None
        if length is not None and (declared is None or declared > MAX_BODY_BYTES):
            oversized = True
        else:
            oversized = False
        given = self.request.headers.get(SECRET_HEADER, "").encode("latin-1")  # as tornado read it
        if not hmac.compare_digest(given, self.secret):  # constant time: no guessing byte by byte
            if declared is not None and not oversized:
                self.forbidden = True  # a client still sending gets an answer, not a reset
                return
            self._refuse(403)  # a large or unknown body: answer now, never read it
        elif oversized:
            self._refuse(413)

    def _refuse(self, status: int) -> None:
        """Answer now; if the body is still coming, tornado closes instead of reading it."""
        self.set_status(status)
        self.finish()

    def data_received(self, chunk: bytes) -> None:
        if self._finished or self.forbidden:
            return
        if len(self.body) + len(chunk) > MAX_BODY_BYTES:  # chunked, no Content-Length
            self._refuse(413)
            return
        self.body += chunk

    async def post(self) -> None:
        if self.forbidden:
            self._refuse(403)
            return
        try:
            update = json.loads(self.body)
        except ValueError:
            update = None
        if not isinstance(update, dict):
            self._refuse(400)
            return
        try:
            await self.deliver(update)
        except Exception as error:  # a malformed update: Telegram should not repeat it
            logger.warning("webhook update refused: %s", error.__class__.__name__)
            self._refuse(400)
            return
        self.liveness.mark_ok()
        self.finish()


class _HealthHandler(tornado.web.RequestHandler):
    """GET /healthz: {"last_update_ok": ..., "age_seconds": ...}; 503 when stale."""

    def initialize(self, liveness: Liveness) -> None:
        self.liveness = liveness

    def get(self) -> None:
        self.set_status(200 if self.liveness.alive() else 503)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(self.liveness.report()))


class WebhookServer:
    """Bind with ``bind()`` (before setWebhook), then ``start()`` on the running loop."""

    def __init__(self, path: str, secret: str, deliver: Deliver, liveness: Liveness):
        self.path = "/" + path.strip("/")
        if self.path == HEALTH_PATH:
            raise ConfigError(f"telegram.webhook_path cannot be {HEALTH_PATH[1:]!r}: "
                              "that page reports the bot's health")
        self.secret = secret.encode()
        self.deliver = deliver
        self.liveness = liveness
        self.sockets: list[socket.socket] = []
        self.http: HTTPServer | None = None

    def bind(self, address: str, port: int) -> None:
        """Take the port now: a busy port or a bad address is one line (ConfigError)."""
        where = f"cannot listen for webhook updates on {address}:{port}"
        if not 0 <= port <= MAX_PORT:  # the socket module would quietly take port % 65536
            raise ConfigError(f"{where}: the port must be 0-{MAX_PORT}")
        try:
            self.sockets = bind_sockets(port, address=address or None)
        except (OSError, OverflowError) as error:
            reason = getattr(error, "strerror", None) or str(error).rstrip(".")
            raise ConfigError(f"{where}: {reason}") from None

    @property
    def port(self) -> int:
        return int(self.sockets[0].getsockname()[1])

    def start(self) -> None:
        application = tornado.web.Application([
            (re.escape(HEALTH_PATH), _HealthHandler, {"liveness": self.liveness}),
            (re.escape(self.path), _UpdateHandler,
             {"secret": self.secret, "deliver": self.deliver, "liveness": self.liveness}),
        ])
        self.http = HTTPServer(application, max_body_size=2 * MAX_BODY_BYTES,  # 413 is ours
                               body_timeout=BODY_TIMEOUT_SECONDS,
                               idle_connection_timeout=IDLE_TIMEOUT_SECONDS)
        self.http.add_sockets(self.sockets)

    async def stop(self) -> None:
        if self.http is not None:
            self.http.stop()
            await self.http.close_all_connections()
            self.http = None
        else:
            self.close()

    def close(self) -> None:
        """Release the sockets of a server that never started."""
        for sock in self.sockets:
            sock.close()
        self.sockets = []
