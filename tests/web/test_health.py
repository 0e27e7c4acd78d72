"""Liveness and readiness."""

from __future__ import annotations

from collections.abc import Callable

from quart.typing import TestClientProtocol

from best_app import create_app
from best_app.config import Settings
from tests.utils.problems import assert_problem


async def test_healthz(client: TestClientProtocol) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok"}


async def test_readyz_when_migrated(client: TestClientProtocol) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ready"}


async def test_readyz_names_a_missing_migration(
    make_settings: Callable[..., Settings], empty_database_url: str
) -> None:
    async with create_app(make_settings(database_url=empty_database_url)).test_app() as app:
        response = await app.test_client().get("/readyz")
    problem = await assert_problem(response, 503)
    assert "not one this code serves" in problem["detail"]
    assert "no migrations" in problem["detail"]
    assert response.headers["Retry-After"]
