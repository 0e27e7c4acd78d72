"""Shared fixtures: a real PostgreSQL (TEST_DATABASE_URL), a migrated database, apps, sessions."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from quart.typing import TestAppProtocol, TestClientProtocol
from sqlalchemy.ext.asyncio import AsyncSession

from best_app import create_app
from best_app.config import Settings
from best_app.database import create_engine
from tests.dbtools import fresh_database, migrate


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


@pytest.fixture
def empty_database_url(server_url: str) -> Iterator[str]:
    with fresh_database(server_url, prefix="best_app_empty") as url:
        yield url


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"app_env": "testing", "database_url": database_url}
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[TestAppProtocol]:
    async with create_app(settings).test_app() as test_app:
        yield test_app


@pytest.fixture
def client(app: TestAppProtocol) -> TestClientProtocol:
    return app.test_client()


@pytest.fixture
async def session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session inside an outer transaction that is rolled back: nothing a test writes stays.

    Repository functions commit; with `create_savepoint` those commits release savepoints.
    """
    engine = create_engine(settings, pooled=False)
    async with engine.connect() as conn:
        outer = await conn.begin()
        db = AsyncSession(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield db
        finally:
            await db.close()
            await outer.rollback()
    await engine.dispose()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Unique names, so tests never see each other's rows."""

    def make(prefix: str = "u") -> str:
        return f"{prefix}{uuid.uuid4().hex[:12]}"

    return make
