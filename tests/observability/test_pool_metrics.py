"""The pool gauges count what is checked out, through a PgBouncer restart too."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from best_app.config import Settings
from best_app.database import create_engine
from best_app.observability.metrics import instrument_pool
from scripts.pgbouncer import pgbouncer_binary, run_pgbouncer
from tests.utils.metrics import checked_out_here
from tests.utils.server import free_port


async def test_a_failed_reconnect_does_not_count_a_connection_returned(
    server_url: str, database_url: str, make_settings: Callable[..., Settings]
) -> None:
    """PgBouncer stops under a pooled connection: the next use fails (the connection is
    invalidated and returned), and so does the one after, whose reconnect is refused: SQLAlchemy
    returns that entry with a `checkin` whose `checkout` never fired. The gauge stays at its
    count (it went one lower per refused reconnect), and after the restart all is served."""
    if pgbouncer_binary() is None and not os.environ.get("CI"):
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)")
    port = free_port()
    with run_pgbouncer(server_url, port=port) as bouncer:
        settings = make_settings(
            database_url=bouncer.url_for(database_url), db_pooler="pgbouncer",
            db_pool_size=1, db_max_overflow=0, db_pool_timeout=2,
        )  # fmt: skip
        engine = create_engine(settings)
        instrument_pool(engine)
        before = checked_out_here()
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
            assert checked_out_here() == before + 1
    try:
        for _ in range(3):  # the lost connection, then refused reconnects
            with pytest.raises(DBAPIError):
                async with engine.connect() as conn:
                    await conn.scalar(text("SELECT 1"))
            assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
            assert checked_out_here() == before
        with run_pgbouncer(server_url, port=port):  # restarted
            async with engine.connect() as conn:
                assert await conn.scalar(text("SELECT 1")) == 1
                assert checked_out_here() == before + 1
            assert checked_out_here() == before
    finally:
        await engine.dispose()
