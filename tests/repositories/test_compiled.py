"""Hot reads (`CompiledQuery`): where they run, and the driver they run on."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import QueuePool

from best_app.database import Database
from best_app.repositories import users
from best_app.repositories.compiled import driver_of
from best_app.repositories.rows import USERS


def _checked_out(database: Database) -> int:
    pool = database.engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedout()


async def test_a_read_by_itself_holds_a_connection_for_its_statement_only(
    database: Database, session: AsyncSession, unique: Callable[[str], str]
) -> None:
    name = unique("h")
    await users.register_user_if_not_exist(session, name)
    found = await users.get_by_username(session, name)
    assert found is not None
    assert found.username == name
    # The connection went back to the pool with the read; the session never began.
    assert _checked_out(database) == 0
    assert not session.in_transaction()


async def test_a_read_in_a_block_runs_on_the_blocks_connection(
    database: Database, session: AsyncSession, unique: Callable[[str], str]
) -> None:
    name = unique("h")
    async with session.begin():
        await session.execute(insert(USERS).values(username=name))
        # Not committed yet: only the block's own connection can see the row.
        found = await users.get_by_username(session, name)
        assert found is not None
        assert _checked_out(database) == 1
    assert await users.get_by_username(session, name) is not None  # committed


async def test_the_driver_is_the_pooled_connections_own(database: Database) -> None:
    async with database.engine.connect() as connection:
        driver = await driver_of(connection)
        assert driver is (await connection.get_raw_connection()).driver_connection
        assert await driver_of(connection) is driver  # remembered with the connection
        await connection.invalidate()  # the pool replaces the DBAPI connection ...
    async with database.engine.connect() as connection:
        replaced = await driver_of(connection)  # ... and what was remembered with it
        assert await replaced.fetchval("SELECT 1") == 1
        assert replaced is not driver
        assert replaced is (await connection.get_raw_connection()).driver_connection
