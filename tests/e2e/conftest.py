"""End-to-end fixtures: best_app behind a real Hypercorn, talking over real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.server import Server, run_server, server_env


@pytest.fixture(scope="session")
def live_server(
    database_url: str, route: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One shared server for tests that only need a running API (fuzzing, properties, races),
    once per route to the database (directly, and through PgBouncer)."""
    log = tmp_path_factory.mktemp("live") / "server.log"
    # No admission limit: the races send up to 500 requests at once and each must be served
    # (what the limit does under such bursts is tests/e2e/test_overload.py's business).
    env = server_env(
        route.get("database_url", database_url), WEB_CONCURRENCY="2", MAX_REQUESTS_IN_FLIGHT="0"
    )
    # Fuzzers and load loops are one client: the limits have tests of their own.
    env.update(RATE_LIMIT_DEFAULT="100000/second", RATE_LIMIT_LOGIN="100000/second")
    if "db_pooler" in route:
        env["DB_POOLER"] = route["db_pooler"]
    with run_server(env, log) as server:
        yield server


@pytest.fixture
def server_log(tmp_path: Path) -> Path:
    return tmp_path / "server.log"
