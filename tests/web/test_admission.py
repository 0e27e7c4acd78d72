"""`best_app.web.admission`: requests beyond MAX_REQUESTS_IN_FLIGHT get a 503 at once, without
waiting for the pool; health, readiness and metrics are never refused; the default limit is
what the pool serves within its timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY

from best_app import create_app
from best_app.config import Settings
from best_app.web.admission import Admission, admission_limit, default_limit
from tests.utils.dbtools import users_table_locked
from tests.utils.problems import assert_problem


def _refused() -> float:
    return REGISTRY.get_sample_value("best_app_http_requests_refused_total") or 0.0


@pytest.mark.parametrize(
    ("pool", "overflow", "timeout", "limit"),
    [(10, 10, 5.0, 40), (1, 0, 0.5, 2), (2, 0, 5.0, 4), (20, 0, 2.5, 40)],
)
def test_the_default_limit_is_what_the_pool_serves_within_its_timeout(
    make_settings: Callable[..., Settings], pool: int, overflow: int, timeout: float, limit: int
) -> None:
    """C x (1 + T / h) with the hold h budgeted at T: twice the pool, whatever T."""
    settings = make_settings(db_pool_size=pool, db_max_overflow=overflow, db_pool_timeout=timeout)
    assert default_limit(settings) == limit
    assert admission_limit(settings) == limit
    assert admission_limit(make_settings(max_requests_in_flight=7)) == 7
    assert admission_limit(make_settings(max_requests_in_flight=0)) is None


async def test_requests_beyond_the_limit_are_503_at_once_and_health_is_never_refused(
    make_settings: Callable[..., Settings], database_url: str, unique: Callable[[str], str]
) -> None:
    """Two requests wait on a locked table, holding the two places; a third is refused at
    once (the pool, with connections to spare, is never asked); `/healthz`, `/readyz` and
    `/metrics` are answered meanwhile; once the two finish, requests are served again."""
    settings = make_settings(max_requests_in_flight=2, db_pool_timeout=10)
    async with create_app(settings).test_app() as app:
        client = app.test_client()
        name = unique("u")
        refused_before = _refused()
        async with users_table_locked(database_url):
            held = [asyncio.create_task(client.get(f"/users/{name}")) for _ in range(2)]
            await asyncio.sleep(0.5)
            assert not any(task.done() for task in held)
            started = time.monotonic()
            response = await client.get("/users")
            assert time.monotonic() - started < 0.5
            await assert_problem(response, 503, type="urn:best-app:problem:overloaded")
            assert response.headers["Retry-After"].isdigit()
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert _refused() == refused_before + 1
            for path in ("/healthz", "/readyz", "/metrics"):
                assert (await client.get(path)).status_code == 200, path
        assert [(await task).status_code for task in held] == [404, 404]
        assert (await client.get("/users")).status_code == 200
        assert _refused() == refused_before + 1


async def test_no_limit_when_it_is_0(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(max_requests_in_flight=0))
    assert not isinstance(app.asgi_app.app, Admission)  # type: ignore[attr-defined]  # Edge's
    app = create_app(make_settings())
    assert isinstance(app.asgi_app.app, Admission)  # type: ignore[attr-defined]  # Edge's
