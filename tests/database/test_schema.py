"""The schema a replica serves: its own head, or a later release's revision (expand/contract)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from best_app.config import Settings
from best_app.database.schema import Revisions, code_revisions
from tests.utils.auth import authorized_app
from tests.utils.dbtools import migrate, plain_dsn
from tests.utils.problems import assert_problem
from tests.utils.releases import (
    NEXT_COLUMN,
    NEXT_REVISION,
    best_app_migrate,
    write_next_release,
)

RULE = Revisions(heads=frozenset({"0002"}), known=frozenset({"0001", "0002"}))


@pytest.mark.parametrize(
    ("found", "ready"),
    [
        ({"0002"}, True),  # the code's head
        ({"0003_later"}, True),  # a later release's revision: the code does not know it
        ({"0001"}, False),  # older than the code's head
        (set(), False),  # never migrated
    ],
)
def test_the_readiness_rule(found: set[str], ready: bool) -> None:
    assert (RULE.problem(found) is None) is ready


def test_the_code_knows_its_whole_history() -> None:
    revisions = code_revisions()
    assert revisions.heads <= revisions.known
    assert len(revisions.known) >= 2


async def test_an_older_schema_is_not_ready(
    make_settings: Callable[..., Settings], empty_database_url: str
) -> None:
    (oldest, *_) = sorted(code_revisions().known)
    await asyncio.to_thread(migrate, empty_database_url, oldest)
    async with authorized_app(make_settings(database_url=empty_database_url)).test_app() as app:
        response = await app.test_client().get("/readyz")
    problem = await assert_problem(response, 503)
    assert f"schema at {oldest}, older than" in problem["detail"]


async def _columns(url: str) -> set[str]:
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'"
        )
        version = await conn.fetchval("SELECT version_num FROM alembic_version")
    finally:
        await conn.close()
    return {row["column_name"] for row in rows} | {f"@{version}"}


async def test_this_code_serves_the_next_releases_schema(
    make_settings: Callable[..., Settings], empty_database_url: str, tmp_path: Path
) -> None:
    """Release N (this code) on release N+1's schema: one more additive revision, applied by
    `best-app migrate` as release N+1 would. Ready, and every kind of request still works."""
    await asyncio.to_thread(migrate, empty_database_url)
    env = {**write_next_release(tmp_path), "DATABASE_URL": empty_database_url}
    done = await asyncio.to_thread(best_app_migrate, env)
    assert done.returncode == 0, done.stderr
    assert {NEXT_COLUMN, f"@{NEXT_REVISION}"} <= await _columns(empty_database_url)

    async with authorized_app(make_settings(database_url=empty_database_url)).test_app() as app:
        client = app.test_client()
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.post("/users", json={"username": "nextrel"})).status_code == 201
        bought = await client.post("/users/nextrel/cars", json={"model": "Zoe"})
        assert bought.status_code == 201
        car = (await bought.get_json())["id"]
        assert (await client.get("/users/nextrel")).status_code == 200
        assert (await client.get("/users/nextrel/cars")).status_code == 200
        patched = await client.patch(f"/cars/{car}", json={"model": "Zoe 2"})
        assert patched.status_code == 200, await patched.get_data()
