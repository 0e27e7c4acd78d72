"""What runs before the server starts in a container: wait for the database, then migrate.

Both are bounded and loud: the wait backs off up to `DB_WAIT_TIMEOUT` and then fails with one
line; the migration runs in one transaction under a transaction-level PostgreSQL advisory lock
(`alembic/env.py`), so replicas starting together take turns (the later ones find the schema at
head and do nothing), directly or through PgBouncer in transaction mode.
"""

from __future__ import annotations

import asyncio
import logging
import time

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from best_app.config import Settings
from best_app.database import create_engine
from best_app.ops.migrations import alembic_config, migration_lock

log = logging.getLogger("best_app.ops.prestart")

_FIRST_DELAY, _MAX_DELAY = 0.25, 5.0


class DatabaseNotReadyError(SystemExit):
    pass


async def wait_for_database(settings: Settings, give_up_after: float) -> None:
    engine = create_engine(settings, pooled=False)
    deadline = time.monotonic() + give_up_after
    delay, attempt = _FIRST_DELAY, 0
    try:
        while True:
            attempt += 1
            try:
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            except Exception as error:
                reason = type(error).__name__
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DatabaseNotReadyError(
                        f"database not reachable after {give_up_after:g}s ({attempt} attempts, "
                        f"last error: {reason})"
                    ) from None
                log.info("database not ready (%s); retrying in %.2fs", reason, delay)
                await asyncio.sleep(min(delay, remaining))
                delay = min(delay * 2, _MAX_DELAY)
            else:
                log.info("database is reachable")
                return
    finally:
        await engine.dispose()


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(settings: Settings) -> None:
    """`alembic upgrade head` in one transaction that first takes the migration lock.

    Taken here before Alembic runs (and again, re-entrantly, by `alembic/env.py`), so that
    callers in one process take turns too: Alembic's `context` is process-global.
    """
    engine = create_engine(settings.model_copy(update={"db_statement_timeout_ms": 0}), pooled=False)
    try:
        async with engine.begin() as conn:
            log.info("waiting for the migration lock")
            await conn.execute(migration_lock())
            await conn.run_sync(_upgrade)
    finally:
        await engine.dispose()
