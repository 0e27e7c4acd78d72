"""A migration behind a long transaction never stalls traffic (best_app/ops/migrations.py).

A transaction holds a lock on `users` (it has read it) for 10 s. Release N+1's migration alters
`users`: its ALTER TABLE queues for the lock, and every request on `users` would queue behind
it. With `lock_timeout` (2 s by default) it gives up, retries with backoff, and lands once the
long transaction ends; meanwhile no request on `users` fails, and none waits longer than
`lock_timeout` + 1 s.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.utils.auth import AUTH
from tests.utils.dbtools import migrate, users_table_read
from tests.utils.releases import NEXT_REVISION, best_app_migrate, write_next_release
from tests.utils.server import REPLICA, run_server, server_env

pytestmark = pytest.mark.slow

HOLD = 10.0  # seconds the long transaction keeps its lock
LOCK_TIMEOUT = 2.0  # MIGRATION_LOCK_TIMEOUT_MS's default


async def _requests_on_users(
    url: str, stop: asyncio.Event, took: list[float], failures: list[str]
) -> None:
    async with httpx.AsyncClient(headers=AUTH, base_url=url, timeout=30) as http:
        while not stop.is_set():
            name = f"lk{uuid.uuid4().hex[:10]}"
            for method, path, body in (
                ("POST", "/users", {"username": name}),
                ("GET", f"/users/{name}", None),
            ):
                started = time.monotonic()
                response = await http.request(method, path, json=body)
                took.append(time.monotonic() - started)
                if response.status_code not in {200, 201}:
                    failures.append(f"{method} {path}: {response.status_code} {response.text}")
            await asyncio.sleep(0.05)


async def test_a_migration_behind_a_long_transaction_retries_and_traffic_flows(
    empty_database_url: str, tmp_path: Path, server_log: Path
) -> None:
    await asyncio.to_thread(migrate, empty_database_url)  # release N's schema
    env = server_env(empty_database_url)
    next_release = {**env, **write_next_release(tmp_path / "release-n+1")}
    took: list[float] = []
    failures: list[str] = []
    with run_server(env, server_log, server=REPLICA) as server:
        stop = asyncio.Event()
        traffic = [
            asyncio.create_task(_requests_on_users(server.url, stop, took, failures))
            for _ in range(4)
        ]
        try:
            async with users_table_read(empty_database_url):
                started = time.monotonic()
                migration = asyncio.create_task(asyncio.to_thread(best_app_migrate, next_release))
                await asyncio.sleep(HOLD)
                assert not migration.done(), "the migration did not wait for the lock"
            migrated = await asyncio.wait_for(migration, 30)
            landed = time.monotonic() - started
            await asyncio.sleep(0.5)
        finally:
            stop.set()
            await asyncio.gather(*traffic)

    assert failures == []
    assert len(took) > 50
    assert max(took) <= LOCK_TIMEOUT + 1, sorted(took)[-5:]
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "a lock is held by another transaction" in migrated.stdout  # it gave up and retried
    assert f"applied {NEXT_REVISION}" in migrated.stdout
    assert HOLD <= landed <= HOLD + 10
