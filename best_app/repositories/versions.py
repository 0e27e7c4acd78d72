"""Conditional writes: change a row only at a version the client has seen (`If-Match`).

Users and cars carry a `version` that every write raises by one; the API's ETag names the row
and its version. A conditional write adds "and (id, version) is one of these" to its own
WHERE clause: the database checks and writes in one statement, under the row's lock, so a
client that read an older version can never overwrite a newer one (no lost update).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import (
    Column,
    Delete,
    RowMapping,
    Table,
    Update,
    exists,
    false,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

# The (id, version) pairs a client accepts; None means "whatever is there" (no If-Match, or *).
Expected = frozenset[tuple[int, int]]


class StaleVersionError(Exception):
    """The row exists, but at none of the versions the client expected (HTTP 412)."""


def at_expected(
    statement: Update | Delete, table: Table, expected: Expected | None
) -> Update | Delete:
    """`statement` restricted to rows at one of the `expected` versions."""
    if expected is None:
        return statement
    if not expected:  # only tags this API never issued: nothing can match
        return statement.where(false())
    return statement.where(tuple_(table.c.id, table.c.version).in_(sorted(expected)))


async def write_if_current(
    session: AsyncSession,
    statement: Update | Delete,
    *,
    table: Table,
    key: ColumnElement[bool],
    expected: Expected | None,
) -> RowMapping | None:
    """Run `statement` (an UPDATE or DELETE ... WHERE `key` ... RETURNING) in a transaction,
    only on a row at one of the `expected` versions; its returned row, or None when no row
    matches `key`. Raises `StaleVersionError` when the row is there at another version."""
    async with session.begin():
        result = await session.execute(at_expected(statement, table, expected))
        row = result.mappings().one_or_none()
        if (
            row is None
            and expected is not None
            and await session.scalar(select(exists().where(key)))
        ):
            raise StaleVersionError
    return row


async def update_if_current(
    session: AsyncSession,
    table: Table,
    *,
    where: ColumnElement[bool],
    values: Mapping[str, object],
    returning: Sequence[Column[object]],
    expected: Expected | None,
) -> RowMapping | None:
    """Set `values` on the row of `table` that `where` names, and raise its version by one,
    through `write_if_current`: the row's `returning` columns as they now are, or None when
    there is no such row. Raises `StaleVersionError` when it is at another version."""
    statement = (
        update(table)
        .where(where)
        .values(**values, version=table.c.version + 1)
        .returning(*returning)
    )
    return await write_if_current(session, statement, table=table, key=where, expected=expected)
