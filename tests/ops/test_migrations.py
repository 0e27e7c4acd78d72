"""Migrations: up from empty, down to base, up again; one head; the models match."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from best_app.config import Settings
from best_app.database import create_engine
from best_app.database.schema import alembic_config, expected_heads
from best_app.models import Base
from tests.utils.dbtools import migrate

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
    assert _run(url, _tables) == {"alembic_version", "users", "cars", "ownerships"}
    assert _run(url, _model_diff) == []

    migrate(url, "base", down=True)
    assert _run(url, _tables) == {"alembic_version"}

    migrate(url)
    assert _run(url, _tables) == {"alembic_version", "users", "cars", "ownerships"}
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
