"""The request id: the client's `X-Request-ID` when it is safe to echo, else a new one.

`best_app.web.middleware.Edge` calls `decide` once per request and sets `REQUEST_ID` for the
code that runs for that request (handlers, error handlers, log lines); it is None outside a request.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from contextvars import ContextVar

HEADER = "X-Request-ID"
HEADER_NAME = HEADER.lower().encode()  # as ASGI carries it
REQUEST_ID: ContextVar[str | None] = ContextVar("best_app_request_id", default=None)
_VALID = re.compile(rb"[A-Za-z0-9._-]{1,128}")


def decide(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The id for a request with these ASGI headers: the client's X-Request-ID when it is
    safe to echo and log, else a new one."""
    for name, value in headers:
        if name == HEADER_NAME:
            if _VALID.fullmatch(value):
                return value.decode()
            break
    return uuid.uuid4().hex


def request_id() -> str | None:
    """The id of the request being handled, or None outside one."""
    return REQUEST_ID.get()
