"""Migrations: up from empty, down to base, up again; one head; the models match; and
`best-app migrate`'s runner: a revision per transaction, lock waits bounded and retried."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from best_app.config import Settings
from best_app.database import create_engine
from best_app.database.schema import alembic_config, code_revisions, expected_heads
from best_app.models import Base
from best_app.ops.migrations import MigrationError
from best_app.ops.migrations import migrate as migrate_now
from tests.utils.dbtools import migrate, plain_dsn, users_table_read
from tests.utils.releases import NEXT_REVISION, write_next_release

T = TypeVar("T")


def _run(url: str, fn: Callable[[Connection], T]) -> T:
    async def go() -> T:
        engine = create_engine(Settings(_env_file=None, database_url=url), pooled=False)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def _model_diff(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def test_there_is_exactly_one_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1
    assert expected_heads() == frozenset(heads)


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    url = empty_database_url
    assert _run(url, _tables) == set()

    migrate(url)
    assert _run(url, _tables) == {"alembic_version", "users", "cars", "ownerships", "sessions"}
    assert _run(url, _model_diff) == []

    migrate(url, "base", down=True)
    assert _run(url, _tables) == {"alembic_version"}

    migrate(url)
    assert _run(url, _tables) == {"alembic_version", "users", "cars", "ownerships", "sessions"}
    assert _run(url, _model_diff) == []


def test_schema_has_the_spec_constraints(database_url: str) -> None:
    def read(conn: Connection) -> dict[str, object]:
        insp = inspect(conn)
        return {
            "checks": {c["name"] for c in insp.get_check_constraints("users")},
            "uniques": {c["name"] for c in insp.get_unique_constraints("users")},
            "fks": [(f["name"], f["options"]) for f in insp.get_foreign_keys("cars")],
            "indexes": {i["name"] for i in insp.get_indexes("cars")},
        }

    found = _run(database_url, read)
    assert found == {
        "checks": {"role_types"},
        "uniques": {"uq_users_username"},
        "fks": [("fk_cars_owner_id_users", {})],  # NO ACTION is PostgreSQL's default
        "indexes": {"ix_cars_owner_id"},
    }


_FILL_AT_0001 = """
    INSERT INTO users (username, role)
    SELECT 'm-' || n, (ARRAY['student', 'teacher', 'employee'])[1 + n % 3]
    FROM generate_series(1, :users) AS n;
    INSERT INTO cars (model, owner_id)
    SELECT 'Golf', u.id FROM users u CROSS JOIN generate_series(1, :cars) AS n ORDER BY u.id, n;
"""


def _fill(conn: Connection, users: int, cars_per_user: int) -> None:
    for statement in _FILL_AT_0001.split(";"):
        if statement.strip():
            conn.execute(text(statement), {"users": users, "cars": cars_per_user})
    conn.commit()


def _periods(conn: Connection) -> dict[str, object]:
    row = conn.execute(
        text(
            """
            SELECT
              (SELECT count(*) FROM cars),
              (SELECT count(*) FROM ownerships),
              (SELECT count(*) FROM cars c JOIN ownerships o
                 ON o.car_id = c.id AND o.owner_id = c.owner_id AND o.until IS NULL
                JOIN users u ON u.id = c.owner_id AND u.username = o.username),
              (SELECT count(DISTINCT since) FROM ownerships),
              (SELECT bool_and(version = 1) FROM cars),
              (SELECT bool_and(version = 1) FROM users)
            """
        )
    ).one()
    keys = ("cars", "periods", "open_for_owner", "distinct_since", "cars_v1", "users_v1")
    return dict(zip(keys, row, strict=True))


def test_0002_backfills_one_open_period_per_car_and_goes_down_and_up(
    empty_database_url: str,
) -> None:
    """The bench's size: 10,000 users x 5 cars at 0001, then 0002, down to 0001, up again."""
    url = empty_database_url
    migrate(url, "0001_create_users_and_cars")
    _run(url, lambda conn: _fill(conn, 10_000, 5))

    migrate(url)
    expected = {
        "cars": 50_000,
        "periods": 50_000,
        "open_for_owner": 50_000,  # every car: one open period, its owner, their username
        "distinct_since": 1,  # the migration's own time, for all of them
        "cars_v1": True,
        "users_v1": True,
    }
    assert _run(url, _periods) == expected
    assert _run(url, _model_diff) == []

    migrate(url, "0001_create_users_and_cars", down=True)
    assert _run(url, _tables) == {"alembic_version", "users", "cars"}
    assert _run(url, lambda conn: conn.scalar(text("SELECT count(*) FROM cars"))) == 50_000

    migrate(url)
    assert _run(url, _periods) == expected


def test_alembic_check_is_clean(database_url: str) -> None:
    """`alembic check`: autogenerate finds nothing to add between the models and head."""
    config = alembic_config()
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    command.check(config)  # raises AutogenerateDiffsDetected on any difference


# `best-app migrate` (best_app/ops/migrations.py): a revision per transaction, bounded lock waits.


@pytest.fixture
def next_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """This process knows release N+1's revision (tests/utils/releases.py) while the test runs;
    yields release N's head."""
    (head,) = expected_heads()
    for name, value in write_next_release(tmp_path).items():
        monkeypatch.setenv(name, value)
    code_revisions.cache_clear()
    yield head
    monkeypatch.undo()
    code_revisions.cache_clear()


async def _versions(url: str) -> list[str]:
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        return [row[0] for row in await conn.fetch("SELECT version_num FROM alembic_version")]
    finally:
        await conn.close()


async def test_each_revision_is_applied_in_a_transaction_of_its_own(
    make_settings: Callable[..., Settings], empty_database_url: str
) -> None:
    applied = await migrate_now(make_settings(database_url=empty_database_url))
    script = ScriptDirectory.from_config(alembic_config())
    assert applied == [rev.revision for rev in reversed(list(script.walk_revisions()))]
    assert set(await _versions(empty_database_url)) == expected_heads()
    assert await migrate_now(make_settings(database_url=empty_database_url)) == []


async def test_concurrent_migrations_take_turns(
    make_settings: Callable[..., Settings], empty_database_url: str
) -> None:
    settings = make_settings(database_url=empty_database_url)
    runs = await asyncio.gather(*(migrate_now(settings) for _ in range(3)))
    assert sorted(len(run) for run in runs)[-1] >= 1
    assert sum(len(run) for run in runs) == len(code_revisions().known)  # each applied once
    assert await _versions(empty_database_url) == sorted(expected_heads())


async def test_a_revision_behind_a_long_transaction_retries_then_lands(
    make_settings: Callable[..., Settings], empty_database_url: str, next_release: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    await asyncio.to_thread(migrate, empty_database_url, next_release)  # release N's schema
    settings = make_settings(database_url=empty_database_url, migration_lock_timeout_ms=200)
    started = time.monotonic()
    async with users_table_read(empty_database_url):
        migration = asyncio.create_task(migrate_now(settings))
        await asyncio.sleep(1.5)
        assert not migration.done()
    assert await migration == [NEXT_REVISION]
    assert time.monotonic() - started >= 1.5
    assert await _versions(empty_database_url) == [NEXT_REVISION]
    assert "a lock is held by another transaction" in caplog.text


async def test_a_lock_held_past_migration_timeout_fails_with_one_line(
    make_settings: Callable[..., Settings], empty_database_url: str, next_release: str
) -> None:
    await asyncio.to_thread(migrate, empty_database_url, next_release)
    at_head = await _versions(empty_database_url)
    settings = make_settings(
        database_url=empty_database_url, migration_lock_timeout_ms=100, migration_timeout=1.0
    )
    async with users_table_read(empty_database_url):
        started = time.monotonic()
        with pytest.raises(MigrationError, match=r"migration gave up after 1s: a lock"):
            await migrate_now(settings)
        assert time.monotonic() - started < 4
    assert await _versions(empty_database_url) == at_head == [next_release]  # nothing half-done
