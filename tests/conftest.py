"""Shared fixtures: a real PostgreSQL (TEST_DATABASE_URL), a migrated database, apps, sessions."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Protocol, TypeVar

import pytest
from quart import Quart
from quart.typing import TestAppProtocol, TestClientProtocol
from sqlalchemy.ext.asyncio import AsyncSession

from best_app.config import Settings
from best_app.database import Database
from scripts.pgbouncer import PgBouncer, pgbouncer_binary, run_pgbouncer
from tests.utils.auth import TEST_TOKEN, authorized_app
from tests.utils.dbtools import fresh_database, migrate
from tests.utils.haproxy import haproxy_binary
from tests.utils.requires import require

T = TypeVar("T")


@pytest.fixture(scope="session")
def server_url() -> str:
    """A maintenance database on the test server; test databases are created beside it."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.exit(
            "TEST_DATABASE_URL is not set: run scripts/test (it starts an embedded PostgreSQL), "
            "or point it at a server where this user may CREATE DATABASE",
            returncode=2,
        )
    return url


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A database migrated to head, shared by the run; tests use unique names, never truncate."""
    with fresh_database(server_url) as url:
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def pgbouncer(server_url: str) -> Iterator[PgBouncer]:
    """A real PgBouncer in transaction pool mode in front of the test server."""
    require(
        pgbouncer_binary() is not None,
        "pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)",
    )
    with run_pgbouncer(server_url) as bouncer:
        yield bouncer


@pytest.fixture(scope="session")
def haproxy_installed() -> None:
    """HAProxy is on this machine (tests through the shipped deploy/haproxy/haproxy.cfg)."""
    require(
        haproxy_binary() is not None,
        "haproxy is not installed (apt-get install haproxy; .ci/run installs it)",
    )


@pytest.fixture(scope="session", params=["direct", "pgbouncer"])
def route(request: pytest.FixtureRequest, database_url: str) -> dict[str, str]:
    """How the app reaches the test database: directly, or through PgBouncer with
    `DB_POOLER=pgbouncer`. The API suite, the races and the fuzzing run both ways."""
    if request.param == "direct":
        return {}
    bouncer: PgBouncer = request.getfixturevalue("pgbouncer")
    return {"database_url": bouncer.url_for(database_url), "db_pooler": "pgbouncer"}


@pytest.fixture
def empty_database_url(server_url: str) -> Iterator[str]:
    with fresh_database(server_url, prefix="best_app_empty") as url:
        yield url


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "app_env": "testing",
            "database_url": database_url,
            "api_tokens": TEST_TOKEN,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings], route: dict[str, str]) -> Settings:
    return make_settings(**route)


@pytest.fixture
def quart_app(settings: Settings) -> Quart:
    """The app itself (its config, its ASGI callable); the `app` fixture serves this one.
    Its requests carry the test service token unless they carry an `Authorization` of their
    own (`tests.utils.auth`)."""
    return authorized_app(settings)


@pytest.fixture
async def app(quart_app: Quart) -> AsyncIterator[TestAppProtocol]:
    async with quart_app.test_app() as test_app:
        yield test_app


@pytest.fixture
def client(app: TestAppProtocol) -> TestClientProtocol:
    return app.test_client()


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    """The app's own `Database`, connected: the engine and sessions exactly as production."""
    db = Database(settings)
    await db.connect()
    try:
        yield db
    finally:
        await db.disconnect()


class Call(Protocol):
    async def __call__(
        self, function: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any
    ) -> T: ...


@pytest.fixture
def call(database: Database) -> Call:
    """`await call(function, *args)`: one repository call in a session of its own, as each
    request has (a write's `session.begin()` needs a session that has not begun yet)."""

    async def run(function: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        async with database.new_session() as db:
            return await function(db, *args, **kwargs)

    return run


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    """A session as a request gets one: what a repository function commits stays committed
    (tests use unique names instead of rolling back)."""
    async with database.new_session() as db:
        yield db


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Unique names, so tests never see each other's rows."""

    def make(prefix: str = "u") -> str:
        return f"{prefix}{uuid.uuid4().hex[:12]}"

    return make
