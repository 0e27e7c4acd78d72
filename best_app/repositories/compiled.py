"""Hot reads: Core statements compiled once, run on an asyncpg connection from the pool.

The ORM's execute path (compiled-cache lookup, execution context, cursor adapter, result and
entity processing) costs more than the query itself on a per-request lookup: measured with
`scripts/bench`, the user's cars went from ~1,260 to ~900 µs of CPU per request this way.
A `CompiledQuery` keeps what matters from SQLAlchemy: the statement is written in Core
against the mapped tables (one source of truth for names and types), compiled at import for
asyncpg's `$n` placeholders; asyncpg prepares it once per connection (its statement cache;
with `DB_POOLER=pgbouncer` the cache is off: an unnamed statement, parsed with each run).
Where it runs: inside a block (`session.begin()`, or a session that began with a read through
it) on the session's connection; otherwise on a connection borrowed from the engine's pool
for the one statement (`AsyncEngine.connect()`) and given back when it returns. A statement
sent alone runs in a transaction of its own, as every statement of a READ COMMITTED
transaction sees a snapshot of its own: for a read, a transaction around it would add only
the BEGIN and ROLLBACK round trips and hold the connection until the request ends. The
asyncpg connection is found once per pooled connection (`get_raw_connection()`, a greenlet
switch) and kept in its `info` dictionary, which lives as long as that DBAPI connection
(SQLAlchemy clears it when the pool replaces the connection). Errors are handled as on
SQLAlchemy's own path (`driver_errors`). Use it for read-only statements on hot paths; writes
go through the session (or, for one measured exception, `best_app.fastpath`).

Mind the transaction: running on the driver, a `CompiledQuery` does not start the database
transaction that `session.begin()` has opened in SQLAlchemy (its asyncpg adapter sends BEGIN
with the first statement that goes through SQLAlchemy). One that comes first in a block runs
outside the database transaction: fine for a plain read whose result a later statement
settles (registration's read; the insert's unique constraint decides), wrong for a locking
read (`FOR UPDATE`) or one that must share the writes' snapshot. Use `session.execute` for
those, as `repositories/sales.py` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from best_app.database.driver_errors import connection_is_unusable

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy


class CompiledQuery:
    """One read-only statement, compiled once; parameters are passed by bind name."""

    def __init__(self, statement: ClauseElement) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=_DIALECT))
        self.sql = compiled.string
        self._names: Sequence[str] = compiled.positiontup or ()

    def args(self, params: dict[str, Any]) -> list[Any]:
        return [params[name] for name in self._names]

    async def fetch(self, session: AsyncSession, **params: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._run(session, "fetch", params)
        return rows

    async def fetchrow(self, session: AsyncSession, **params: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._run(session, "fetchrow", params)
        return row

    async def _run(self, session: AsyncSession, method: str, params: dict[str, Any]) -> Any:
        engine = unbegun_engine(session)
        if engine is None:  # inside a block: the block's connection
            return await self._run_on(await session.connection(), method, params)
        async with engine.connect() as connection:  # a read by itself: a pool connection
            return await self._run_on(connection, method, params)  # for the one statement

    async def _run_on(
        self, connection: AsyncConnection, method: str, params: dict[str, Any]
    ) -> Any:
        driver = await driver_of(connection)
        return await run_on_driver(connection, driver, self.sql, method, self.args(params))


def unbegun_engine(session: AsyncSession) -> AsyncEngine | None:
    """The engine of a session that has not begun (and is bound to an engine, as the app's
    sessions are): a statement may then borrow a connection of its own, as nothing the session
    holds would be bypassed. None inside a block, or for a session bound to a connection."""
    engine = session.bind
    if session.in_transaction() or not isinstance(engine, AsyncEngine):
        return None
    return engine


async def driver_of(connection: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under `connection` (remembered in the pooled connection's `info`,
    documented as "freely writable for user-defined state to be associated with the database
    connection")."""
    info = connection.info
    if _DRIVER_KEY not in info:  # the connection's first use: one greenlet switch
        info[_DRIVER_KEY] = (await connection.get_raw_connection()).driver_connection
    driver: asyncpg.Connection = info[_DRIVER_KEY]
    return driver


_DRIVER_KEY = "best_app.driver"


async def run_on_driver(
    connection: AsyncConnection,
    driver: asyncpg.Connection,
    sql: str,
    method: str,
    args: Sequence[Any],
) -> Any:
    """`method` ("fetch", "fetchrow") of `driver` (the one under `connection`), run with `sql`
    and `args`; errors as SQLAlchemy raises them."""
    try:
        return await getattr(driver, method)(sql, *args)
    except (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
        OSError,
    ) as error:
        # What SQLAlchemy does with an error on its own execute path (`database.py`): an
        # unusable connection is invalidated, so the pool replaces it, and the error
        # reaches the app as a `DBAPIError` around the driver's (an `IntegrityError` for a
        # violated constraint, as SQLAlchemy's asyncpg dialect maps it).
        unusable = connection_is_unusable(error, driver)
        if unusable:
            await connection.invalidate(error)
        wrapper = (
            IntegrityError
            if isinstance(error, asyncpg.IntegrityConstraintViolationError)
            else DBAPIError
        )
        raise wrapper(sql, None, error, connection_invalidated=unusable) from error
