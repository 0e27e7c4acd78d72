"""End-to-end fixtures: best_app behind a real Hypercorn, talking over real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import Server, run_server, server_env


@pytest.fixture(scope="session")
def live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One shared server for tests that only need a running API (fuzzing, properties, races)."""
    log = tmp_path_factory.mktemp("live") / "server.log"
    with run_server(server_env(database_url, WEB_CONCURRENCY="2"), log) as server:
        yield server


@pytest.fixture
def server_log(tmp_path: Path) -> Path:
    return tmp_path / "server.log"
