"""The request id: the client's `X-Request-ID` when it is safe to echo, else a new one.

`best_app.edge.Edge` decides it once per request and sets `REQUEST_ID` for the code that runs
for that request (handlers, error handlers, log lines); it is None outside a request.
"""

from __future__ import annotations

from contextvars import ContextVar

HEADER = "X-Request-ID"
REQUEST_ID: ContextVar[str | None] = ContextVar("best_app_request_id", default=None)


def request_id() -> str | None:
    """The id of the request being handled, or None outside one."""
    return REQUEST_ID.get()
