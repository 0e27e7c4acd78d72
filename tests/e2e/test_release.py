"""A release that carries a migration fails no request (docs/deployment.md, "Releases with a
migration").

Two replicas of this code (release N) behind a real HAProxy serve a mixed load of reads and
purchases from 32 clients. Release N+1's migration (one additive revision, written by the test:
tests/utils/releases.py) is applied with `best-app migrate` while they serve; then each replica
is replaced by one that knows that revision. Not one request may fail, every acknowledged
purchase is stored exactly once, and the old replicas stay ready until each is stopped.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.utils.auth import AUTH
from tests.utils.dbtools import migrate
from tests.utils.fleet import replicas_behind_haproxy
from tests.utils.load import Load, assert_stored_once, client
from tests.utils.releases import NEXT_REVISION, best_app_migrate, write_next_release
from tests.utils.server import server_env

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("haproxy_installed")]

CLIENTS = 32
LOAD_LIMIT = 120.0  # seconds: the load stops by then whatever happens


async def _watch_readiness(url: str, stop: asyncio.Event, seen: list[int]) -> None:
    """Every /readyz answer of one replica until `stop` (set just before it is stopped)."""
    async with httpx.AsyncClient(headers=AUTH, base_url=url, timeout=5) as http:
        while not stop.is_set():
            seen.append((await http.get("/readyz")).status_code)
            await asyncio.sleep(0.05)


async def _migrate(env: dict[str, str]) -> None:
    """Release N+1's migration step, as its Job or one-shot service runs it."""
    migrated = await asyncio.to_thread(best_app_migrate, env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert f"applied {NEXT_REVISION}" in migrated.stdout


def _assert_stayed_ready(readiness: list[list[int]]) -> None:
    """Release N's replicas answered /readyz 200 from start until each was stopped."""
    for i, seen in enumerate(readiness):
        assert seen, f"app{i + 1}'s readiness was never read"
        assert set(seen) == {200}, f"app{i + 1} (release N) left rotation: {seen}"


@pytest.mark.parametrize("via", ["direct", "pgbouncer"])
async def test_a_release_with_a_migration_fails_no_request(
    empty_database_url: str, via: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Directly and through PgBouncer; the migration on a direct connection
    (`MIGRATION_DATABASE_URL`), as the compose scale profile and the Kubernetes Job run it.
    A database of its own: release N+1's revision is applied to it."""
    database_url = empty_database_url
    await asyncio.to_thread(migrate, database_url)
    app_url, pooler = database_url, {}
    if via == "pgbouncer":
        app_url = request.getfixturevalue("pgbouncer").url_for(database_url)
        pooler = {"DB_POOLER": "pgbouncer"}
    release_n = [
        server_env(
            app_url,
            SHUTDOWN_DRAIN_SECONDS="2",
            GRACEFUL_TIMEOUT="10",
            **pooler,
        )
        for _ in range(2)
    ]
    next_release = write_next_release(tmp_path / "release-n+1")
    release_n1 = [{**env, **next_release} for env in release_n]
    with replicas_behind_haproxy(release_n, tmp_path, "n") as fleet:
        proxy, replicas = fleet.proxy, fleet.replicas  # `replace` swaps the list's items
        owners = [f"rel{uuid.uuid4().hex[:10]}" for _ in range(8)]
        load = Load(owners)
        stopping = [asyncio.Event() for _ in replicas]
        readiness: list[list[int]] = [[] for _ in replicas]
        async with httpx.AsyncClient(headers=AUTH, base_url=proxy.url, timeout=30) as http:
            for owner in owners:
                assert (await http.post("/users", json={"username": owner})).status_code == 201
            stop = asyncio.Event()
            watchers = [
                asyncio.create_task(_watch_readiness(replica.url, stopping[i], readiness[i]))
                for i, replica in enumerate(replicas)
            ]
            clients = [asyncio.create_task(client(http, load, stop, n)) for n in range(CLIENTS)]
            started = time.monotonic()
            try:
                await asyncio.sleep(1.0)
                before = load.requests
                await _migrate({**release_n1[0], "MIGRATION_DATABASE_URL": database_url})
                await asyncio.sleep(1.0)  # release N serves on release N+1's schema
                assert load.requests > before, "no load while migrating"
                for i, env in enumerate(release_n1):
                    before = load.requests
                    stopping[i].set()
                    await watchers[i]
                    await fleet.replace(i, env, "n+1")
                    assert load.requests > before, "no load while the replica was replaced"
                    await asyncio.sleep(1.0)
                    assert time.monotonic() - started < LOAD_LIMIT
            finally:
                stop.set()
                for event in stopping:
                    event.set()
                await asyncio.gather(*clients, *watchers)
            for replica in replicas:  # release N+1 is ready on its own head
                assert (await http.get(f"{replica.url}/readyz")).status_code == 200

        assert load.failures == [], (load.failures[:20], load.statuses, proxy.log())
        assert load.requests > 300, load.statuses
        _assert_stayed_ready(readiness)
        for replica in replicas:
            assert f"/users/{owners[0][:3]}" in replica.log(), replica.log_path
        await assert_stored_once(database_url, load)
