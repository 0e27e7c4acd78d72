"""SIGTERM to one replica (`best-app serve`, one process): it drains, then stops accepting.

/readyz turns 503 at once, every request is still served for SHUTDOWN_DRAIN_SECONDS (each answer
saying `connection: close`, so keep-alive clients move to a new connection), then new
connections are refused while a request already in flight finishes, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.utils.auth import AUTH
from tests.utils.dbtools import users_table_locked
from tests.utils.server import REPLICA, run_server, server_env

pytestmark = pytest.mark.slow

DRAIN = 3.0


async def _fresh(url: str, path: str) -> httpx.Response:
    """A request on a new connection: proves the listener itself still accepts."""
    async with httpx.AsyncClient(headers=AUTH, base_url=url, timeout=5) as http:
        return await http.get(path)


async def test_sigterm_drains_then_refuses_while_in_flight_requests_finish(
    database_url: str, server_log: Path
) -> None:
    env = server_env(
        database_url,
        SHUTDOWN_DRAIN_SECONDS=str(DRAIN),
        GRACEFUL_TIMEOUT="15",
        DB_STATEMENT_TIMEOUT_MS="30000",
    )
    with run_server(env, server_log, server=REPLICA) as server:
        assert (await _fresh(server.url, "/readyz")).status_code == 200
        async with (
            httpx.AsyncClient(headers=AUTH, base_url=server.url, timeout=30) as http,
            httpx.AsyncClient(headers=AUTH, base_url=server.url, timeout=5) as keep_alive,
        ):
            assert "connection" not in (await keep_alive.get("/hello/say")).headers
            async with users_table_locked(database_url):
                in_flight = asyncio.create_task(http.get("/users"))  # waits on the lock
                await asyncio.sleep(0.5)
                server.process.send_signal(signal.SIGTERM)
                signalled = time.monotonic()

                not_ready = await _fresh(server.url, "/readyz")  # the first one after the signal
                assert time.monotonic() - signalled < 1.0
                assert not_ready.status_code == 503
                assert not_ready.headers["content-type"] == "application/problem+json"
                assert not_ready.json()["detail"] == "The server is shutting down."
                assert not_ready.headers["Retry-After"].isdigit()

                # The drain: still alive and serving, on new connections too, to its end.
                last_served = signalled
                while time.monotonic() - signalled < DRAIN - 1.0:
                    assert (await _fresh(server.url, "/hello/say")).status_code == 200
                    reused = await keep_alive.get("/hello/say")  # a kept-alive client
                    assert reused.status_code == 200
                    assert reused.headers["connection"] == "close"
                    assert (await _fresh(server.url, "/healthz")).status_code == 200
                    assert (await _fresh(server.url, "/readyz")).status_code == 503
                    last_served = time.monotonic()
                    await asyncio.sleep(0.1)
                assert last_served - signalled >= DRAIN - 1.5

                # Then the listener closes: new connections are refused outright. A connection
                # accepted in the very instant the listener closes is closed unanswered:
                # Hypercorn ends every connection with no request in progress when it stops
                # (a load balancer has taken the replica out of rotation by then: that is what
                # the drain is for). The loop goes on until a connection is refused.
                while True:
                    try:
                        await _fresh(server.url, "/healthz")
                    except httpx.ConnectError:
                        break
                    except httpx.RemoteProtocolError:
                        pass
                    assert time.monotonic() - signalled < DRAIN + 2, "listener still open"
                    await asyncio.sleep(0.05)
                assert time.monotonic() - signalled >= DRAIN - 0.1
                assert not in_flight.done()
            response = await in_flight  # the lock is gone: the request finishes
        assert response.status_code == 200
        assert server.process.wait(timeout=15) == 0
    log = server.log()
    assert "stopping: /readyz answers 503" in log
    assert "closing the listener" in log


async def test_sigterm_with_a_30_second_request_exits_within_drain_and_graceful_timeout(
    database_url: str, server_log: Path
) -> None:
    """A request that would take 30 s more (it waits on a lock; its statement timeout is longer)
    does not hold the replica past SHUTDOWN_DRAIN_SECONDS + GRACEFUL_TIMEOUT (+ 2 s to exit):
    Hypercorn cancels it once the graceful timeout has passed (on Python 3.11; see
    docs/deployment.md on hypercorn#308 for 3.12+)."""
    drain, graceful = 2.0, 4.0
    env = server_env(
        database_url,
        SHUTDOWN_DRAIN_SECONDS=str(drain),
        GRACEFUL_TIMEOUT=str(graceful),
        DB_STATEMENT_TIMEOUT_MS="60000",
    )
    with run_server(env, server_log, server=REPLICA) as server:
        async with (
            httpx.AsyncClient(headers=AUTH, base_url=server.url, timeout=60) as http,
            users_table_locked(database_url),
        ):
            slow = asyncio.create_task(http.get("/users"))  # waits on the lock for 30 s or more
            await asyncio.sleep(1.0)
            assert not slow.done()
            server.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            code = await asyncio.to_thread(server.process.wait, 30)
            took = time.monotonic() - signalled
            with contextlib.suppress(httpx.HTTPError):
                await slow
    assert code == 0, server.log()
    assert took <= drain + graceful + 2, (took, server.log())
    assert took >= drain + graceful - 0.5  # it did wait for the request, as long as allowed
