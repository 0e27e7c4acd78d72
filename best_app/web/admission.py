"""Admission: a cap on the requests one process has in flight; the excess gets a 503 at once.

Without it, an overloaded process takes every request it is sent and queues the excess for a
database connection, where each waits up to `DB_POOL_TIMEOUT` before its 503: a client learns
it should go elsewhere only after seconds, while its request holds a socket, memory and a place
in the event loop. With it, a request beyond `MAX_REQUESTS_IN_FLIGHT` is answered 503 (problem+
json, `Retry-After`) before it reaches Quart, let alone the pool; the ones admitted are served
within the pool's timeout.

The default limit, from the pool (`default_limit`). One process has `C = DB_POOL_SIZE +
DB_MAX_OVERFLOW` connections; the admitted requests beyond C wait for one in the pool's queue,
first come first served, and a wait past `T = DB_POOL_TIMEOUT` is a 503. With N admitted, the
last waits behind N - C others, served C at a time: (N - C) / C turns of the pool, each as long
as a request holds its connection, h. Its wait stays within T when

    N <= C x (1 + T / h).

What bounds h? Not the milliseconds a request holds its connection on an idle machine (a hot
read about 1 ms, a purchase a few): under overload a hold stretches by every wait of its task
for a turn on the event loop, and by every row lock it queues for behind other holders, both
of which grow with the load. What the process does bound is a statement
(`DB_STATEMENT_TIMEOUT_MS`, by default equal to T). Budgeting a hold at T gives N = 2C: every
admitted request either holds a connection or is one of at most C next in line, each behind one
holder, so it is served when that holder returns. The defaults (pool 10 + 10) admit 40 per
process. Measured with 1,024 clients of reads and purchases on one process (two shared cores,
`tests/e2e/test_overload.py`'s mix): admitting 120 (a hold budgeted at 1 s), requests waited in
the process up to the pool's whole timeout (5.1 s, then a 503); admitting 40, under the same
load, the slowest took 0.6 s. Set `MAX_REQUESTS_IN_FLIGHT` to override it (more, for requests
that hold their connections briefly even under load), or 0 for no limit.

Liveness, readiness and metrics (`EXEMPT_PATHS`) are neither refused nor counted: a busy
process is alive and ready (it answers, fast, what it cannot serve), and a load balancer must
not take every busy replica out of rotation at once. Behind a proxy that caps each replica's
requests (HAProxy's `maxconn`, deploy/haproxy/haproxy.cfg), make that cap this limit: the excess
then waits briefly in the proxy's queue (`timeout queue`), which costs a replica nothing, where a
refusal still costs it parsing the request and answering it.

It is ASGI middleware inside `best_app.web.middleware.Edge` (the factory wraps it so), so a
refusal carries the request id and the security headers and is counted in the request metrics;
`refused` counts it apart as well (`best_app_http_requests_refused_total`).
"""

from __future__ import annotations

from collections.abc import Callable

from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Scope,
)

from best_app.config import Settings
from best_app.errors import PROBLEM_JSON, RETRY_AFTER_SECONDS, problem_body

ASGIApp = Callable[[Scope, ASGIReceiveCallable, ASGISendCallable], object]

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
OVERLOADED = "urn:best-app:problem:overloaded"


def default_limit(settings: Settings) -> int:
    """`C x (1 + T / h)` with a hold budgeted at T: twice the pool (the module's docstring)."""
    return 2 * (settings.db_pool_size + settings.db_max_overflow)


def admission_limit(settings: Settings) -> int | None:
    """`MAX_REQUESTS_IN_FLIGHT`, else `default_limit`; None when it is 0 (no limit)."""
    limit = settings.max_requests_in_flight
    if limit is None:
        return default_limit(settings)
    return limit or None


def _never_counted() -> None:
    return None


class Admission:
    """ASGI middleware: at most `limit` HTTP requests in the app at once (outside
    `EXEMPT_PATHS`); each one beyond gets a 503 at once, and `refused()` is called."""

    def __init__(
        self, app: ASGIApp, limit: int, refused: Callable[[], None] = _never_counted
    ) -> None:
        self.app = app
        self.limit = limit
        self.refused = refused
        self.in_flight = 0

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)  # type: ignore[misc]  # Quart's ASGI type
            return
        if self.in_flight >= self.limit:
            self.refused()
            await _refuse(send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)  # type: ignore[misc]  # as above
        finally:
            self.in_flight -= 1


async def _refuse(send: ASGISendCallable) -> None:
    body = problem_body(503, "The server is busy; retry shortly, or elsewhere.", type_=OVERLOADED)
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", RETRY_AFTER_SECONDS.encode()),
    ]
    await send(HTTPResponseStartEvent(type="http.response.start", status=503, headers=headers))
    await send(HTTPResponseBodyEvent(type="http.response.body", body=body, more_body=False))
