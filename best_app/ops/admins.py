"""`best-app create-admin USERNAME`: an admin account (a new user, or an existing one made one);
`best-app purge-sessions`: delete the login sessions that have ended (a periodic job's work;
each login also purges its own user's).

The password is read from standard input (`--password-stdin`, one line) or asked for twice
on the terminal; it must meet the rules every password meets (`best_app.schemas.Password`).
"""

from __future__ import annotations

import getpass
import sys

from pydantic import TypeAdapter, ValidationError

from best_app.config import Settings
from best_app.database import Database
from best_app.passwords import Passwords
from best_app.repositories import accounts, sessions
from best_app.schemas import Password, Username


class AdminError(Exception):
    """The username or the password cannot be used; says why."""


def read_password(*, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AdminError("the passwords differ")
    return first


def _valid(adapter: TypeAdapter[str], what: str, value: str) -> str:
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
        raise AdminError(f"{what}: {reasons}") from None


async def create_admin(settings: Settings, username: str, password: str) -> None:
    """Make `username` an admin whose password is `password` (created if there is none)."""
    username = _valid(TypeAdapter(Username), "username", username)
    password = _valid(TypeAdapter(Password), "password", password)
    password_hash = await Passwords(settings.password_hash_concurrency).hash(password)
    database = Database(settings)
    await database.connect()
    try:
        async with database.new_session() as session:
            await accounts.create_admin(session, username, password_hash)
    finally:
        await database.disconnect()


async def purge_sessions(settings: Settings) -> int:
    """Delete every session past its lifetime or idle timeout; how many there were."""
    database = Database(settings)
    await database.connect()
    try:
        async with database.new_session() as session:
            return await sessions.purge_expired(session, idle=settings.session_idle_timeout)
    finally:
        await database.disconnect()
