"""best_app through a real PgBouncer in transaction pool mode (`DB_POOLER=pgbouncer`).

The API suite, the races and the fuzzing also run through PgBouncer (the `route` fixture);
this file holds what only a pooler has: migrations racing through it, the server connections
PostgreSQL sees under load, and the statement timeout without a startup parameter.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from best_app import create_app
from best_app.config import Settings
from best_app.database import Database, create_engine
from best_app.database.schema import expected_heads
from best_app.repositories import cars, users
from scripts.pgbouncer import PgBouncer, pgbouncer_binary, run_pgbouncer
from tests.utils.auth import AUTH
from tests.utils.dbtools import plain_dsn, users_table_locked
from tests.utils.faults import (
    READ_WAITING_ON_LOCK,
    backends,
    client_with_user,
    server_connection,
)
from tests.utils.flood import Plan, reads_and_purchases, register_owners, run_load
from tests.utils.metrics import assert_pool_returns_to_zero
from tests.utils.problems import assert_problem
from tests.utils.server import REPLICA, ROOT, free_port, run_server, server_env

pytestmark = pytest.mark.slow


def _pooled_env(bouncer: PgBouncer, database_url: str, **overrides: str) -> dict[str, str]:
    env = _pooled(bouncer.url_for(database_url))
    env.update(overrides)
    return env


def _pooled(url: str) -> dict[str, str]:
    """A replica's environment with `url`, a database through PgBouncer."""
    return server_env(url, DB_POOLER="pgbouncer")


async def _applied_versions(database_url: str) -> list[str]:
    async with server_connection(database_url) as conn:
        return [row[0] for row in await conn.fetch("SELECT version_num FROM alembic_version")]


@pytest.mark.parametrize(
    "command", [["best_app", "migrate"], ["alembic", "upgrade", "head"]], ids=" ".join
)
def test_two_migrations_at_once_through_pgbouncer_both_succeed_and_apply_each_revision_once(
    pgbouncer: PgBouncer, empty_database_url: str, command: list[str]
) -> None:
    """`best-app migrate` (the container's entrypoint) and `alembic upgrade head` alike."""
    env = _pooled_env(pgbouncer, empty_database_url)
    runs = [
        subprocess.Popen(  # noqa: S603 - our own command line
            [sys.executable, "-m", *command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    # Alembic logs one "Running upgrade" line per revision it applies.
    applied = Counter(
        line.split("Running upgrade", 1)[1].strip()
        for output in outputs
        for line in output.splitlines()
        if "Running upgrade" in line
    )
    assert applied, outputs
    assert set(applied.values()) == {1}, applied
    assert set(asyncio.run(_applied_versions(empty_database_url))) == expected_heads()


def test_two_replicas_started_together_through_pgbouncer_migrate_once_and_both_serve(
    pgbouncer: PgBouncer, empty_database_url: str, tmp_path: Path
) -> None:
    """Each replica does what the container's entrypoint does: migrate, then serve."""
    envs = [_pooled_env(pgbouncer, empty_database_url) for _ in range(2)]
    migrations = [
        subprocess.Popen(
            [sys.executable, "-m", "best_app", "migrate"], cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        for env in envs
    ]  # fmt: skip
    assert [m.wait(120) for m in migrations] == [0, 0]
    with (
        run_server(envs[0], tmp_path / "a.log") as first,
        run_server(envs[1], tmp_path / "b.log") as second,
    ):
        for server in (first, second):
            assert httpx.get(f"{server.url}/readyz").status_code == 200
            name = f"r{time.monotonic_ns()}"
            created = httpx.post(f"{server.url}/users", json={"username": name}, headers=AUTH)
            assert created.status_code == 201
            assert httpx.get(f"{first.url}/users/{name}").status_code == 200
            assert httpx.get(f"{second.url}/users/{name}").status_code == 200
    assert asyncio.run(_applied_versions(empty_database_url)) == sorted(expected_heads())


def _pgbouncer_clients(bouncer: PgBouncer) -> int:
    """Established TCP connections to PgBouncer's port (its clients), from /proc/net/tcp.

    (PgBouncer's admin console speaks only the simple query protocol, which asyncpg's
    result-returning calls do not use.)
    """
    port = f":{bouncer.port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    established = "01"
    return sum(1 for line in lines if (f := line.split())[1].endswith(port) and f[3] == established)


@pytest.mark.parametrize("clients", [64, 512])
async def test_postgresql_sees_no_more_connections_than_the_pgbouncer_pool(
    pgbouncer: PgBouncer,
    database_url: str,
    make_settings: Callable[..., Settings],
    unique: Callable[[str], str],
    clients: int,
) -> None:
    """`clients` sessions of the app's own `Database`, each on its own connection to PgBouncer,
    run the API's read of a user and purchase for about 3 s: PostgreSQL never sees more server
    connections for the database than PgBouncer's pool size, and nothing fails."""
    settings = make_settings(
        database_url=pgbouncer.url_for(database_url), db_pooler="pgbouncer",
        db_pool_size=clients, db_max_overflow=0, db_pool_timeout=60,
    )  # fmt: skip
    database = Database(settings)
    await database.connect()
    sampler = await asyncpg.connect(plain_dsn(database_url))
    name = unique("load")
    done: Counter[str] = Counter()
    peaks = {"server": 0, "clients": 0}
    stop = time.monotonic() + 60  # reset once every client holds its connection
    connected = asyncio.Event()

    async def client(i: int) -> None:
        async with database.new_session() as session:
            await users.get_by_username(session, name)  # checks out this client's connection
            await session.commit()
            done["connected"] += 1
            if done["connected"] == clients:
                connected.set()
            await connected.wait()
            while time.monotonic() < stop:
                if i % 4 == 0:
                    assert await cars.buy_car(session, name, "M") is not None
                    done["bought"] += 1
                else:
                    assert await users.get_by_username(session, name) is not None
                    await session.commit()  # ends the read's transaction, keeps the connection
                    done["read"] += 1

    async def sample() -> None:
        while time.monotonic() < stop:
            # Client backends only: an autovacuum worker woken by the purchases also has
            # the database's name in pg_stat_activity, but is no connection of PgBouncer's.
            server = await backends(
                sampler, database_url, "pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
            peaks["server"] = max(peaks["server"], server)
            peaks["clients"] = max(peaks["clients"], _pgbouncer_clients(pgbouncer))
            await asyncio.sleep(0.02)

    async def start_the_clock() -> None:
        nonlocal stop
        await connected.wait()
        stop = time.monotonic() + 3

    try:
        async with database.new_session() as session:
            await users.register_user_if_not_exist(session, name)
        await asyncio.gather(start_the_clock(), sample(), *(client(i) for i in range(clients)))
    finally:
        await sampler.close()
        await database.disconnect()
    print(f"{clients} clients: {dict(done)}; PgBouncer clients up to {peaks['clients']}, "
          f"PostgreSQL server connections up to {peaks['server']}")  # fmt: skip
    assert peaks["clients"] >= clients  # every client held a connection to PgBouncer at once
    assert 0 < peaks["server"] <= pgbouncer.pool_size
    assert done["read"] > 0
    assert done["bought"] > 0


async def test_statement_timeout_through_pgbouncer_is_503_and_cancels_the_query(
    pgbouncer: PgBouncer,
    database_url: str,
    make_settings: Callable[..., Settings],
    unique: Callable[[str], str],
) -> None:
    """No `statement_timeout` startup parameter through PgBouncer: asyncpg's own timeout
    answers 503 and its cancel request, forwarded by PgBouncer, stops the query on the server."""
    settings = make_settings(
        database_url=pgbouncer.url_for(database_url), db_pooler="pgbouncer",
        db_statement_timeout_ms=300,
    )  # fmt: skip
    async with (
        server_connection(database_url) as sampler,
        create_app(settings).test_app() as app,
        users_table_locked(database_url),
    ):
        started = time.monotonic()
        response = await app.test_client().get(f"/users/{unique('u')}")
        elapsed = time.monotonic() - started
        await assert_problem(response, 503)
        assert response.headers["Retry-After"]
        assert elapsed < 2
        deadline = time.monotonic() + 5
        while await backends(sampler, database_url, READ_WAITING_ON_LOCK):
            assert time.monotonic() < deadline, "the timed-out query still waits on the server"
            await asyncio.sleep(0.05)


async def test_the_engine_connects_through_pgbouncer_with_its_application_name(
    pgbouncer: PgBouncer, database_url: str, make_settings: Callable[..., Settings]
) -> None:
    """The only startup parameter sent is one PgBouncer tracks (it would refuse the others)."""
    settings = make_settings(database_url=pgbouncer.url_for(database_url), db_pooler="pgbouncer")
    engine = create_engine(settings, pooled=False)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SHOW application_name")) == "best_app"
    finally:
        await engine.dispose()


async def test_server_connections_killed_behind_pgbouncer_are_503s_then_served_again(
    pgbouncer: PgBouncer,
    database_url: str,
    make_settings: Callable[..., Settings],
    unique: Callable[[str], str],
) -> None:
    """PostgreSQL ends every server connection of the database (a restart, a failover). Until
    PgBouncer has noticed, a request it sends to a dead server connection fails: each such
    request is a 503 (PgBouncer reports the crashed server connection and closes the client
    connection, which the app replaces), never a 500; then requests are served again, with
    no restart of anything."""
    settings = make_settings(
        database_url=pgbouncer.url_for(database_url), db_pooler="pgbouncer",
        db_pool_size=1, db_max_overflow=0,
    )  # fmt: skip
    name = unique("u")
    async with (
        server_connection(database_url) as sampler,
        client_with_user(settings, name) as client,
    ):
        for path in (f"/users/{name}", f"/users/{name}/cars", "/users?limit=1"):
            killed = await backends(
                sampler, database_url, "application_name = 'best_app'", terminate=True
            )
            assert killed > 0
            statuses: list[int] = []
            deadline = time.monotonic() + 5
            while not statuses or statuses[-1] != 200:
                assert time.monotonic() < deadline, statuses
                response = await client.get(path)
                statuses.append(response.status_code)
                if response.status_code != 200:
                    await assert_problem(response, 503)
            assert len(statuses) <= killed + 1, statuses  # one failure per dead connection


async def test_a_pgbouncer_restart_under_load_fails_requests_only_while_it_is_down(
    server_url: str, database_url: str, tmp_path: Path
) -> None:
    """Two replicas through a PgBouncer of this test's own, each under 16 clients of reads and
    purchases. PgBouncer stops (its immediate shutdown: every connection closed) and starts
    again on the same port a second later. Requests fail only while it is down, each with a 503
    and `Retry-After`; every replica is ready again within 5 s of the restart; every pool
    connection is back afterwards (and the gauge never went below 0 on the way)."""
    if pgbouncer_binary() is None and not os.environ.get("CI"):
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)")
    port = free_port()
    with ExitStack() as stack:
        bouncer = ExitStack()
        url = bouncer.enter_context(run_pgbouncer(server_url, port=port)).url_for(database_url)
        servers = [
            stack.enter_context(run_server(_pooled(url), tmp_path / f"app{i}.log", server=REPLICA))
            for i in (1, 2)
        ]
        owners = register_owners(servers[0].url)
        loads = [
            asyncio.create_task(
                asyncio.to_thread(
                    run_load,
                    Plan(server.url, reads_and_purchases(owners), 10, obey_retry_after=False),
                    16,
                    8.0,
                )
            )
            for server in servers
        ]
        await asyncio.sleep(2.0)
        stopped = time.monotonic()
        bouncer.close()
        await asyncio.sleep(1.0)
        stack.enter_context(run_pgbouncer(server_url, port=port))
        restarted = time.monotonic()
        async with httpx.AsyncClient(timeout=5) as http:
            for server in servers:
                while (await http.get(f"{server.url}/readyz")).status_code != 200:
                    assert time.monotonic() - restarted < 5, "not ready within 5 s"
                    await asyncio.sleep(0.05)
        ready = time.monotonic()
        done = await asyncio.gather(*loads)
        for server in servers:
            assert_pool_returns_to_zero(server.url)
    for load in done:
        report = f"{load.statuses()}; down {stopped:.2f}-{ready:.2f}"
        print(report)
        assert load.failures == [], (load.failures[:10], report)
        assert load.wrong_errors() == [], report
        outside = [
            f"{a.label} {a.status} {a.started:.2f}+{a.seconds:.2f}s"
            for a in load.answers
            if a.status >= 400 and (a.started + a.seconds < stopped or a.started > ready)
        ]
        assert outside == [], (outside[:10], report)
        assert any(a.status < 400 and a.started > ready for a in load.answers), report
        assert any(a.status < 400 and a.started + a.seconds < stopped for a in load.answers)
