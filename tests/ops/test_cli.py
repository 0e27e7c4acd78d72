"""`best-app`: the commands operators and scripts run, as real processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from sqlalchemy import text

from best_app.config import Settings
from best_app.database import create_engine
from tests.utils.server import ROOT


def best_app(*args: str, database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url, **env}
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "best_app", *args],
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


@pytest.mark.parametrize("command", ["serve", "wait-db", "migrate", "healthcheck"])
def test_every_command_has_help(command: str) -> None:
    result = best_app(command, "--help", database_url="postgresql://unused/x")
    assert result.returncode == 0
    assert "usage: best-app" in result.stdout
