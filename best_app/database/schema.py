"""The schema this code can serve: its Alembic revisions, and the readiness rule over them.

Releases are expand/contract (docs/deployment.md, "Releases with a migration"): release N+1's
migration only adds what release N ignores, so release N keeps serving while release N+1's
replicas roll out. A replica is therefore ready on the code's own head **and on any revision
it does not know**. How it tells "newer" from "unrelated": revisions are only ever added
(one line of history, checked by tests/ops/test_migrations.py), and `best-app migrate` upgrades
from the revision the database is at, so a database at a revision the code does not know was
migrated by a later release whose history contains this code's head. A revision the code does
know, other than its head, is older: the schema lacks something the code uses, not ready.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

_INI_NAME = "alembic.ini"
# Alembic's own variable for its config file (`alembic --help`): the same file for our code.
CONFIG_ENV = "ALEMBIC_CONFIG"

# Any constant all replicas agree on: "best_app" as an int, for pg_advisory_xact_lock(bigint).
MIGRATION_LOCK_KEY = int.from_bytes(b"best_app", "big") >> 1


def migration_lock() -> Select[tuple[None]]:
    """The statement every migration transaction executes first.

    `pg_advisory_xact_lock` is held until that transaction ends: processes migrating at once take
    turns, and it works through a transaction pooler such as PgBouncer (a session-level lock does
    not: the server connection holding it goes to another client after each transaction). Its
    wait is bounded by the transaction's `lock_timeout` (`best_app.ops.migrations`).
    """
    return select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY))


def alembic_config() -> Config:
    """The project's Alembic config: `ALEMBIC_CONFIG`'s file as it is when set; otherwise
    `alembic.ini` next to the package in a checkout, else in the work dir (an installed wheel,
    as in the container, has it in the working directory)."""
    given = os.environ.get(CONFIG_ENV)
    if given:
        return Config(given)
    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
        ini = root / _INI_NAME
        if ini.is_file():
            config = Config(str(ini))
            config.set_main_option("script_location", str(root / "alembic"))
            return config
    raise FileNotFoundError(f"{_INI_NAME} not found next to the package or in {Path.cwd()}")


@dataclass(frozen=True)
class Revisions:
    """What the code knows: its head(s) and every revision in its history."""

    heads: frozenset[str]
    known: frozenset[str]

    def problem(self, found: set[str]) -> str | None:
        """None when a database at `found` can be served (see the module's docstring)."""
        if not found:
            return "schema at no migrations; expected " + ", ".join(sorted(self.heads))
        behind = sorted((found & self.known) - self.heads)
        if behind:
            return f"schema at {', '.join(behind)}, older than {', '.join(sorted(self.heads))}"
        return None


@cache
def code_revisions() -> Revisions:
    script = ScriptDirectory.from_config(alembic_config())
    return Revisions(
        heads=frozenset(script.get_heads()),
        known=frozenset(rev.revision for rev in script.walk_revisions()),
    )


def expected_heads() -> frozenset[str]:
    return code_revisions().heads


async def schema_problem(engine: AsyncEngine) -> str | None:
    """None when the database answers and its schema is one this code can serve."""
    async with engine.connect() as conn:
        has_table = await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
        found = (
            set((await conn.scalars(text("SELECT version_num FROM alembic_version"))).all())
            if has_table
            else set()
        )
    return code_revisions().problem(found)
