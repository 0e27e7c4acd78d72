"""The request id: the client's `X-Request-ID` when it is safe to echo, else a new one."""

from __future__ import annotations

import re
import uuid

from quart import g, request

HEADER = "X-Request-ID"
_VALID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def request_id() -> str:
    """The id of the request being handled, decided once, on first use."""
    rid: str | None = g.get("request_id")
    if rid is None:
        offered = request.headers.get(HEADER, "")
        rid = offered if _VALID.fullmatch(offered) else uuid.uuid4().hex
        g.request_id = rid
    return rid
