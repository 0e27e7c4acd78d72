"""`best-app migrate`: Alembic's upgrade to head, one revision per transaction, never stalling
traffic.

Each revision runs in a transaction of its own that first sets `lock_timeout`
(`MIGRATION_LOCK_TIMEOUT_MS`, 2 s) and takes the migration lock
(`best_app.database.schema.migration_lock`). A DDL statement that waits for a table lock
holds its place in PostgreSQL's lock queue, and every request touching that table waits
behind it; with the timeout it gives up instead, the transaction rolls back (the revisions
before it stay applied), and the step is retried with backoff until `MIGRATION_TIMEOUT`, then
fails with one line. Waiting for another process's migration is bounded the same way, one
short transaction per attempt, so waiting processes do not pin connections (nor a PgBouncer
server connection) for the whole of another's migration.

No statement timeout: a revision may legitimately take long once it has its locks (write such
revisions as docs/deployment.md says: batches outside the DDL transaction).
`MIGRATION_DATABASE_URL`, when set, is the address migrations use (a direct or session-pooled
connection); the steps also work through PgBouncer in transaction mode (one transaction each,
nothing held between them).
"""

from __future__ import annotations

import asyncio
import logging
import time

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from best_app.config import Settings
from best_app.database import create_engine
from best_app.database.schema import alembic_config, code_revisions, migration_lock

log = logging.getLogger("best_app.ops.migrations")

LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a wait cut short by lock_timeout
_FIRST_DELAY, _MAX_DELAY = 0.25, 5.0


class MigrationError(SystemExit):
    """A migration that could not run: stops `best-app migrate` with one line."""


def migration_settings(settings: Settings) -> Settings:
    """`settings` as migrations connect: `MIGRATION_DATABASE_URL` (direct) when set, and no
    statement timeout."""
    update: dict[str, object] = {"db_statement_timeout_ms": 0}
    if settings.migration_database_url:
        update.update(database_url=settings.migration_database_url, db_pooler="none")
    return settings.model_copy(update=update)


def _next_revision(conn: Connection) -> str | None:
    """The revision after the database's, or None at head (or at a later release's revision)."""
    current = set(MigrationContext.configure(conn).get_current_heads())
    revisions = code_revisions()
    if current & revisions.heads or current - revisions.known:
        return None
    script = ScriptDirectory.from_config(alembic_config())
    (head,) = revisions.heads  # one line of history (tests/ops/test_migrations.py)
    (below,) = current or {"base"}
    pending = list(script.iterate_revisions(head, below))  # from head down to the next one
    return pending[-1].revision


def _step(conn: Connection, lock_timeout_ms: int) -> str | None:
    """In the caller's transaction: bound lock waits, take the lock, apply the next revision."""
    conn.execute(select(func.set_config("lock_timeout", f"{lock_timeout_ms}ms", True)))
    conn.execute(migration_lock())
    target = _next_revision(conn)
    if target is not None:
        config = alembic_config()
        config.attributes["connection"] = conn
        config.attributes["configure_logger"] = False
        command.upgrade(config, target)
    return target


def _lock_not_available(error: DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE


async def migrate(settings: Settings) -> list[str]:
    """Apply every pending revision, one transaction each; return the revisions applied."""
    engine = create_engine(migration_settings(settings), pooled=False)
    deadline = time.monotonic() + settings.migration_timeout
    applied: list[str] = []
    delay = _FIRST_DELAY
    try:
        while True:
            try:
                async with engine.begin() as conn:
                    target = await conn.run_sync(_step, settings.migration_lock_timeout_ms)
            except DBAPIError as error:
                if not _lock_not_available(error):
                    raise
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise MigrationError(
                        f"migration gave up after {settings.migration_timeout:g}s: a lock it "
                        f"needs stayed held longer than {settings.migration_lock_timeout_ms} ms "
                        f"at every attempt (applied so far: {', '.join(applied) or 'none'})"
                    ) from None
                log.warning(
                    "migration: a lock is held by another transaction (waited %d ms); "
                    "retrying in %.2fs",
                    settings.migration_lock_timeout_ms,
                    min(delay, remaining),
                )
                await asyncio.sleep(min(delay, remaining))
                delay = min(delay * 2, _MAX_DELAY)
                continue
            if target is None:
                log.info("migrations: at head (%s applied now)", len(applied))
                return applied
            log.info("migration: applied %s", target)
            applied.append(target)
            delay = _FIRST_DELAY
    finally:
        await engine.dispose()
