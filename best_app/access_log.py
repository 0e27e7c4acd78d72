"""Hypercorn's logger class: one access line per request, and Hypercorn's own lines, in the
app's format (JSON in production, text in development).

Configured in `best_app.serving` (`logger_class`). It reads only what it logs: no request
headers but X-Request-ID (from the response) and X-Forwarded-For (from a trusted proxy).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from hypercorn.config import Config
from hypercorn.logging import Logger
from hypercorn.typing import ResponseSummary, WWWScope

from best_app.config import Settings, load_settings
from best_app.log_config import FIELDS, formatter_for

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
            if name.lower() == b"x-request-id":
                request_id = value.decode("latin1")
    return {
        "request_id": request_id,
        "method": scope.get("method", "GET"),
        "path": scope["path"],
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "client": client_address(scope, trusted),
    }


class AccessLogger(Logger):
    def __init__(self, config: Config, settings: Settings | None = None) -> None:
        super().__init__(config)
        settings = settings if settings is not None else load_settings()
        self._trusted = tuple(
            ipaddress.ip_network(proxy, strict=False) for proxy in settings.trusted_proxies
        )
        formatter = formatter_for(settings)
        for logger in (self.access_logger, self.error_logger):
            for handler in logger.handlers if logger is not None else ():
                handler.setFormatter(formatter)

    async def access(
        self, request: WWWScope, response: ResponseSummary | None, request_time: float
    ) -> None:
        if self.access_logger is None or not self.access_logger.isEnabledFor(logging.INFO):
            return
        fields = access_fields(request, response, request_time, self._trusted)
        self.access_logger.info(
            "%s %s %s %.1fms %s",
            fields["method"],
            fields["path"],
            fields["status"],
            fields["duration_ms"],
            fields["client"],
            extra={FIELDS: fields},
        )
