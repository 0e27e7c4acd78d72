"""Migrations: up from empty, down to base, up again; one head; the models match."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from best_app.config import Settings
from best_app.database import create_engine
from best_app.migrations import alembic_config, expected_heads
from best_app.models import Base
from tests.dbtools import migrate


def _run(url: str, fn: object) -> object:
    async def go() -> object:
        engine = create_engine(Settings(_env_file=None, database_url=url), pooled=False)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)  # type: ignore[arg-type]
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
