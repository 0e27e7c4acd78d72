"""How the repositories send a statement: always through SQLAlchemy's execution.

Every statement goes through SQLAlchemy (its events, its error mapping, its type processing
see all of them). Statements are Core, built once at module level (SQLAlchemy caches their
compiled form), and rows come back as `.mappings()`, read by name (`rows.py`); nothing goes
through the ORM's identity map.

Where a statement runs:
- inside a block (`async with session.begin():`, or a session that has begun): on the
  session's connection, inside the block's database transaction, so a locking read
  (`FOR UPDATE`) made first in a block holds its lock until the block ends;
- a read outside any block (`read`, `read_one`): on a connection the session's `info` names
  under `READS_KEY` (`best_app.database` puts one there: the engine with
  `isolation_level="AUTOCOMMIT"`, or behind PgBouncer the engine itself), borrowed for the one
  statement with `AsyncEngine.connect()` and given back when it returns. The session never
  begins: a request that only reads holds a pool connection only while PostgreSQL answers.
  A session without that key (one made by hand) reads through `session.execute`.

The one hook for a trick from above: a session whose `info` holds `ALONE_KEY` (put there by
the factory for `FASTPATH`'s `alone`, `best_app.fastpath`) sends a one-statement write by
that callable instead of in `session.begin()` (`write_one`). Nothing here knows what it does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql import Executable

from best_app.database import READS_KEY
from best_app.database.driver_errors import driver_error
from best_app.repositories.rows import Named

# In `Session.info` (SQLAlchemy documents it as the application's own), beside `READS_KEY`.
ALONE_KEY = "best_app.alone"

Params = Mapping[str, Any]
# What `ALONE_KEY` names: send `statement` with `params` by itself, committed; its first row.
SendAlone = Callable[[AsyncEngine, Executable, Params], Awaitable[Named | None]]


def reads_engine(session: AsyncSession) -> AsyncEngine | None:
    """The engine a read may borrow a connection from: None when the session has begun (the
    read belongs to its transaction) or names none."""
    if session.in_transaction():
        return None
    engine: AsyncEngine | None = session.info.get(READS_KEY)
    return engine


async def read(
    session: AsyncSession, statement: Executable, params: Params
) -> Sequence[RowMapping]:
    """The rows of a read-only `statement` (see the module's text for where it runs)."""
    engine = reads_engine(session)
    if engine is None:
        return (await session.execute(statement, params)).mappings().all()
    async with engine.connect() as connection:
        return (await connection.execute(statement, params)).mappings().all()


async def read_one(
    session: AsyncSession, statement: Executable, params: Params
) -> RowMapping | None:
    """The one row of a read-only `statement`, or None."""
    engine = reads_engine(session)
    if engine is None:
        return (await session.execute(statement, params)).mappings().one_or_none()
    async with engine.connect() as connection:
        return (await connection.execute(statement, params)).mappings().one_or_none()


def sends_alone(session: AsyncSession) -> SendAlone | None:
    """The trick installed on the session's sessionmaker, if any, and only while the session
    has not begun (a caller that holds a transaction gets `session.begin()`, which refuses)."""
    if session.in_transaction() or not isinstance(session.bind, AsyncEngine):
        return None
    send: SendAlone | None = session.info.get(ALONE_KEY)
    return send


async def write_one(session: AsyncSession, statement: Executable, params: Params) -> Named | None:
    """A write that is one statement, in `session.begin()` (or sent by the installed trick);
    its first returned row, or None."""
    send = sends_alone(session)
    if send is not None and isinstance(session.bind, AsyncEngine):
        return await send(session.bind, statement, params)
    async with session.begin():
        return (await session.execute(statement, params)).mappings().first()


def foreign_keys_of(*columns: Column[Any]) -> frozenset[str]:
    """The names of the foreign keys on `columns` (the models' naming convention makes them)."""
    return frozenset(
        str(key.constraint.name)
        for column in columns
        for key in column.foreign_keys
        if key.constraint is not None
    )


def violates(error: IntegrityError, constraints: frozenset[str]) -> bool:
    """Whether `error` is the violation of one of `constraints`, by the name PostgreSQL reports:
    a function maps only the violations it expects, and any other reaches the caller."""
    name = getattr(driver_error(error.orig), "constraint_name", None) if error.orig else None
    return isinstance(name, str) and name in constraints
