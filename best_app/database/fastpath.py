"""Performance tricks that step outside the house rules: the one module allowed to.

Each trick here states its measured gain, is switched off by `FASTPATH=off` (Settings,
README), and has tests that pin the library versions it was written for and prove what it
changes (`tests/repositories/test_fastpath.py`). A trick stays only while it measures >= 5%
end to end on `scripts/bench`; re-measure with `--variant fastpath-off:FASTPATH=off`.

## A single statement in autocommit (`Alone`), for a purchase (`cars.buy_car`)

The rule (`best_app.repositories`): a write runs in `async with session.begin():`. On the
transactional engine that is three round trips (BEGIN, the statement, COMMIT) and
SQLAlchemy's execute path. A write that is one statement needs neither for its correctness:
PostgreSQL runs a statement sent outside a transaction block in a transaction of its own,
committed when the statement ends and rolled back if it fails, so it is all or nothing as
the block makes it. `Alone` sends such a statement by itself: compiled once (as
`CompiledQuery`), run on the driver of a connection it takes from the engine's pool and
gives back at once, with no SQLAlchemy transaction and no BEGIN: one round trip, committed
when it returns. Only a function whose whole write is that one statement may use it (a car
bought: one data-modifying CTE); a write of several statements stays in `session.begin()`.

It applies only to a session that has not begun (`applies`): a request makes its write call
first (`Database`), and a caller that already holds a transaction gets the transactional
path, which refuses as `session.begin()` always does. Through PgBouncer (`DB_POOLER=pgbouncer`)
the statement is unnamed (asyncpg's cache is off) and parsed in the same batch as its
execution, so it is one transaction on one server connection.

What it relies on, pinned by the tests: asyncpg runs a statement outside a transaction
block when no `transaction()` is open (documented: its connection is in autocommit unless a
transaction is started); SQLAlchemy's `AsyncEngine.connect()` sends nothing before a
statement runs through it, and giving the connection back sends nothing when nothing ran
through SQLAlchemy (its asyncpg adapter begins lazily; not documented, so pinned, and the
driver is checked to be outside a transaction before every statement).

## An existing user's registration read alone (`POST /users`, `users.register_user_if_not_exist`)

The rule puts a read that precedes a write inside the write's block. Registration is
idempotent and nearly always finds the user: then the block is all overhead (begin, commit,
their bookkeeping and greenlet switches) around one read. With `FASTPATH` on the function
first sends that read alone (`Alone`, a read-only statement: nothing to commit) and returns
when it finds the user; only a new user takes the block, which reads again inside it (the
insert, not either read, settles races). Measured with `scripts/bench --variant
fastpath-off:FASTPATH=off --rounds 5` (turning order, paired per-round medians): `POST /users`
existing +20% req/s, -15% CPU per request (the purchase in the same run: +48%, -33%); a new
user costs one extra read.

## Measured, for the purchase

Measured in process (the app called through its ASGI interface under uvloop, CPU per request,
medians of 7 interleaved rounds of 2,000, one process per variant): `POST
/users/{username}/cars` 651 µs with `FASTPATH=off`, 455 µs on (-30%); the baseline before the
transactional engine (5f9c7d1, AUTOCOMMIT everywhere, one INSERT) 474 µs. Setting
`isolation_level="AUTOCOMMIT"` on the session's connection instead (documented SQLAlchemy)
saved only 5% (SQLAlchemy's execute path is most of the cost) and would prepare and execute
in two transactions through PgBouncer.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql import ClauseElement

from best_app.repositories.compiled import CompiledQuery, driver_of, run_on_driver

# In `Session.info` of the app's sessions (`Database`) when `FASTPATH` is on.
INFO_KEY = "best_app.fastpath"


def applies(session: AsyncSession) -> bool:
    """Whether `session`'s next write (or the read before it) may take this module's fast
    path: `FASTPATH` is on, the session has not begun, and it is bound to an engine (the
    app's own sessions)."""
    return (
        bool(session.info.get(INFO_KEY))
        and not session.in_transaction()
        and isinstance(session.bind, AsyncEngine)
    )


class Alone:
    """One statement, compiled once, sent by itself in autocommit (see the module's text)."""

    def __init__(self, statement: ClauseElement) -> None:
        self._query = CompiledQuery(statement)

    async def fetchrow(self, session: AsyncSession, **params: Any) -> asyncpg.Record | None:
        """The statement's first returned row, committed; `session` must satisfy `applies`."""
        engine = session.bind
        if not isinstance(engine, AsyncEngine):
            raise TypeError("the fast path needs a session bound to an engine (see `applies`)")
        async with engine.connect() as connection:
            driver = await driver_of(connection)
            if driver.is_in_transaction():
                raise RuntimeError(
                    "a connection fresh from the pool is in a transaction: the statement would "
                    "not commit on its own; set FASTPATH=off and re-check best_app/database/"
                    "fastpath.py against this SQLAlchemy"
                )
            row: asyncpg.Record | None = await run_on_driver(
                connection, driver, self._query.sql, "fetchrow", self._query.args(params)
            )
        return row
