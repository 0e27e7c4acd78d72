"""Hypercorn's logger class: one access line per request, and Hypercorn's own lines, in the
app's format (JSON in production, text in development).

Configured in `best_app.ops.serving` (`logger_class`, given the server's settings). It reads
only what it logs: no request headers but X-Request-ID (from the response) and X-Forwarded-For
(from a trusted proxy).
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import ipaddress
import logging
import time
import weakref
from typing import Any, TextIO

from hypercorn.config import Config
from hypercorn.logging import Logger
from hypercorn.typing import ResponseSummary, WWWScope

from best_app.config import Settings
from best_app.observability.logs import FIELDS, LogLine, formatter_for, trace_fields
from best_app.web.request_id import HEADER_NAME as REQUEST_ID_HEADER

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _in(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(scope: WWWScope, trusted: tuple[Network, ...]) -> str | None:
    """The peer, or, when the peer is a trusted proxy, the nearest untrusted X-Forwarded-For hop."""
    client = scope.get("client")
    peer = client[0] if client else None
    if peer is None or not trusted or not _in(peer, trusted):
        return peer
    forwarded = [
        hop.strip()
        for name, value in scope["headers"]
        if name == b"x-forwarded-for"
        for hop in value.decode("latin1").split(",")
    ]
    for hop in reversed(forwarded):
        if hop and not _in(hop, trusted):
            return hop
    return peer


def access_fields(
    scope: WWWScope, response: ResponseSummary | None, seconds: float, trusted: tuple[Network, ...]
) -> dict[str, Any]:
    request_id = None
    status = None
    if response is not None:
        status = response["status"]
        for name, value in response.get("headers", ()):
            if name.lower() == REQUEST_ID_HEADER:
                request_id = value.decode("latin1")
    return {
        "request_id": request_id,
        "method": scope.get("method", "GET"),
        "path": scope["path"],
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "client": client_address(scope, trusted),
        # Hypercorn logs the access inside the app's last `send`: the request's span is active.
        **trace_fields(),
    }


@functools.cache
def _flushed_at_exit() -> weakref.WeakSet[AccessLogger]:
    """The live access loggers, flushed at exit by one hook, registered with the first of them."""
    live: weakref.WeakSet[AccessLogger] = weakref.WeakSet()

    def flush_all() -> None:
        for logger in list(live):
            logger.flush()

    atexit.register(flush_all)
    return live


class AccessLogger(Logger):
    """Hypercorn's logger, with access lines rendered and written here.

    An access line is made per request, so it skips the `logging` machinery (a `LogRecord`,
    the caller lookup, handler locks) and the write per line (stdout is unbuffered in the
    container): together about a tenth of a `GET /hello/say`, measured. Lines are rendered by
    the app's formatter and written to the stream of the handler Hypercorn made for
    `accesslog` in batches: within `FLUSH_SECONDS`, or at `BATCH_LINES`, and at exit.
    Hypercorn's own lines, and the app's, still go through logging, unbatched.
    """

    FLUSH_SECONDS = 0.1
    BATCH_LINES = 64

    def __init__(self, config: Config, settings: Settings) -> None:
        super().__init__(config)
        self._trusted = tuple(
            ipaddress.ip_network(proxy, strict=False) for proxy in settings.trusted_proxies
        )
        self._formatter = formatter_for(settings)
        for logger in (self.access_logger, self.error_logger):
            for handler in logger.handlers if logger is not None else ():
                handler.setFormatter(self._formatter)
        handlers = self.access_logger.handlers if self.access_logger is not None else []
        # Written directly only to the one stream handler Hypercorn creates from `accesslog`
        # ("-" or a file); a logger passed in by other means keeps its own handlers.
        self._stream: TextIO | None = (
            handlers[0].stream
            if len(handlers) == 1 and isinstance(handlers[0], logging.StreamHandler)
            else None
        )
        self._pending: list[str] = []
        self._flush_scheduled = False
        _flushed_at_exit().add(self)

    async def access(
        self, request: WWWScope, response: ResponseSummary | None, request_time: float
    ) -> None:
        logger = self.access_logger
        if logger is None or not logger.isEnabledFor(logging.INFO):
            return
        fields = access_fields(request, response, request_time, self._trusted)
        message = (
            f"{fields['method']} {fields['path']} {fields['status'] or '-'} "
            f"{fields['duration_ms']:.1f}ms {fields['client']}"
        )
        if self._stream is None:
            logger.info("%s", message, extra={FIELDS: fields})
            return
        line = LogLine(time.time(), "INFO", logger.name, message, fields)
        self._pending.append(self._formatter.render(line) + "\n")
        if len(self._pending) >= self.BATCH_LINES:
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(self.FLUSH_SECONDS, self._scheduled_flush)

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        self.flush()

    def flush(self) -> None:
        """Write the pending access lines."""
        if self._pending and self._stream is not None:
            lines, self._pending = self._pending, []
            self._stream.write("".join(lines))
            self._stream.flush()
