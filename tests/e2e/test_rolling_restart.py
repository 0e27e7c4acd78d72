"""A rolling restart behind a real HAProxy (deploy/haproxy/haproxy.cfg) fails no request.

Two replicas (`best-app serve`, one process each) behind HAProxy; a mixed load of reads and
`POST /users/{u}/cars` runs through the proxy while each replica in turn gets SIGTERM, drains,
exits 0, starts again and is back in rotation. Not one request may fail, and every car
acknowledged with 201 must be in the database exactly once.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.utils.dbtools import plain_dsn
from tests.utils.haproxy import haproxy_binary, run_haproxy
from tests.utils.requires import require
from tests.utils.server import REPLICA, Server, run_server, server_env

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _haproxy_installed() -> None:
    require(
        haproxy_binary() is not None,
        "haproxy is not installed (apt-get install haproxy; .ci/run installs it)",
    )


CLIENTS = 6
LOAD_LIMIT = 120.0  # seconds: the load stops by then whatever happens


@dataclass
class Load:
    owners: list[str]
    statuses: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    acknowledged: dict[str, int] = field(default_factory=dict)  # car model -> car id
    requests: int = 0

    def count(self, kind: str, status: int) -> None:
        key = f"{kind} {status}"
        self.statuses[key] = self.statuses.get(key, 0) + 1
        self.requests += 1


async def _client(http: httpx.AsyncClient, load: Load, stop: asyncio.Event, n: int) -> None:
    for i in itertools.count():
        if stop.is_set():
            return
        owner = load.owners[(n + i) % len(load.owners)]
        kind = ("read user", "read cars", "buy car")[i % 3]
        model = f"m{n}-{i}-{uuid.uuid4().hex[:6]}"
        try:
            if kind == "buy car":
                response = await http.post(f"/users/{owner}/cars", json={"model": model})
            elif kind == "read cars":
                response = await http.get(f"/users/{owner}/cars", params={"limit": 5})
            else:
                response = await http.get(f"/users/{owner}")
        except httpx.HTTPError as error:
            load.failures.append(f"{kind}: {type(error).__name__}: {error}")
            continue
        load.count(kind, response.status_code)
        expected = 201 if kind == "buy car" else 200
        if response.status_code != expected:
            load.failures.append(f"{kind}: {response.status_code} {response.text[:200]}")
        elif kind == "buy car":
            load.acknowledged[model] = response.json()["id"]
        await asyncio.sleep(0.01)


async def _in_db(database_url: str, owners: list[str]) -> list[tuple[str, int]]:
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        rows = await conn.fetch(
            "SELECT c.model, c.id FROM cars c JOIN users u ON u.id = c.owner_id "
            "WHERE u.username = ANY($1::text[])",
            owners,
        )
    finally:
        await conn.close()
    return [(row["model"], row["id"]) for row in rows]


async def test_rolling_restart_behind_haproxy_fails_no_request(
    database_url: str, route: dict[str, str], tmp_path: Path
) -> None:
    """Directly and through PgBouncer (`route`): the replicas' way to the database."""
    pooler = {"DB_POOLER": route["db_pooler"]} if "db_pooler" in route else {}
    envs = [
        server_env(
            route.get("database_url", database_url),
            SHUTDOWN_DRAIN_SECONDS="2",
            GRACEFUL_TIMEOUT="10",
            **pooler,
        )
        for _ in range(2)
    ]
    with ExitStack() as stack:
        replicas: list[Server] = [
            stack.enter_context(run_server(env, tmp_path / f"app{i}-0.log", server=REPLICA))
            for i, env in enumerate(envs, start=1)
        ]
        proxy = stack.enter_context(
            run_haproxy([f"127.0.0.1:{env['PORT']}" for env in envs], tmp_path)
        )
        owners = [f"roll{uuid.uuid4().hex[:10]}" for _ in range(4)]
        load = Load(owners)
        async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as http:
            for owner in owners:
                assert (await http.post("/users", json={"username": owner})).status_code == 201
            stop = asyncio.Event()
            clients = [asyncio.create_task(_client(http, load, stop, n)) for n in range(CLIENTS)]
            started = time.monotonic()
            try:
                await asyncio.sleep(1.0)
                for i, env in enumerate(envs):
                    name = f"app{i + 1}"
                    before = load.requests
                    assert await asyncio.to_thread(replicas[i].terminate) == 0
                    replicas[i] = stack.enter_context(
                        run_server(env, tmp_path / f"{name}-1.log", server=REPLICA)
                    )
                    await asyncio.to_thread(proxy.wait_for, name, "UP")
                    assert load.requests > before, "no load while the replica restarted"
                    await asyncio.sleep(1.0)  # both replicas take load again
                    assert time.monotonic() - started < LOAD_LIMIT
            finally:
                stop.set()
                await asyncio.gather(*clients)

        assert load.failures == [], (load.failures[:20], load.statuses, proxy.log())
        assert load.requests > 100, load.statuses
        for replica in replicas:  # the restarted processes served requests through the proxy
            assert "/users/roll" in replica.log(), replica.log_path
        in_db = await _in_db(database_url, owners)
        models = [model for model, _ in in_db]
        assert len(models) == len(set(models)), "a car was stored twice"
        assert dict(in_db) == load.acknowledged
