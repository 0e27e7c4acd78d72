"""Database trouble is a 503 with Retry-After, never a hang or a 500; the service recovers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import text

from best_app.config import Settings
from best_app.database import Database, create_engine
from tests.utils.auth import authorized_app
from tests.utils.dbtools import database_of
from tests.utils.metrics import checked_out_here
from tests.utils.problems import assert_problem

# Nothing listens on port 1: connecting is refused at once.
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nothing"


@pytest.fixture(autouse=True)
async def pool_returns_to_zero() -> AsyncIterator[None]:
    """Each fault leaves the pool gauge where it found it (the apps here serve in this process,
    so the gauge is this process's): every connection given back, none uncounted twice."""
    before = checked_out_here()
    yield
    deadline = time.monotonic() + 5
    while checked_out_here() != before:
        assert time.monotonic() < deadline, f"checked out: {checked_out_here()}, before {before}"
        await asyncio.sleep(0.1)


async def test_database_down_gives_503_but_healthz_stays_up(
    make_settings: Callable[..., Settings], unique: Callable[[str], str]
) -> None:
    settings = make_settings(database_url=UNREACHABLE, db_pool_timeout=1)
    async with authorized_app(settings).test_app() as app:
        client = app.test_client()
        assert (await client.get("/healthz")).status_code == 200
        for response in (
            await client.get("/users"),
            await client.get(f"/users/{unique('u')}"),
            await client.post("/users", json={"username": unique("u")}),
            await client.get("/readyz"),
        ):
            await assert_problem(response, 503)
            assert response.headers["Retry-After"].isdigit()


async def test_pool_exhaustion_gives_503_within_the_timeout_then_recovers(
    make_settings: Callable[..., Settings], unique: Callable[[str], str]
) -> None:
    settings = make_settings(db_pool_size=1, db_max_overflow=0, db_pool_timeout=0.5)
    quart_app = authorized_app(settings)
    async with quart_app.test_app() as app:
        client = app.test_client()
        database = await database_of(quart_app)
        name = unique("u")
        async with database.engine.connect() as held:  # the only connection, held
            await held.execute(text("SELECT 1"))
            started = time.monotonic()
            responses = await asyncio.gather(
                client.get("/users"), client.post("/users", json={"username": name})
            )
            elapsed = time.monotonic() - started
            for response in responses:
                await assert_problem(response, 503)
                assert response.headers["Retry-After"]
        assert elapsed < 2.0
        # Released: everything works again, and the refused write was not half-done.
        assert (await client.get(f"/users/{name}")).status_code == 404
        assert (await client.post("/users", json={"username": name})).status_code == 201


async def test_engine_applies_the_statement_timeout(
    make_settings: Callable[..., Settings],
) -> None:
    engine = create_engine(make_settings(db_statement_timeout_ms=1234), pooled=False)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SHOW statement_timeout")) == "1234ms"
            assert await conn.scalar(text("SHOW application_name")) == "best_app"
    finally:
        await engine.dispose()


async def test_statement_timeout_is_503_not_500(
    make_settings: Callable[..., Settings], database_url: str, unique: Callable[[str], str]
) -> None:
    """A query the server cancels (here: waiting on a lock past the timeout) is a 503."""
    settings = make_settings(db_statement_timeout_ms=200)
    async with authorized_app(settings).test_app() as app:
        client = app.test_client()
        locker = create_engine(make_settings(), pooled=False)
        try:
            async with locker.begin() as conn:
                await conn.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
                response = await client.get(f"/users/{unique('u')}")
        finally:
            await locker.dispose()
        await assert_problem(response, 503)
        assert response.headers["Retry-After"]


async def _kill_the_pooled_connection(database: Database, settings: Settings) -> None:
    async with database.engine.connect() as conn:
        backend = await conn.scalar(text("SELECT pg_backend_pid()"))
    killer = create_engine(settings, pooled=False)
    try:
        async with killer.connect() as conn:
            killed = await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            assert killed
    finally:
        await killer.dispose()


async def test_a_connection_killed_under_a_borrowed_read_is_503_then_replaced(
    make_settings: Callable[..., Settings], unique: Callable[[str], str]
) -> None:
    """A read outside a block borrows a pool connection; a dead one must not stay in the pool."""
    settings = make_settings(db_pool_size=1, db_max_overflow=0)
    quart_app = authorized_app(settings)
    async with quart_app.test_app() as app:
        client = app.test_client()
        database = await database_of(quart_app)
        name = unique("u")
        assert (await client.post("/users", json={"username": name})).status_code == 201
        for path in (f"/users/{name}", f"/users/{name}/cars"):
            await _kill_the_pooled_connection(database, make_settings())
            await assert_problem(await client.get(path), 503)
            # The broken connection was dropped: the next request gets a new one.
            assert (await client.get(path)).status_code == 200
