"""Users: the seed's `register_user_if_not_exist` and `get_by_username`, async and race-free."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from best_app.models import User
from best_app.repositories import query
from best_app.repositories.pages import Page
from best_app.repositories.rows import CARS, USER_COLUMNS, USERS, UserRow
from best_app.repositories.versions import Expected, update_if_current, write_if_current

# A concurrent DELETE can remove the row between our INSERT and our SELECT; try again then.
_REGISTER_ATTEMPTS = 3


class UserHasCarsError(Exception):
    """The user still owns cars, so the foreign key forbids deleting them."""


async def register_user_if_not_exist(
    session: AsyncSession,
    username: str,
    *,
    role: str | None = None,
    created_at: dt.date | None = None,
) -> tuple[UserRow, bool]:
    """Return the user named `username` and whether this call created them.

    An existing user is read and returned: the common, idempotent case is one read outside a
    block (a borrowed connection, `repositories/query.py`), with no transaction to begin and
    commit around it. Otherwise the block reads again and `INSERT ... ON CONFLICT DO NOTHING`
    lets the database settle races between concurrent callers; a loser reads the winner's row
    instead of raising a unique violation. Neither read is the guard: the insert is (a user
    deleted between the first read and the answer is a race any reader has).
    """
    found = await get_by_username(session, username)
    if found is not None:
        return found, False
    async with session.begin():
        existing = await get_by_username(session, username)
        if existing is not None:
            return existing, False
        values: dict[str, object] = {"username": username}
        if role is not None:
            values["role"] = role
        if created_at is not None:
            values["created_at"] = created_at
        insert_stmt = (
            insert(USERS)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[USERS.c.username])
            .returning(*USER_COLUMNS)
        )
        # READ COMMITTED: each statement sees what other transactions committed before it.
        for _ in range(_REGISTER_ATTEMPTS):
            created = (await session.execute(insert_stmt)).mappings().one_or_none()
            if created is not None:
                return UserRow.of(created), True
            existing = await get_by_username(session, username)
            if existing is not None:
                return existing, False
    raise RuntimeError(f"user {username!r} kept vanishing while being registered")


_BY_USERNAME = select(*USER_COLUMNS).where(User.username == bindparam("username"))


async def get_by_username(session: AsyncSession, username: str) -> UserRow | None:
    """The user named `username`, or None."""
    row = await query.read_one(session, _BY_USERNAME, {"username": username})
    return None if row is None else UserRow.of(row)


# Ids start at 1, so `after` 0 means "from the start"; a NULL role means any role.
_PAGE = (
    select(*USER_COLUMNS)
    .where(User.id > bindparam("after"))
    .where(bindparam("role", type_=String).is_(None) | (User.role == bindparam("role")))
    .order_by(User.id)
    .limit(bindparam("limit"))
)


async def list_users(
    session: AsyncSession, *, role: str | None = None, limit: int = 50, after: int | None = None
) -> Page[UserRow]:
    params = {"role": role, "after": 0 if after is None else after, "limit": limit + 1}
    rows = await query.read(session, _PAGE, params)
    return Page.from_rows([UserRow.of(row) for row in rows], limit)


async def update_role(
    session: AsyncSession, username: str, role: str, *, expected: Expected | None = None
) -> UserRow | None:
    """Set the user's role (a new version); None when there is no such user.

    Raises `StaleVersionError` when `expected` is given and the user is at another version.
    """
    row = await update_if_current(
        session,
        USERS,
        where=USERS.c.username == username,
        values={"role": role},
        returning=USER_COLUMNS,
        expected=expected,
    )
    return None if row is None else UserRow.of(row)


_OWNED_CARS = query.foreign_keys_of(CARS.c.owner_id)


async def delete_user(
    session: AsyncSession, username: str, *, expected: Expected | None = None
) -> bool:
    """Delete the user; False when there is none. Raises `UserHasCarsError` if they own cars,
    `StaleVersionError` when `expected` is given and the user is at another version.

    Their past ownership periods stay, with the username they were held under and no owner
    id (the foreign key is ON DELETE SET NULL): the history remains true.
    """
    statement = delete(USERS).where(USERS.c.username == username).returning(USERS.c.id)
    try:
        row = await write_if_current(
            session, statement, table=USERS, key=USERS.c.username == username, expected=expected
        )
    except IntegrityError as error:  # the block has rolled back
        if query.violates(error, _OWNED_CARS):
            raise UserHasCarsError(username) from error
        raise
    return row is not None
