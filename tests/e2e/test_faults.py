"""Faults against a real Hypercorn: pool exhaustion, database outage, SIGTERM mid-request."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.utils.auth import AUTH
from tests.utils.dbtools import migrate, users_table_locked
from tests.utils.metrics import assert_pool_returns_to_zero, metric
from tests.utils.server import ROOT, run_server, server_env

pytestmark = pytest.mark.slow


async def test_pool_exhaustion_is_503_then_recovers(database_url: str, server_log: Path) -> None:
    # No admission limit (it would refuse the five before the pool is asked): the pool's own
    # timeout is what this test is about.
    env = server_env(
        database_url, DB_POOL_SIZE="1", DB_MAX_OVERFLOW="0", DB_POOL_TIMEOUT="0.5",
        MAX_REQUESTS_IN_FLIGHT="0",
    )  # fmt: skip
    with run_server(env, server_log) as server:
        async with httpx.AsyncClient(headers=AUTH, base_url=server.url, timeout=30) as http:
            name = f"pool{uuid.uuid4().hex[:10]}"
            async with users_table_locked(database_url):
                holder = asyncio.create_task(http.get(f"/users/{name}"))
                await asyncio.sleep(0.3)  # the holder has the only connection, waiting on the lock
                started = time.monotonic()
                others = await asyncio.gather(*(http.get("/users") for _ in range(5)))
                elapsed = time.monotonic() - started
                for response in others:
                    assert response.status_code == 503
                    assert response.headers["content-type"] == "application/problem+json"
                    assert response.headers["Retry-After"].isdigit()
                assert elapsed < 0.5 + 1.0  # pool timeout, plus scheduling slack
                # Busy is not broken: the readiness check has its own connection, so a load
                # balancer keeps a saturated replica in rotation (all of them, under overload).
                started = time.monotonic()
                ready = await http.get("/readyz")
                assert ready.status_code == 200, ready.text
                assert time.monotonic() - started < 0.5  # no wait behind the request pool
                assert not holder.done()
            assert (await holder).status_code == 404  # released: the holder finishes normally
            after = await asyncio.gather(*(http.get("/users") for _ in range(5)))
            assert [r.status_code for r in after] == [200] * 5
        assert_pool_returns_to_zero(server.url)


@pytest.mark.parametrize("read", ["list", "hot"])
@pytest.mark.parametrize("fastpath", ["off", "http"])
async def test_clients_that_leave_mid_query_leave_the_pool_whole(
    database_url: str, server_log: Path, fastpath: str, read: str
) -> None:
    """Clients that disconnect while their handlers wait on the database. With Quart's own
    handling (`FASTPATH` without `http`) the handlers are cancelled (Quart's documented
    behaviour): their connections must come back to the pool usable, or a small pool runs dry
    and every later request is a 503. With the `http` trick they finish and the server drops
    the answers (`best_app.fastpath`): the pool is whole as well. Both kinds of read: the
    list, through the session, and one user, a read outside a block on a connection it borrowed."""
    env = server_env(
        database_url,
        DB_POOL_SIZE="2",
        DB_MAX_OVERFLOW="0",
        DB_POOL_TIMEOUT="5",  # with `http`, two handlers wait for the lock holders' connections
        FASTPATH=fastpath,
        MAX_REQUESTS_IN_FLIGHT="16",  # the ten reads at once afterwards queue for the two
    )
    with run_server(env, server_log) as server:
        path, route = "/users", "/users"
        if read == "hot":
            path, route = f"/users/held{uuid.uuid4().hex[:10]}", "/users/<username:username>"
            async with httpx.AsyncClient(headers=AUTH, base_url=server.url, timeout=30) as http:
                made = await http.post("/users", json={"username": path.rpartition("/")[2]})
                assert made.status_code == 201, made.text
        async with users_table_locked(database_url):
            leavers = []
            for _ in range(4):  # twice the pool: two hold connections, two wait for one
                client = httpx.AsyncClient(headers=AUTH, base_url=server.url, timeout=30)
                leavers.append((client, asyncio.create_task(client.get(path))))
            await asyncio.sleep(0.5)
            for client, task in leavers:
                task.cancel()  # httpx closes the connection: the client has left
                await client.aclose()
            await asyncio.sleep(0.5)  # the server sees the disconnects (off: cancels)
        async with httpx.AsyncClient(headers=AUTH, base_url=server.url, timeout=30) as http:
            name = f"left{uuid.uuid4().hex[:10]}"
            created = await http.post("/users", json={"username": name})
            assert created.status_code == 201, created.text
            after = await asyncio.gather(*(http.get("/users") for _ in range(10)))
            assert [r.status_code for r in after] == [200] * 10
            assert (await http.get(f"/users/{name}")).status_code == 200
            scrape = (await http.get("/metrics")).text
        assert_pool_returns_to_zero(server.url)
    assert metric(scrape, "best_app_http_requests_total", status="500") == 0
    assert "Traceback" not in server.log()
    left = metric(scrape, "best_app_http_requests_total", route=route, status="499")
    answered = metric(scrape, "best_app_http_requests_total", route=route, status="200")
    later = 10 if read == "list" else 1  # the reads of this route after the lock
    if fastpath == "off":
        # Counted and logged as what they were: clients that left, not server errors.
        assert left == 4
        assert server.log().count(f"GET {path} - ") == 4
        assert answered == later
    else:  # the handlers finished: counted under their status, answered to nobody
        assert left == 0
        assert answered == 4 + later


async def test_sigterm_lets_in_flight_requests_finish(database_url: str, server_log: Path) -> None:
    env = server_env(database_url, GRACEFUL_TIMEOUT="10", DB_STATEMENT_TIMEOUT_MS="20000")
    with run_server(env, server_log) as server:
        async with httpx.AsyncClient(headers=AUTH, base_url=server.url, timeout=30) as http:
            async with users_table_locked(database_url):
                slow = [asyncio.create_task(http.get("/users")) for _ in range(3)]
                await asyncio.sleep(0.5)
                server.process.terminate()  # one SIGTERM, as `docker stop` sends
                await asyncio.sleep(1.0)
                # New connections are not served: refused, or (Hypercorn's parent still holds
                # the listening socket) accepted by the kernel and closed unanswered.
                with pytest.raises(httpx.TransportError):
                    await httpx.AsyncClient(headers=AUTH, base_url=server.url, timeout=1).get(
                        "/healthz"
                    )
                done = [t.result().status_code for t in slow if t.done()]
                assert done == [], done
            responses = await asyncio.gather(*slow)
        assert [r.status_code for r in responses] == [200] * 3
        assert server.process.wait(timeout=10) == 0


def _embedded(*args: str) -> str:
    command = [sys.executable, str(ROOT / "scripts" / "embedded_pg.py"), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()  # noqa: S603


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """An embedded PostgreSQL of this test's own, which it may stop and start."""
    data = tmp_path / "pg"
    url = _embedded("start", str(data), "outage")
    try:
        migrate(url)
        yield data, url
    finally:
        _embedded("stop", str(data))


async def test_database_outage_is_503_and_recovers_without_losing_writes(
    private_postgres: tuple[Path, str], server_log: Path
) -> None:
    data, url = private_postgres
    env = server_env(url, DB_POOL_TIMEOUT="1")
    with run_server(env, server_log) as server:
        async with httpx.AsyncClient(headers=AUTH, base_url=server.url, timeout=30) as http:
            acknowledged: list[str] = []
            statuses: list[int] = []
            stop = asyncio.Event()

            async def writer() -> None:
                while not stop.is_set():
                    name = f"w{uuid.uuid4().hex[:12]}"
                    response = await http.post("/users", json={"username": name})
                    statuses.append(response.status_code)
                    if response.is_success:
                        acknowledged.append(name)
                    await asyncio.sleep(0.02)

            writers = [asyncio.create_task(writer()) for _ in range(4)]
            await asyncio.sleep(1.0)
            _embedded("stop", str(data))

            down = await http.get("/users")
            assert down.status_code == 503
            assert down.headers["Retry-After"]
            assert (await http.get("/readyz")).status_code == 503
            assert (await http.get("/healthz")).status_code == 200
            await asyncio.sleep(1.0)

            _embedded("start", str(data), "outage")
            restarted = time.monotonic()
            while (await http.get("/users")).status_code != 200:
                assert time.monotonic() - restarted < 5, "no recovery within 5 s"
                await asyncio.sleep(0.1)
            assert (await http.get("/readyz")).status_code == 200
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.gather(*writers)

            assert set(statuses) <= {200, 201, 503}, sorted(set(statuses))
            assert 503 in statuses
            assert acknowledged
            for name in acknowledged:  # nothing that was acknowledged is lost
                assert (await http.get(f"/users/{name}")).status_code == 200
        # Reconnects refused while the server was down returned entries the pool had not
        # counted out: the gauge must not have gone below 0 for them.
        assert_pool_returns_to_zero(server.url)
