"""Where the Alembic revisions live, which revision the code expects (the head), and the
migration lock."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Select, func, select

_INI_NAME = "alembic.ini"

# Any constant all replicas agree on: "best_app" as an int, for pg_advisory_xact_lock(bigint).
MIGRATION_LOCK_KEY = int.from_bytes(b"best_app", "big") >> 1


def migration_lock() -> Select[tuple[None]]:
    """The statement every migration run executes first in its transaction.

    `pg_advisory_xact_lock` is held until that transaction ends: processes migrating at once
    (replicas starting together) take turns, the later ones find the schema at head, and it
    works through a transaction pooler such as PgBouncer (a session-level lock does not: the
    server connection holding it goes to another client after each transaction).
    """
    return select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY))


def alembic_config() -> Config:
    """The project's Alembic config: next to the package in a checkout, else in the work dir.

    (An installed wheel, as in the container, has `alembic.ini` in the working directory.)
    """
    for root in (Path(__file__).resolve().parent.parent, Path.cwd()):
        ini = root / _INI_NAME
        if ini.is_file():
            config = Config(str(ini))
            config.set_main_option("script_location", str(root / "alembic"))
            return config
    raise FileNotFoundError(f"{_INI_NAME} not found next to the package or in {Path.cwd()}")


@cache
def expected_heads() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())
