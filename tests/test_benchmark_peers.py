"""`scripts/bench --peers`: each peer serves the benchmark's endpoints with the answers best_app
gives (statuses and the fields of its bodies), so a comparison measures the same work."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from scripts.benchmark.run import PEERS, Comparison
from tests.utils.server import ROOT, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(params=PEERS, ids=lambda peer: peer.name)
def peer(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[str]:
    """The peer serving the test database; its base URL."""
    comparison: Comparison = request.param
    fill = {
        "port": free_port(),
        "database_url": make_url(database_url)
        .set(drivername="postgresql+asyncpg")
        .render_as_string(hide_password=False),
    }
    env = {key: value.format(**fill) for key, value in comparison.env.items()}
    command = [part.format(**fill) for part in comparison.command]
    url = f"http://127.0.0.1:{fill['port']}"
    with (tmp_path / "peer.log").open("w") as log:
        process = subprocess.Popen(  # noqa: S603 - the benchmark's own command line
            command, cwd=ROOT, env={"PATH": "/usr/bin:/bin", **env}, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "peer.log").read_text()
            try:
                httpx.get(f"{url}/hello/say", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, (tmp_path / "peer.log").read_text()
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_a_peer_answers_the_benchmarks_endpoints_as_best_app_does(
    peer: str, unique: Callable[[str], str]
) -> None:
    name = unique("p")
    with httpx.Client(base_url=peer, timeout=10) as http:
        hello = http.get("/hello/say")
        assert (hello.status_code, hello.text) == (200, "Hello XY!")
        assert http.post("/users", json={"username": name}).status_code == 201
        existing = http.post("/users", json={"username": name})
        assert existing.status_code == 200
        user = http.get(f"/users/{name}").json()
        assert user == existing.json()
        assert set(user) == {"id", "username", "role", "created_at"}
        bought = http.post(f"/users/{name}/cars", json={"model": "Golf"})
        assert bought.status_code == 201
        assert bought.json() == {"id": bought.json()["id"], "model": "Golf", "owner": user["id"]}
        assert http.get(f"/users/{name}/cars").json() == {"items": [bought.json()], "next": None}
        assert http.get(f"/users/{unique('nobody')}").status_code == 404
