"""Performance tricks that step outside the house rules: the one module allowed to.

Everything else in best_app uses only documented extension points and follows the transaction
rule (`tests/test_documented_api.py` enforces the first). Each trick here has a name, states
its gain measured at the server with `scripts/bench`, and is switched by `FASTPATH`
(docs/settings.md): `on` (all, the default), `off` (none: the house rules), or the names of
some (`FASTPATH=alone`). Each has tests that pin the library versions it was written for and
prove what it changes (`tests/test_fastpath.py`, `tests/repositories/test_fastpath.py`); the
whole suite also runs once with `FASTPATH=off`. A trick stays only while it measures >= 5% end
to end; re-measure with `scripts/bench --variant fastpath-off:FASTPATH=off` (or
`no-http:FASTPATH=alone` for one trick).

## `http`: Quart's HTTP handling without its per-request tasks (`HTTPConnection`)

Quart's `ASGIHTTPConnection` runs every request as two tasks (one reading the body, one
handling it) joined by `asyncio.wait`, then sends the response through `asyncio.wait_for`, a
third task. `HTTPConnection` (installed as the app's documented `asgi_http_class`) first takes
the request's messages itself, up to the one that completes it: a GET's one message, a POST's
body and its closing message (Hypercorn sends a body, then an empty message that ends it).
Then it handles the request in the server's own task and hands an in-memory response to the
server as two messages. No timer is set for a request without a body (HTTP/1.x with neither
Content-Length nor Transfer-Encoding: its one message comes with the request) or for an
in-memory response (the body is built and the database session released: a client that stops
reading holds only its connection, as an idle keep-alive one does); a body is taken within
`BODY_TIMEOUT`, and a streamed response is sent within `RESPONSE_TIMEOUT` (`asyncio.timeout`,
no task). A disconnect before the request is complete, a body over `MAX_CONTENT_LENGTH` (413)
and a body still incomplete after `BODY_TIMEOUT` go to Quart's own path with the messages
taken replayed (a stalled body then waits `BODY_TIMEOUT` once more there before its 408). It
cancels a `receive()` only when `BODY_TIMEOUT` expires (a server such as Granian may lose the
message it was delivering; the request is then a 408 either way). It calls Quart's private
`_create_request_from_scope`, `_send_response` and `_handle_exception`, and fills the request
body itself: pinned to Quart 0.22 (`tests/test_fastpath.py`).

Its trade, the reason it is a switch: nobody listens for `http.disconnect` while the handler
runs (nor while a streamed response is sent), so a client that disconnects mid-request no
longer cancels its handler (Quart's documented behaviour). The handler finishes (a database
call is never cut off half-way), the server drops the answer, and `/metrics` counts it under
its real status instead of 499. `FASTPATH=off` (or a list without `http`) keeps the
documented cancel-on-disconnect (ARCHITECTURE.md, "Documented extension points only").

Measured with `scripts/bench --baseline 5f9c7d1 --variant no-http:FASTPATH=alone --rounds 5`
(turning order, paired per-round medians, against the same code with Quart's own handling):
`GET /hello/say` +15% req/s (-13% CPU per request) in the latest final run, +8% and +17% in
the two before; +13% and +5% in two focused runs; one run of an earlier version saw 0%. On
the database endpoints it has measured from -10% to +13% across days (the latest: reads +2%
and -1%, writes -6% and -3%), although in process the trick makes 51 fewer Python calls per
read. docs/benchmark/history.md has every run; re-measure before relying on it. An earlier
public-API rewrite (one listener task, disconnects still cancel) gained nothing at the server
(DEVELOPERS.md): the gain is the listener task.

## `alone`: a single statement in autocommit (`Alone`), for a purchase (`cars.buy_car`)

The rule (`best_app.repositories`): a write runs in `async with session.begin():`. On the
transactional engine that is three round trips (BEGIN, the statement, COMMIT) and
SQLAlchemy's execute path. A write that is one statement needs neither for its correctness:
PostgreSQL runs a statement sent outside a transaction block in a transaction of its own,
committed when the statement ends and rolled back if it fails, so it is all or nothing as
the block makes it. `Alone` sends such a statement by itself: compiled once (as
`CompiledQuery`), run on the driver of a connection it takes from the engine's pool and
gives back at once, with no SQLAlchemy transaction and no BEGIN: one round trip, committed
when it returns. Only a function whose whole write is that one statement may use it (a car
bought: one data-modifying CTE); a write of several statements stays in `session.begin()`.

It applies only to a session that has not begun (`applies`): a request makes its write call
first (`Database`), and a caller that already holds a transaction gets the transactional
path, which refuses as `session.begin()` always does. Through PgBouncer (`DB_POOLER=pgbouncer`)
the statement is unnamed (asyncpg's cache is off) and parsed in the same batch as its
execution, so it is one transaction on one server connection.

What it relies on, pinned by the tests: asyncpg runs a statement outside a transaction
block when no `transaction()` is open (documented: its connection is in autocommit unless a
transaction is started); SQLAlchemy's `AsyncEngine.connect()` sends nothing before a
statement runs through it, and giving the connection back sends nothing when nothing ran
through SQLAlchemy (its asyncpg adapter begins lazily; not documented, so pinned, and the
driver is checked to be outside a transaction before every statement).

## `alone` too: an existing user's registration read (`users.register_user_if_not_exist`)

The rule puts a read that precedes a write inside the write's block. Registration is
idempotent and nearly always finds the user: then the block is all overhead (begin, commit,
their bookkeeping and greenlet switches) around one read. With `FASTPATH` on the function
first makes that read before the block (`get_by_username` on a session that has not begun: a
hot read, which borrows a pool connection for its one statement, `repositories/compiled.py`)
and returns when it finds the user; only a new user takes the block, which reads again inside
it (the insert, not either read, settles races). The bend is in the rule, not in how the read
runs: this part of the trick is the `if` in `register_user_if_not_exist`. Measured with
`scripts/bench --variant fastpath-off:FASTPATH=off --rounds 5` (turning order, paired
per-round medians), when the read was still sent by `Alone`: `POST /users` existing +20%
req/s, -15% CPU per request (the purchase in the same run: +48%, -33%); a new user costs one
extra read.

## Measured, for the purchase (`alone`)

Measured in process (the app called through its ASGI interface under uvloop, CPU per request,
medians of 7 interleaved rounds of 2,000, one process per variant): `POST
/users/{username}/cars` 651 µs with `FASTPATH=off`, 455 µs on (-30%); the baseline before the
transactional engine (5f9c7d1, AUTOCOMMIT everywhere, one INSERT) 474 µs. Setting
`isolation_level="AUTOCOMMIT"` on the session's connection instead (documented SQLAlchemy)
saved only 5% (SQLAlchemy's execute path is most of the cost) and would prepare and execute
in two transactions through PgBouncer.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, cast

import asyncpg
from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPScope,
)
from quart import Quart
from quart.asgi import (
    ASGIHTTPConnection,
    _handle_exception,  # Quart's own fallback for errors its handlers let through
)
from quart.typing import ResponseTypes
from quart.utils import encode_headers
from quart.wrappers import Request, Response
from quart.wrappers.response import DataBody
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement

from best_app.config import HTTP_TRICK, Settings
from best_app.repositories.compiled import (
    CompiledQuery,
    driver_of,
    run_on_driver,
    unbegun_engine,
)
from best_app.web.middleware import declares_body, is_http1


def install(app: Quart, settings: Settings) -> None:
    """Put the HTTP trick in place when `FASTPATH` names it (the database tricks read the
    mark `Database` puts on its sessions: `applies`)."""
    if HTTP_TRICK in settings.fastpath:
        app.asgi_http_class = HTTPConnection


class HTTPConnection(ASGIHTTPConnection):
    """Quart's per-request handling, in the server's task when the request has arrived whole."""

    async def __call__(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        messages, body = await self._take_request(receive)
        if body is not None:
            request = self._create_request_from_scope(send)
            request.body.append(body)
            request.body.set_complete()
            await self.handle_request(request, send)
            return

        async def replay() -> ASGIReceiveEvent:
            return messages.pop(0) if messages else await receive()

        await super().__call__(replay, send)  # Quart's two tasks, the messages taken replayed

    async def _take_request(
        self, receive: ASGIReceiveCallable
    ) -> tuple[list[ASGIReceiveEvent], bytes | None]:
        """The request's messages up to the one that completes it, and its whole body; or the
        messages taken and None when a disconnect comes first, the body outgrows
        MAX_CONTENT_LENGTH, or BODY_TIMEOUT passes without the request completing."""
        if _without_body(self.scope):  # its one message came with the request: no timer
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                return [message], message.get("body", b"")
            return [message], None
        messages: list[ASGIReceiveEvent] = []
        body = bytearray()
        limit: int | None = self.app.config["MAX_CONTENT_LENGTH"]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.app.config["BODY_TIMEOUT"]):
                while limit is None or len(body) <= limit:
                    message = await receive()
                    messages.append(message)
                    if message["type"] != "http.request":
                        break
                    body += message.get("body", b"")
                    if not message.get("more_body", False):
                        return messages, bytes(body)
        return messages, None

    async def handle_request(self, request: Request, send: ASGISendCallable) -> None:
        try:
            response: ResponseTypes = await self.app.handle_request(request)
        except Exception as error:
            response = await _handle_exception(self.app, error)
        if isinstance(response, Response) and isinstance(response.response, DataBody):
            await _send_in_memory(send, response, response.response)  # unbounded: module text
            return
        timeout = self.app.config["RESPONSE_TIMEOUT"]
        if isinstance(response, Response) and response.timeout is not Ellipsis:
            timeout = cast(float | None, response.timeout)
        with contextlib.suppress(TimeoutError):  # Quart's behaviour: the response is cut off
            async with asyncio.timeout(timeout):  # as `wait_for` does, without its task
                await self._send_response(send, response)


def _without_body(scope: HTTPScope) -> bool:
    """An HTTP/1.x request whose headers announce no body (RFC 9112, 6.3): a server delivers its
    one message together with the request."""
    return is_http1(scope) and not declares_body(scope)


async def _send_in_memory(send: ASGISendCallable, response: Response, body: DataBody) -> None:
    """An in-memory response as two messages (Quart's `_send_response` iterates the body)."""
    await send(
        HTTPResponseStartEvent(
            type="http.response.start",
            status=response.status_code,
            headers=encode_headers(response.headers),
        )
    )
    await send(
        HTTPResponseBodyEvent(
            type="http.response.body", body=body.data[body.begin : body.end], more_body=False
        )
    )


# In `Session.info` of the app's sessions (`Database`) when `FASTPATH` names `alone`.
INFO_KEY = "best_app.fastpath"


def applies(session: AsyncSession) -> bool:
    """Whether `session`'s next write (or the read before it) may take this module's fast
    path: `FASTPATH` names `alone`, the session has not begun, and it is bound to an engine (the
    app's own sessions)."""
    return bool(session.info.get(INFO_KEY)) and unbegun_engine(session) is not None


class Alone:
    """One statement, compiled once, sent by itself in autocommit (see the module's text)."""

    def __init__(self, statement: ClauseElement) -> None:
        self._query = CompiledQuery(statement)

    async def fetchrow(self, session: AsyncSession, **params: Any) -> asyncpg.Record | None:
        """The statement's first returned row, committed; `session` must satisfy `applies`."""
        engine = unbegun_engine(session)
        if engine is None:
            raise TypeError("the fast path needs an unbegun session bound to an engine (`applies`)")
        async with engine.connect() as connection:
            driver = await driver_of(connection)
            if driver.is_in_transaction():
                raise RuntimeError(
                    "a connection fresh from the pool is in a transaction: the statement would "
                    "not commit on its own; set FASTPATH=off and re-check best_app/fastpath.py "
                    "against this SQLAlchemy"
                )
            row: asyncpg.Record | None = await run_on_driver(
                connection, driver, self._query.sql, "fetchrow", self._query.args(params)
            )
        return row
