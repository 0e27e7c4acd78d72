"""Rate limits between real replicas: two servers sharing one Redis count one login limit,
and a server whose Redis is gone still serves reads but refuses logins with 503."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import httpx
import pytest

from tests.utils.auth import GOOD_PASSWORD
from tests.utils.metrics import metric
from tests.utils.requires import require
from tests.utils.server import run_server, server_env


def _redis_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


def _login(url: str, username: str, password: str) -> httpx.Response:
    body = {"username": username, "password": password}
    return httpx.post(f"{url}/sessions", json=body, timeout=30)


@pytest.mark.slow
def test_two_replicas_share_the_login_limit(database_url: str, tmp_path: Path) -> None:
    require(_redis_answers(), "no Redis answers on 127.0.0.1:6379 (apt-get install redis-server)")
    shared = {
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "RATE_LIMIT_PREFIX": f"best_app:e2e:{uuid.uuid4().hex}:",
        "RATE_LIMIT_LOGIN": "3/minute",
    }
    name = f"rl{uuid.uuid4().hex[:10]}"
    with (
        run_server(server_env(database_url, **shared), tmp_path / "a.log") as first,
        run_server(server_env(database_url, **shared), tmp_path / "b.log") as second,
    ):
        body = {"username": name, "password": GOOD_PASSWORD}
        assert httpx.post(f"{first.url}/users", json=body, timeout=30).status_code == 201
        urls = (first.url, second.url)
        failures = [_login(urls[n % 2], name, "a wrong password").status_code for n in range(3)]
        assert failures == [401, 401, 401]
        for url in urls:  # the limit is the service's: either replica refuses, right password too
            refused = _login(url, name, GOOD_PASSWORD)
            assert refused.status_code == 429
            assert refused.headers["content-type"] == "application/problem+json"
            assert int(refused.headers["Retry-After"]) >= 1
            assert refused.headers["RateLimit-Limit"] == "3"


@pytest.mark.slow
def test_with_redis_unreachable_reads_go_on_and_logins_are_503(
    database_url: str, tmp_path: Path
) -> None:
    env = server_env(database_url, REDIS_URL="redis://127.0.0.1:1/0")  # a closed port
    with run_server(env, tmp_path / "server.log") as server:
        assert httpx.get(f"{server.url}/users", timeout=30).status_code == 200
        refused = _login(server.url, f"rl{uuid.uuid4().hex[:10]}", GOOD_PASSWORD)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"].isdigit()
        scrape = httpx.get(f"{server.url}/metrics", timeout=30).text
        assert metric(scrape, "best_app_rate_limit_store_errors_total") >= 2  # read and login
