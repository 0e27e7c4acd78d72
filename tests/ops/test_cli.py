"""`best-app`: the commands operators and scripts run, as real processes."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import text

from best_app.config import Settings
from best_app.database import create_engine
from tests.utils.server import ROOT


def best_app(
    *args: str, database_url: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url, **env}
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "best_app", *args], input=stdin,
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_check_passes_on_a_migrated_database(database_url: str) -> None:
    result = best_app("check", database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "settings: valid", "database: reachable", "migrations: a schema this code serves"
    ]  # fmt: skip


def test_check_exit_codes(empty_database_url: str) -> None:
    assert best_app("check", database_url=empty_database_url).returncode == 4
    assert best_app("check", database_url="postgresql://u@127.0.0.1:1/x").returncode == 3
    bad = best_app("check", database_url=empty_database_url, MODULES="nope")
    assert bad.returncode == 2
    assert "MODULES: unknown module(s) nope" in bad.stderr


async def test_seed_bulk_loads_users_and_cars(
    database_url: str, make_settings: Callable[..., Settings], unique: Callable[[str], str]
) -> None:
    prefix = unique("seed")
    result = best_app(
        "seed", "--users", "1200", "--cars", "3", "--prefix", prefix, database_url=database_url
    )
    assert result.returncode == 0, result.stderr
    assert "1200/1200" in result.stderr  # the progress bar
    engine = create_engine(make_settings(), pooled=False)
    try:
        async with engine.connect() as conn:
            users, cars, owners = (
                await conn.execute(
                    text(
                        "SELECT count(DISTINCT u.id), count(c.id), count(DISTINCT c.owner_id) "
                        "FROM users u LEFT JOIN cars c ON c.owner_id = u.id "
                        "WHERE u.username LIKE :prefix"
                    ),
                    {"prefix": f"{prefix}-%"},
                )
            ).one()
    finally:
        await engine.dispose()
    assert (users, cars, owners) == (1200, 3600, 1200)


@pytest.mark.parametrize(
    "command", ["serve", "wait-db", "migrate", "healthcheck", "create-admin", "purge-sessions"]
)
def test_every_command_has_help(command: str) -> None:
    result = best_app(command, "--help", database_url="postgresql://unused/x")
    assert result.returncode == 0
    assert "usage: best-app" in result.stdout


async def test_create_admin_then_purge_sessions(
    database_url: str, make_settings: Callable[..., Settings], unique: Callable[[str], str]
) -> None:
    """`best-app create-admin` from the command line: a common password is refused with one
    line, a good one makes an admin. `purge-sessions` deletes only sessions that have ended."""
    name = unique("admin")
    command = ("create-admin", name, "--password-stdin")
    weak = best_app(*command, database_url=database_url, stdin="password\n")
    assert weak.returncode != 0
    assert "most common" in weak.stderr
    made = best_app(*command, database_url=database_url, stdin="a long admin secret\n")
    assert made.returncode == 0, made.stderr
    engine = create_engine(make_settings(), pooled=False)
    try:
        async with engine.begin() as conn:
            admin = (
                await conn.execute(
                    text("SELECT id, is_admin FROM users WHERE username = :n"), {"n": name}
                )
            ).one()
            assert admin.is_admin
            for lifetime in (dt.timedelta(seconds=-1), dt.timedelta(hours=1)):
                await conn.execute(
                    text(
                        "INSERT INTO sessions (user_id, token_hash, expires_at) "
                        "VALUES (:u, :h, now() + :lifetime)"
                    ),
                    {"u": admin.id, "h": uuid.uuid4().bytes * 2, "lifetime": lifetime},
                )
        purged = best_app("purge-sessions", database_url=database_url)
        assert purged.returncode == 0, purged.stderr
        async with engine.connect() as conn:
            left = (
                await conn.execute(
                    text("SELECT count(*) FROM sessions WHERE user_id = :u"), {"u": admin.id}
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    assert left == 1
