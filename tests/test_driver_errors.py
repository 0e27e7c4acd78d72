"""Driver errors: only database failures are 503s, and a connection the server ended is replaced."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from best_app.config import Settings
from tests.utils.auth import authorized_app
from tests.utils.dbtools import users_table_locked
from tests.utils.faults import (
    READ_WAITING_ON_LOCK,
    backends,
    client_with_user,
    server_connection,
)
from tests.utils.problems import assert_problem


async def test_an_oserror_outside_the_driver_is_a_500_not_a_503(
    make_settings: Callable[..., Settings],
) -> None:
    app = authorized_app(make_settings())

    @app.get("/raise-an-oserror")
    async def raise_an_oserror() -> str:
        raise FileNotFoundError("a file, not the database")

    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/raise-an-oserror")
    await assert_problem(response, 500)
    assert "Retry-After" not in response.headers


async def test_a_backend_terminated_mid_statement_is_one_503_then_the_connection_is_replaced(
    settings: Settings, database_url: str, unique: Callable[[str], str]
) -> None:
    """The server ends the connection while a read outside a block waits on a lock (FATAL
    57P01; through PgBouncer, its error for the crashed server connection): that request is a
    503, and the only pooled connection is replaced, so the next request is served. Directly
    and through PgBouncer (`settings` runs both routes)."""
    settings = settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 0})
    name = unique("u")
    async with (
        server_connection(database_url) as sampler,
        client_with_user(settings, name) as client,
    ):
        async with users_table_locked(database_url):
            waiting = asyncio.ensure_future(client.get(f"/users/{name}"))
            deadline = time.monotonic() + 5
            while not await backends(sampler, database_url, READ_WAITING_ON_LOCK, terminate=True):
                assert time.monotonic() < deadline, "the read never waited on the lock"
                await asyncio.sleep(0.02)
            await assert_problem(await waiting, 503)
        assert (await client.get(f"/users/{name}")).status_code == 200
