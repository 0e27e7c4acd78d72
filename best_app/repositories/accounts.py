"""Accounts: registration with a password, the credentials a login checks, admins.

Passwords arrive here already hashed (`best_app.passwords`); nothing in this file sees one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from best_app.repositories.rows import USER_COLUMNS, USERS, UserRow


@dataclass(frozen=True, slots=True)
class Account:
    """What a login needs to know about a user."""

    id: int
    username: str
    password_hash: str | None
    is_admin: bool


_ACCOUNT = select(USERS.c.id, USERS.c.username, USERS.c.password_hash, USERS.c.is_admin).where(
    USERS.c.username == bindparam("username")
)
# Parameters name the columns to set (role and created_at only when given: server defaults).
_REGISTER = (
    insert(USERS).on_conflict_do_nothing(index_elements=[USERS.c.username]).returning(*USER_COLUMNS)
)
_NEW_USER = insert(USERS)
_CREATE_ADMIN = _NEW_USER.on_conflict_do_update(
    index_elements=[USERS.c.username],
    set_={"password_hash": _NEW_USER.excluded.password_hash, "is_admin": True},
).returning(*USER_COLUMNS)
# A newer hash of the same password (argon2 parameters changed), only if nobody changed it since.
_UPGRADE_HASH = (
    update(USERS)
    .where(USERS.c.id == bindparam("user_id"), USERS.c.password_hash == bindparam("old_hash"))
    .values(password_hash=bindparam("new_hash"))
)


async def find_account(session: AsyncSession, username: str) -> Account | None:
    """The account named `username`, or None (read in a block of its own: the caller then
    hashes for a while without holding a connection)."""
    async with session.begin():
        row = (await session.execute(_ACCOUNT, {"username": username})).mappings().one_or_none()
    if row is None:
        return None
    return Account(
        id=row["id"],
        username=row["username"],
        password_hash=row["password_hash"],
        is_admin=row["is_admin"],
    )


async def register_account(
    session: AsyncSession,
    username: str,
    password_hash: str,
    *,
    role: str | None = None,
    created_at: dt.date | None = None,
) -> UserRow | None:
    """Create the user with a password; None when the username is taken (the stored account
    is left as it is: the database settles concurrent registrations of one name)."""
    values: dict[str, object] = {"username": username, "password_hash": password_hash}
    if role is not None:
        values["role"] = role
    if created_at is not None:
        values["created_at"] = created_at
    async with session.begin():
        row = (await session.execute(_REGISTER, values)).mappings().one_or_none()
    return None if row is None else UserRow.of(row)


async def create_admin(session: AsyncSession, username: str, password_hash: str) -> UserRow:
    """Make `username` an admin with this password, creating the user if there is none."""
    values = {"username": username, "password_hash": password_hash, "is_admin": True}
    async with session.begin():
        row = (await session.execute(_CREATE_ADMIN, values)).mappings().one()
    return UserRow.of(row)


async def store_upgraded_hash(
    session: AsyncSession, user_id: int, old_hash: str, new_hash: str
) -> None:
    """Replace the user's hash by one of the same password made with today's parameters,
    unless the password changed meanwhile."""
    params = {"user_id": user_id, "old_hash": old_hash, "new_hash": new_hash}
    async with session.begin():
        await session.execute(_UPGRADE_HASH, params)
