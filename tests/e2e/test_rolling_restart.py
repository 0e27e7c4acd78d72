"""A rolling restart behind a real HAProxy (deploy/haproxy/haproxy.cfg) fails no request.

Two replicas (`best-app serve`, one process each) behind HAProxy; a mixed load of reads and
`POST /users/{u}/cars` runs through the proxy while each replica in turn gets SIGTERM, drains,
exits 0, starts again and is back in rotation. Not one request may fail, and every car
acknowledged with 201 must be in the database exactly once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.utils.auth import AUTH
from tests.utils.fleet import replicas_behind_haproxy
from tests.utils.load import Load, assert_stored_once, client
from tests.utils.server import server_env

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("haproxy_installed")]


CLIENTS = 6
LOAD_LIMIT = 120.0  # seconds: the load stops by then whatever happens


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
    with replicas_behind_haproxy(envs, tmp_path, "0") as fleet:
        proxy = fleet.proxy
        owners = [f"roll{uuid.uuid4().hex[:10]}" for _ in range(4)]
        load = Load(owners)
        async with httpx.AsyncClient(headers=AUTH, base_url=proxy.url, timeout=30) as http:
            for owner in owners:
                assert (await http.post("/users", json={"username": owner})).status_code == 201
            stop = asyncio.Event()
            clients = [asyncio.create_task(client(http, load, stop, n)) for n in range(CLIENTS)]
            started = time.monotonic()
            try:
                await asyncio.sleep(1.0)
                for i, env in enumerate(envs):
                    before = load.requests
                    await fleet.replace(i, env, "1")
                    assert load.requests > before, "no load while the replica restarted"
                    await asyncio.sleep(1.0)  # both replicas take load again
                    assert time.monotonic() - started < LOAD_LIMIT
            finally:
                stop.set()
                await asyncio.gather(*clients)

        assert load.failures == [], (load.failures[:20], load.statuses, proxy.log())
        assert load.requests > 100, load.statuses
        for replica in fleet.replicas:  # the restarted processes served requests through the proxy
            assert "/users/roll" in replica.log(), replica.log_path
        await assert_stored_once(database_url, load)
