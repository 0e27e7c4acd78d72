"""Login sessions: opened at login, found by the hash of their token, revoked, purged.

A session is valid while `now()` is before `expires_at` (the absolute lifetime) and within
the idle timeout of `last_used_at`. `last_used_at` is written at most once a `TOUCH_INTERVAL`
per session, not on every request: its precision is that interval, and a busy client costs
one small UPDATE a minute instead of one per request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from best_app.models import LoginSession
from best_app.repositories.rows import USERS, table_of

SESSIONS = table_of(LoginSession)
TOUCH_INTERVAL = dt.timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SessionOwner:
    """A valid session and the user it belongs to."""

    session_id: int
    user_id: int
    username: str
    is_admin: bool


def _seconds(name: str) -> object:
    return func.make_interval(0, 0, 0, 0, 0, 0, bindparam(name, type_=Integer))


_IDLE_SINCE = func.now() - _seconds("idle")
_LIVE = and_(SESSIONS.c.expires_at > func.now(), SESSIONS.c.last_used_at > _IDLE_SINCE)
_EXPIRED = or_(SESSIONS.c.expires_at <= func.now(), SESSIONS.c.last_used_at <= _IDLE_SINCE)

_OPEN = (
    insert(SESSIONS)
    .values(
        user_id=bindparam("user_id"),
        token_hash=bindparam("token_hash"),
        expires_at=func.now() + _seconds("lifetime"),
    )
    .returning(SESSIONS.c.expires_at)
)
_PURGE_USERS_EXPIRED = delete(SESSIONS).where(SESSIONS.c.user_id == bindparam("user_id"), _EXPIRED)
_PURGE_EXPIRED = delete(SESSIONS).where(_EXPIRED)
_FIND = (
    select(
        SESSIONS.c.id.label("session_id"),
        SESSIONS.c.user_id,
        USERS.c.username,
        USERS.c.is_admin,
        (SESSIONS.c.last_used_at < func.now() - literal_column("interval '1 minute'")).label(
            "stale"
        ),
    )
    .join(USERS, USERS.c.id == SESSIONS.c.user_id)
    .where(SESSIONS.c.token_hash == bindparam("token_hash"), _LIVE)
)
_TOUCH = (
    update(SESSIONS).where(SESSIONS.c.id == bindparam("session_id")).values(last_used_at=func.now())
)
_REVOKE = delete(SESSIONS).where(SESSIONS.c.id == bindparam("session_id"))
_REVOKE_OTHERS = delete(SESSIONS).where(
    SESSIONS.c.user_id == bindparam("user_id"), SESSIONS.c.id != bindparam("keep")
)
_SET_PASSWORD = (
    update(USERS).where(USERS.c.id == bindparam("user_id")).values(password_hash=bindparam("new"))
)


async def open_session(
    session: AsyncSession, user_id: int, token_hash: bytes, *, lifetime: int, idle: int
) -> dt.datetime:
    """Store a new session for the user; return when it expires at the latest. The user's
    sessions that have ended are purged on the way."""
    async with session.begin():
        await session.execute(_PURGE_USERS_EXPIRED, {"user_id": user_id, "idle": idle})
        params = {"user_id": user_id, "token_hash": token_hash, "lifetime": lifetime}
        expires_at: dt.datetime = (await session.execute(_OPEN, params)).scalar_one()
    return expires_at


async def find_session(
    session: AsyncSession, token_hash: bytes, *, idle: int
) -> SessionOwner | None:
    """The live session whose token hashes to `token_hash`, or None; records its use when
    the last record is older than `TOUCH_INTERVAL`."""
    async with session.begin():
        params = {"token_hash": token_hash, "idle": idle}
        row = (await session.execute(_FIND, params)).mappings().one_or_none()
        if row is None:
            return None
        if row["stale"]:
            await session.execute(_TOUCH, {"session_id": row["session_id"]})
    return SessionOwner(
        session_id=row["session_id"],
        user_id=row["user_id"],
        username=row["username"],
        is_admin=row["is_admin"],
    )


async def revoke(session: AsyncSession, session_id: int) -> None:
    async with session.begin():
        await session.execute(_REVOKE, {"session_id": session_id})


async def change_password(
    session: AsyncSession, user_id: int, new_hash: str, *, keep_session: int | None
) -> None:
    """Set the user's password and end every other session of theirs, together."""
    async with session.begin():
        await session.execute(_SET_PASSWORD, {"user_id": user_id, "new": new_hash})
        keep = -1 if keep_session is None else keep_session
        await session.execute(_REVOKE_OTHERS, {"user_id": user_id, "keep": keep})


async def purge_expired(session: AsyncSession, *, idle: int) -> int:
    """Delete every session that has ended; how many there were."""
    async with session.begin():
        result = await session.execute(_PURGE_EXPIRED, {"idle": idle})
    return int(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult for a DELETE
