"""Test databases: each test run (and each migration test) gets a fresh database of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager

import asyncpg
from alembic import command
from quart import Quart
from sqlalchemy.engine import make_url

from best_app.config import normalise_database_url
from best_app.database import Database, current_database
from best_app.database.schema import alembic_config


async def database_of(app: Quart) -> Database:
    """The app's own `Database` (connected while the app is serving), as its views reach it."""
    async with app.app_context():
        return current_database()


def plain_dsn(url: str) -> str:
    """asyncpg's own DSN form (no `+asyncpg` driver suffix)."""
    return (
        make_url(normalise_database_url(url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def with_database(url: str, name: str) -> str:
    return (
        make_url(normalise_database_url(url))
        .set(database=name)
        .render_as_string(hide_password=False)
    )


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def fresh_database(server_url: str, prefix: str = "best_app_test") -> Iterator[str]:
    """Create an empty database on the server of `server_url`; drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    asyncio.run(_execute(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(server_url, name)
    finally:
        asyncio.run(_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def migrate(url: str, revision: str = "head", *, down: bool = False) -> None:
    config = alembic_config()
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    if down:
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)


@asynccontextmanager
async def holding(database_url: str, statement: str) -> AsyncIterator[None]:
    """A transaction that ran `statement` and keeps what it locked until the block exits."""
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        async with conn.transaction():
            await conn.execute(statement)
            yield
    finally:
        await conn.close()


def users_table_locked(database_url: str) -> AbstractAsyncContextManager[None]:
    """Hold an exclusive lock on `users`: any request touching it waits, holding its connection."""
    return holding(database_url, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE")


def users_table_read(database_url: str) -> AbstractAsyncContextManager[None]:
    """A long transaction that has read `users` (ACCESS SHARE, as any read holds): requests go
    on, an ALTER TABLE waits for it to end."""
    return holding(database_url, "SELECT count(*) FROM users")
