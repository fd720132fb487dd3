"""The bot's own webhook HTTP server (tornado): Telegram POSTs updates to it.

Written for hostile clients: the listener is bound before Telegram learns the URL (a busy
port fails at once), the secret header is checked in constant time before a byte of the
body is read, and bodies over ``MAX_BODY_BYTES`` are refused (413) without being read.
It knows nothing of Telegram's types: ``deliver`` gets the decoded JSON object.

Status pages, on the webhook server and (polling mode) on ``HealthServer``:
``GET /healthz`` the liveness (200, or 503 when stale), ``GET /readyz`` the readiness (200
"ready", or 503 and a one-line reason), ``GET /metrics`` Prometheus' text format.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import socket
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.log import access_log
from tornado.netutil import bind_sockets

from bot.config import ConfigError
from bot.health import Liveness, Readiness
from bot.metrics import CONTENT_TYPE, ErrorKind, Metrics

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1024 * 1024  # an update is a few kB (a message is at most 4096 characters)
BODY_TIMEOUT_SECONDS = 10  # a sender that trickles its body is cut off
IDLE_TIMEOUT_SECONDS = 60  # keep-alive connections Telegram does not reuse are closed
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
STATUS_PATHS = (HEALTH_PATH, READY_PATH, METRICS_PATH)
MAX_PORT = 65535

Deliver = Callable[[dict[str, Any]], Awaitable[None]]


@tornado.web.stream_request_body
class _UpdateHandler(tornado.web.RequestHandler):
    """POST <path>: one update. prepare() runs on the headers alone, before the body."""

    def initialize(self, secret: bytes, deliver: Deliver, liveness: Liveness,
                   metrics: Metrics | None) -> None:
        self.secret = secret
        self.deliver = deliver
        self.liveness = liveness
        self.metrics = metrics
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
            if self.metrics is not None:
                self.metrics.error(ErrorKind.WEBHOOK)
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


class _ReadyHandler(tornado.web.RequestHandler):
    """GET /readyz: "ready", or 503 and the reason in one line."""

    def initialize(self, readiness: Readiness | None) -> None:
        self.readiness = readiness

    async def get(self) -> None:
        reason = await self.readiness.reason() if self.readiness is not None else None
        self.set_status(200 if reason is None else 503)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(("ready" if reason is None else f"not ready: {reason}") + "\n")


class _MetricsHandler(tornado.web.RequestHandler):
    """GET /metrics: the bot's registry in Prometheus' text format."""

    def initialize(self, metrics: Metrics | None) -> None:
        self.metrics = metrics

    def get(self) -> None:
        if self.metrics is None:
            self.send_error(404)
            return
        self.set_header("Content-Type", CONTENT_TYPE)
        self.set_header("Cache-Control", "no-store")
        self.finish(self.metrics.exposition())


def _status_routes(liveness: Liveness, readiness: Readiness | None,
                   metrics: Metrics | None) -> list[tuple[str, type, dict[str, Any]]]:
    return [
        (re.escape(HEALTH_PATH), _HealthHandler, {"liveness": liveness}),
        (re.escape(READY_PATH), _ReadyHandler, {"readiness": readiness}),
        (re.escape(METRICS_PATH), _MetricsHandler, {"metrics": metrics}),
    ]


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """tornado's access log, without the status pages: probes come every few seconds and
    their answer is the report (a 503 /readyz while starting is no error to log)."""
    request = handler.request
    if request.path in STATUS_PATHS:
        return
    status = handler.get_status()
    level = (logging.INFO if status < HTTPStatus.BAD_REQUEST
             else logging.WARNING if status < HTTPStatus.INTERNAL_SERVER_ERROR else logging.ERROR)
    access_log.log(level, "%d %s %s (%s) %.2fms", status, request.method, request.path,
                   request.remote_ip, 1000.0 * request.request_time())


class _Listener:
    """A tornado server on sockets bound up front: ``bind()``, then ``start()`` on the
    running loop, ``stop()``; ``close()`` for one that never started."""

    purpose = "HTTP requests"

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        self.http: HTTPServer | None = None

    def routes(self) -> list[tuple[str, type, dict[str, Any]]]:
        raise NotImplementedError

    def bind(self, address: str, port: int) -> None:
        """Take the port now: a busy port or a bad address is one line (ConfigError)."""
        where = f"cannot listen for {self.purpose} on {address}:{port}"
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
        application = tornado.web.Application(self.routes(), log_function=_log_request)
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


class WebhookServer(_Listener):
    """Updates at ``path`` (POST, with the secret) and the status pages."""

    purpose = "webhook updates"

    def __init__(self, path: str, secret: str, deliver: Deliver, liveness: Liveness, *,
                 readiness: Readiness | None = None, metrics: Metrics | None = None):
        super().__init__()
        self.path = "/" + path.strip("/")
        if self.path in STATUS_PATHS:
            raise ConfigError(f"telegram.webhook_path cannot be {self.path[1:]!r}: "
                              "that page reports the bot's health or metrics")
        self.secret = secret.encode()
        self.deliver = deliver
        self.liveness = liveness
        self.readiness = readiness
        self.metrics = metrics

    def routes(self) -> list[tuple[str, type, dict[str, Any]]]:
        return [*_status_routes(self.liveness, self.readiness, self.metrics),
                (re.escape(self.path), _UpdateHandler,
                 {"secret": self.secret, "deliver": self.deliver, "liveness": self.liveness,
                  "metrics": self.metrics})]


class HealthServer(_Listener):
    """Polling mode: only the status pages (telegram.health_port)."""

    purpose = "health checks"

    def __init__(self, liveness: Liveness, readiness: Readiness | None = None,
                 metrics: Metrics | None = None):
        super().__init__()
        self.liveness = liveness
        self.readiness = readiness
        self.metrics = metrics

    def routes(self) -> list[tuple[str, type, dict[str, Any]]]:
        return _status_routes(self.liveness, self.readiness, self.metrics)
