"""Hot reads: Core statements compiled once, run on the session's own asyncpg connection.

The ORM's execute path (compiled-cache lookup, execution context, cursor adapter, result and
entity processing) costs more than the query itself on a per-request lookup: measured with
`scripts/bench`, the user's cars went from ~1,260 to ~900 µs of CPU per request this way.
A `CompiledQuery` keeps what matters from SQLAlchemy: the statement is written in Core
against the mapped tables (one source of truth for names and types), compiled at import for
asyncpg's `$n` placeholders; asyncpg prepares it once per connection (its statement cache).
It runs on the connection the request's session holds: the same pool checkout, returned
when the session closes. Use it for read-only statements on hot paths; writes go through
the session.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


class ConnectionLostError(ConnectionError):
    """The connection broke during a statement (an `OSError`: the API answers 503)."""


class CompiledQuery:
    """One read-only statement, compiled once; parameters are passed by bind name."""

    def __init__(self, statement: ClauseElement) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=_DIALECT))
        self.sql = compiled.string
        self._names: Sequence[str] = compiled.positiontup or ()

    def _args(self, params: dict[str, Any]) -> list[Any]:
        return [params[name] for name in self._names]

    async def fetch(self, session: AsyncSession, **params: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._run(session, "fetch", params)
        return rows

    async def fetchrow(self, session: AsyncSession, **params: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._run(session, "fetchrow", params)
        return row

    async def _run(self, session: AsyncSession, method: str, params: dict[str, Any]) -> Any:
        connection = await session.connection()
        # Just checked out, so valid: read the pooled connection without `get_raw_connection()`
        # (a greenlet switch, there only in case a reconnect is needed).
        pooled = connection.sync_connection.connection  # type: ignore[union-attr]
        driver: asyncpg.Connection = pooled.driver_connection
        try:
            return await getattr(driver, method)(self.sql, *self._args(params))
        except (OSError, asyncpg.InterfaceError) as error:
            if isinstance(error, TimeoutError) or not driver.is_closed():
                raise  # a slow query or a misuse: the connection itself is fine
            # What SQLAlchemy does on a disconnect: the pool replaces this connection.
            await connection.invalidate(error)
            raise ConnectionLostError(str(error)) from error
