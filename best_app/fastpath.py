"""Performance tricks that step outside the house rules: the one module allowed to.

Everything else in best_app uses only documented extension points and follows the transaction
rule (`tests/test_documented_api.py` enforces the first). Each trick here has a name, states
its gain measured at the server with `scripts/bench`, and is switched by `FASTPATH` (Settings):
`off` (none: the house rules everywhere, the default), `on` (all), or the names of some
(`FASTPATH=alone`). Each changes something a library documents, so none is on unless named.

Each trick is pinned to the library releases it was written and measured against (`PINNED`,
the one list; `tests/test_fastpath.py` checks that the installed ones are inside it). At start
(`switched_on`, called by the factory) a trick asked for on a release outside its range is
refused: one WARNING line on the `best_app.fastpath` logger names the trick, the package, its
version and the range, and the plain path is used. Nothing below the factory imports this
module: the factory installs the `http` trick on the app (`install`) and hands the `alone` trick
to `Database` as session info (`session_info`), which `best_app.repositories.query` reads.

A trick stays only while it measures >= 5% end to end on the endpoints it targets;
re-measure with `scripts/bench --variant fastpath-on:FASTPATH=on` (or `alone:FASTPATH=alone`
for one trick).

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
its real status instead of 499. Without it (the default, or a list without `http`) Quart's
documented cancel-on-disconnect holds (ARCHITECTURE.md, "Documented extension points only").

It gains on `GET /hello/say` only, which is why it is off by default with the others.
Measured with `scripts/bench --baseline 5f9c7d1 --variant no-http:FASTPATH=alone --rounds 5`
(turning order, paired per-round medians, against the same code with Quart's own handling):
`GET /hello/say` +15% req/s (-13% CPU per request) in the latest final run, +8% and +17% in
the two before; +13% and +5% in two focused runs; one run of an earlier version saw 0%. On
the database endpoints it has measured from -10% to +13% across days (the latest: reads +2%
and -1%, writes -6% and -3%), although in process the trick makes 51 fewer Python calls per
read. docs/benchmark/history.md has every run; re-measure before relying on it. An earlier
public-API rewrite (one listener task, disconnects still cancel) gained nothing at the server
(DEVELOPERS.md): the gain is the listener task.

## `alone`: a single statement in autocommit (`send_alone`), for a purchase (`cars.buy_car`)

The rule (`best_app.repositories`): a write runs in `async with session.begin():`. On the
transactional engine that is three round trips (BEGIN, the statement, COMMIT) and
SQLAlchemy's execute path. A write that is one statement needs neither for its correctness:
PostgreSQL runs a statement sent outside a transaction block in a transaction of its own,
committed when the statement ends and rolled back if it fails, so it is all or nothing as
the block makes it. `send_alone` sends such a statement by itself: compiled once (cached by
statement), run on the driver of a connection it takes from the engine's pool and
gives back at once, with no SQLAlchemy transaction and no BEGIN: one round trip, committed
when it returns. Only a function whose whole write is that one statement may use it (a car
bought: one data-modifying CTE); a write of several statements stays in `session.begin()`.

It applies only to a session that has not begun (`best_app.repositories.query.sends_alone`):
a request makes its write call first (`Database`), and a caller that already holds a
transaction gets the transactional path, which refuses as `session.begin()` always does.
Through PgBouncer (`DB_POOLER=pgbouncer`) the statement is unnamed (asyncpg's cache is off)
and takes two round trips: Parse and Describe ended by a Flush, then Bind and Execute ended by
the one Sync. No Sync comes between them, so PostgreSQL runs them as one implicit transaction
and PgBouncer keeps them on one server connection.

Its trade: the statement never goes through SQLAlchemy's execution, so SQLAlchemy's events
(statement counts, tracing) do not see it; driver errors are mapped here as SQLAlchemy maps
them (`_run_on_driver`, the rule in `best_app.database.driver_errors`).

What it relies on, pinned by the tests: asyncpg runs a statement outside a transaction
block when no `transaction()` is open (documented: its connection is in autocommit unless a
transaction is started); SQLAlchemy's `AsyncEngine.connect()` sends nothing before a
statement runs through it, and giving the connection back sends nothing when nothing ran
through SQLAlchemy (its asyncpg adapter begins lazily; not documented, so pinned, and the
driver is checked to be outside a transaction before every statement).

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
import logging
import re
from collections.abc import Collection, Mapping, Sequence
from importlib.metadata import version
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
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from best_app.config import ALONE_TRICK, HTTP_TRICK, Settings
from best_app.database.driver_errors import connection_is_unusable
from best_app.repositories.query import ALONE_KEY, Params
from best_app.repositories.rows import Named
from best_app.web.middleware import declares_body, is_http1

log = logging.getLogger(__name__)

# The releases each trick was written against, measured on and tested with: the lowest
# admitted, and the first refused. A release outside its range turns the trick down at start
# (`switched_on`); `tests/test_fastpath.py` fails when the installed ones leave it.
PINNED: Mapping[str, Mapping[str, tuple[str, str]]] = {
    HTTP_TRICK: {"quart": ("0.22", "0.23")},
    ALONE_TRICK: {"sqlalchemy": ("2.1", "2.2"), "asyncpg": ("0.32", "0.33")},
}


def installed_versions() -> dict[str, str]:
    """The installed release of every package a trick is pinned to."""
    return {package: version(package) for pins in PINNED.values() for package in pins}


def switched_on(
    settings: Settings, *, versions: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """The tricks `FASTPATH` names whose pinned packages are, in `versions` (by default the
    installed ones, `installed_versions()`), inside their range; each one refused is logged
    (WARNING) and its plain path is used."""
    versions = installed_versions() if versions is None else versions
    allowed = []
    for trick in settings.fastpath:
        outside = [
            f"{package} {versions.get(package, 'missing')} (pinned: >={low},<{high})"
            for package, (low, high) in PINNED[trick].items()
            if not _within(versions.get(package), low, high)
        ]
        if outside:
            log.warning(
                "FASTPATH trick %r refused: %s; using the plain path (best_app/fastpath.py)",
                trick,
                ", ".join(outside),
            )
        else:
            allowed.append(trick)
    return tuple(allowed)


def _within(found: str | None, low: str, high: str) -> bool:
    return found is not None and _release(low) <= _release(found) < _release(high)


def _release(version_string: str) -> tuple[int, ...]:
    """`2.1.9` -> (2, 1, 9); a pre-release counts as its release (`2.2.0b1` -> (2, 2, 0))."""
    return tuple(int(part) for part in re.findall(r"\d+", version_string.partition("+")[0])[:3])


def install(app: Quart, tricks: Collection[str]) -> None:
    """Put the HTTP trick in place when `tricks` (from `switched_on`) names it."""
    if HTTP_TRICK in tricks:
        app.asgi_http_class = HTTPConnection


def session_info(tricks: Collection[str]) -> dict[str, object]:
    """What the app's sessions carry in `info` for `tricks` (`Database(session_info=...)`):
    the `alone` trick's sender, which `best_app.repositories.query.write_one` calls."""
    return {ALONE_KEY: send_alone} if ALONE_TRICK in tricks else {}


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


_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy
_COMPILED: dict[Executable, tuple[str, Sequence[str]]] = {}  # per module-level statement


def _compiled(statement: Executable) -> tuple[str, Sequence[str]]:
    """The statement's SQL for asyncpg (`$n` placeholders) and its bind names in order."""
    found = _COMPILED.get(statement)
    if found is None:
        compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=_DIALECT))
        found = _COMPILED[statement] = (compiled.string, compiled.positiontup or ())
    return found


async def send_alone(engine: AsyncEngine, statement: Executable, params: Params) -> Named | None:
    """`statement` sent by itself in autocommit on a pool connection of `engine`; its first
    returned row, committed (see the module's text)."""
    sql, names = _compiled(statement)
    async with engine.connect() as connection:
        driver = await _driver_of(connection)
        if driver.is_in_transaction():
            raise RuntimeError(
                "a connection fresh from the pool is in a transaction: the statement would "
                "not commit on its own; set FASTPATH=off and re-check best_app/fastpath.py "
                "against this SQLAlchemy"
            )
        row: asyncpg.Record | None = await _run_on_driver(
            connection, driver, sql, [params[name] for name in names]
        )
    return row


_DRIVER_KEY = "best_app.driver"


async def _driver_of(connection: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under `connection`, remembered in the pooled connection's `info`
    (documented as "freely writable for user-defined state to be associated with the database
    connection"), which SQLAlchemy clears when the pool replaces the connection."""
    info = connection.info
    if _DRIVER_KEY not in info:  # the connection's first use: one greenlet switch
        info[_DRIVER_KEY] = (await connection.get_raw_connection()).driver_connection
    driver: asyncpg.Connection = info[_DRIVER_KEY]
    return driver


async def _run_on_driver(
    connection: AsyncConnection, driver: asyncpg.Connection, sql: str, args: Sequence[Any]
) -> asyncpg.Record | None:
    """`driver.fetchrow(sql, *args)`; errors as SQLAlchemy raises them on its own path."""
    try:
        row: asyncpg.Record | None = await driver.fetchrow(sql, *args)
    except (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
        OSError,
    ) as error:
        # As SQLAlchemy's `handle_error` path does (`best_app.database`): an unusable
        # connection is invalidated, so the pool replaces it, and the error reaches the app as
        # a `DBAPIError` around the driver's (an `IntegrityError` for a violated constraint).
        unusable = connection_is_unusable(error, driver)
        if unusable:
            await connection.invalidate(error)
        wrapper = (
            IntegrityError
            if isinstance(error, asyncpg.IntegrityConstraintViolationError)
            else DBAPIError
        )
        raise wrapper(sql, None, error, connection_invalidated=unusable) from error
    return row
