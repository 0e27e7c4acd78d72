"""How the repositories send a statement (`best_app.repositories.query`): inside a block on the
block's connection, in its transaction; outside one on a connection borrowed for the statement.
Run on the app's own `Database` (the production engine configuration), directly and through
PgBouncer."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
from sqlalchemy import bindparam, insert, select
from sqlalchemy.pool import QueuePool

from best_app.database import Database
from best_app.repositories import query, users
from best_app.repositories.rows import USER_COLUMNS, USERS
from tests.utils.dbtools import plain_dsn

_LOCK_USER = select(*USER_COLUMNS).where(USERS.c.username == bindparam("name")).with_for_update()


def _checked_out(database: Database) -> int:
    pool = database.engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedout()


async def _is_locked(database_url: str, name: str) -> bool:
    """Whether another connection finds the user's row locked (`FOR UPDATE NOWAIT`)."""
    other = await asyncpg.connect(plain_dsn(database_url))
    try:
        await other.execute("SELECT 1 FROM users WHERE username = $1 FOR UPDATE NOWAIT", name)
    except asyncpg.LockNotAvailableError:
        return True
    finally:
        await other.close()
    return False


async def test_a_locking_read_made_first_in_a_block_holds_its_lock_until_the_block_ends(
    database: Database, database_url: str, unique: Callable[[str], str]
) -> None:
    name = unique("l")
    async with database.new_session() as session:
        await users.register_user_if_not_exist(session, name)
    async with database.new_session() as session:
        async with session.begin():
            locked = await query.read_one(session, _LOCK_USER, {"name": name})
            assert locked is not None
            assert await _is_locked(database_url, name)  # inside the block's transaction
        assert not await _is_locked(database_url, name)  # released when the block ended


async def test_a_read_by_itself_holds_a_connection_for_its_statement_only(
    database: Database, unique: Callable[[str], str]
) -> None:
    name = unique("h")
    async with database.new_session() as session:
        await users.register_user_if_not_exist(session, name)
    async with database.new_session() as session:
        found = await users.get_by_username(session, name)
        assert found is not None
        assert found.username == name
        # The connection went back to the pool with the read; the session never began.
        assert _checked_out(database) == 0
        assert not session.in_transaction()


async def test_a_read_in_a_block_runs_on_the_blocks_connection(
    database: Database, unique: Callable[[str], str]
) -> None:
    name = unique("h")
    async with database.new_session() as session:
        async with session.begin():
            await session.execute(insert(USERS).values(username=name))
            # Not committed yet: only the block's own connection can see the row.
            assert await users.get_by_username(session, name) is not None
            assert _checked_out(database) == 1
        assert await users.get_by_username(session, name) is not None  # committed
