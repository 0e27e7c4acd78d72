"""What runs before the server starts: wait for the database (`best-app wait-db`).

Bounded and loud: the wait backs off up to `DB_WAIT_TIMEOUT` and then fails with one line.
The migrations that follow it are `best_app.ops.migrations`.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import text

from best_app.config import Settings
from best_app.database import create_engine

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
