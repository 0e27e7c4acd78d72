"""Database faults seen from PostgreSQL's side: the app's backends watched and ended.

The fault tests (driver errors, PgBouncer) serve an app with a user to read, and hold a
connection of their own straight to PostgreSQL (never through PgBouncer), from which they
count and terminate the backends the app's requests run on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from quart.typing import TestClientProtocol
from sqlalchemy.engine import make_url

from best_app.config import Settings
from tests.utils.auth import authorized_app
from tests.utils.dbtools import plain_dsn

# pg_stat_activity's view of a request's read of one user (`GET /users/{username}`),
# held up behind `users_table_locked`.
READ_WAITING_ON_LOCK = "wait_event_type = 'Lock' AND query LIKE 'SELECT users.id%'"


@asynccontextmanager
async def server_connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own to `database_url`'s server, closed afterwards."""
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        yield conn
    finally:
        await conn.close()


async def backends(
    conn: asyncpg.Connection, database_url: str, where: str, *, terminate: bool = False
) -> int:
    """How many backends of `database_url`'s database match `where` (SQL on
    pg_stat_activity); with `terminate`, each is ended (`pg_terminate_backend`) and the
    count is of those ended."""
    counted = "count(pg_terminate_backend(pid))" if terminate else "count(*)"
    query = f"SELECT {counted} FROM pg_stat_activity WHERE datname = $1 AND {where}"  # noqa: S608 - our own constants
    found: int = await conn.fetchval(query, make_url(database_url).database)
    return found


@asynccontextmanager
async def client_with_user(settings: Settings, username: str) -> AsyncIterator[TestClientProtocol]:
    """The app of `settings`, serving, and its test client, with `username` registered."""
    async with authorized_app(settings).test_app() as app:
        client = app.test_client()
        assert (await client.post("/users", json={"username": username})).status_code == 201
        yield client
