"""What an operator reads: access and app log lines, and a Prometheus scrape, from real servers."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.utils.metrics import metric
from tests.utils.server import REPLICA, run_server, server_env

pytestmark = pytest.mark.slow
PRODUCTION = {"APP_ENV": "production", "SECRET_KEY": "k" * 40, "API_TOKENS": "log-token-123"}


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_production_logs_one_json_line_per_request(database_url: str, server_log: Path) -> None:
    env = server_env(database_url, TRUSTED_PROXIES="127.0.0.1/32", **PRODUCTION)
    name = f"log{uuid.uuid4().hex[:8]}"
    with run_server(env, server_log) as server, httpx.Client(base_url=server.url) as http:
        http.post(
            "/users",
            json={"username": name},
            headers={"Authorization": "Bearer log-token-123", "X-Request-ID": "req-created-1"},
        )
        http.get(f"/users/{name}", headers={"X-Forwarded-For": "203.0.113.7, 127.0.0.1"})
        http.get("/nowhere")
    text = server.log()
    lines = _json_lines(text)
    assert all(line.strip().startswith("{") for line in text.splitlines() if line.strip())
    access = [line for line in lines if line["logger"] == "hypercorn.access"]
    by_path = {(a["method"], a["path"]): a for a in access}
    created = by_path[("POST", "/users")]
    assert created["status"] == 201
    assert created["request_id"] == "req-created-1"
    assert isinstance(created["duration_ms"], float)
    assert created["client"] == "127.0.0.1"
    # From a trusted proxy, the client is the nearest untrusted X-Forwarded-For hop.
    assert by_path[("GET", f"/users/{name}")]["client"] == "203.0.113.7"
    assert by_path[("GET", "/nowhere")]["status"] == 404
    assert len(access) == 4  # the readiness probe of run_server, plus our three
    assert any(line["logger"] == "hypercorn.error" for line in lines)  # Hypercorn's own, as JSON
    assert "log-token-123" not in text


def test_access_lines_reach_the_log_while_serving(database_url: str, server_log: Path) -> None:
    """Access lines are written in batches, but flushed within a fraction of a second."""
    with run_server(server_env(database_url, **PRODUCTION), server_log) as server:
        httpx.get(f"{server.url}/hello/say", headers={"X-Request-ID": "live-1"})
        deadline = time.monotonic() + 2
        while not any(a.get("request_id") == "live-1" for a in _json_lines(server.log())):
            assert time.monotonic() < deadline, "the access line was not flushed while serving"
            time.sleep(0.05)


def test_untrusted_peers_cannot_spoof_their_address(database_url: str, server_log: Path) -> None:
    with run_server(server_env(database_url, **PRODUCTION), server_log) as server:
        httpx.get(f"{server.url}/healthz", headers={"X-Forwarded-For": "198.51.100.1"})
    access = [a for a in _json_lines(server.log()) if a["logger"] == "hypercorn.access"]
    assert {a["client"] for a in access} == {"127.0.0.1"}


def test_warnings_carry_the_request_id(server_log: Path) -> None:
    env = server_env("postgresql://postgres@127.0.0.1:1/none", DB_POOL_TIMEOUT="1", **PRODUCTION)
    with run_server(env, server_log) as server:
        response = httpx.get(f"{server.url}/users", headers={"X-Request-ID": "outage-42"})
        assert response.status_code == 503
    warnings = [line for line in _json_lines(server.log()) if line["level"] == "WARNING"]
    assert warnings
    assert all(line["request_id"] == "outage-42" for line in warnings)


def test_development_logs_are_readable_text(database_url: str, server_log: Path) -> None:
    with run_server(server_env(database_url, APP_ENV="development"), server_log) as server:
        httpx.get(f"{server.url}/hello/say", headers={"X-Request-ID": "dev-1"})
    line = next(line for line in server.log().splitlines() if "/hello/say" in line)
    assert re.search(r"INFO\s+hypercorn\.access: GET /hello/say 200 [\d.]+ms 127\.0\.0\.1", line)
    assert not line.startswith("{")


@pytest.mark.parametrize(
    ("server", "workers"), [("hypercorn", 2), (REPLICA, 1), (REPLICA, 2)],
    ids=["hypercorn-2-workers", "best-app-serve", "best-app-serve-2-workers"],
)  # fmt: skip
def test_metrics_count_what_was_just_served(
    database_url: str, server_log: Path, server: str, workers: int
) -> None:
    """Every way best_app is deployed scrapes the requests it just answered: Hypercorn's
    workers (summed), and `best-app serve` (the image's and the manifests' command), one
    process or many. prometheus_client picks its mode when first imported: the scrape must
    read the mode the counters were written in."""
    env = server_env(database_url, WEB_CONCURRENCY=str(workers))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with run_server(env, server_log, server=server) as running:
        server_url = running.url
        with httpx.Client(base_url=server_url) as http:
            for _ in range(40):  # new connections spread over the workers
                httpx.get(f"{server_url}/users/nobody-{uuid.uuid4().hex[:6]}")
            # A request is counted once its answer is sent: the last one may be counted just
            # after its client has read it. Wait (bounded) for all 40, then check every scrape.
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                seen = metric(http.get("/metrics").text, "best_app_http_requests_total",
                              route="/users/<username:username>", status="404")  # fmt: skip
                if seen >= 40:
                    break
                time.sleep(0.05)
            scrapes = [http.get("/metrics") for _ in range(6)]
        pids = set()
        for scrape in scrapes:
            assert scrape.status_code == 200
            assert scrape.headers["content-type"].startswith("text/plain")
            text = scrape.text
            assert metric(
                text, "best_app_http_requests_total", route="/users/<username:username>",
                status="404",
            ) == 40  # fmt: skip
            assert metric(text, "best_app_http_request_duration_seconds_count", method="GET") >= 40
            assert "best_app_db_pool_checked_out" in text
            assert "best_app_db_pool_timeouts_total" in text
            pids |= set(re.findall(r'best_app_process_resident_memory_bytes\{pid="(\d+)"\}', text))
    if workers > 1:
        assert len(pids) == workers  # each worker reports its own process figures


def test_metrics_token_protects_the_scrape(database_url: str, server_log: Path) -> None:
    env = server_env(database_url, METRICS_TOKEN="scrape-me")
    with run_server(env, server_log) as server:
        assert httpx.get(f"{server.url}/metrics").status_code == 401
        wrong = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert ok.status_code == 200
        assert "best_app_http_requests_total" in ok.text
