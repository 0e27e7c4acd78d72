"""Scale-out benchmark: one replica vs two behind HAProxy, direct vs through PgBouncer.

    scripts/bench scale-out [--duration 10] [--clients 64,256,1024] [--out bench-results]

One PostgreSQL database with 10,000 users and 5 cars each (as `scripts/bench`). For each of
four setups (1 or 2 best_app replicas, one process each, the two behind HAProxy with
deploy/haproxy/haproxy.cfg; PostgreSQL direct or through PgBouncer in transaction mode with
DB_POOLER=pgbouncer) and each number of clients, wrk runs a read (`GET /users/{username}`) and
a write (`POST /users/{username}/cars`). Reports requests/s, p99, errors, and the most
PostgreSQL server connections to the database seen in pg_stat_activity during the run.
Needs wrk, haproxy and pgbouncer (Debian: apt-get install wrk haproxy pgbouncer).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg2
from sqlalchemy.engine import make_url

from scripts import embedded_pg
from scripts.benchmark.run import (
    ENDPOINTS,
    ROOT,
    TOKEN,
    WRK_DONE,
    _free_port,
    prepare_database,
    run_wrk,
)
from scripts.pgbouncer import run_pgbouncer

HAPROXY_CONFIG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
SCALE_ENDPOINTS = ("GET /users/{username}", "POST /users/{username}/cars")
SETUPS = (  # (replicas, through PgBouncer)
    (1, False), (1, True), (2, False), (2, True),
)  # fmt: skip
APP_POOL = 20  # connections per replica's own pool (as scripts/bench)
BOUNCER_POOL = 20  # PgBouncer's default_pool_size: server connections it may open


def _tool(name: str) -> str:
    path = shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/local/sbin")
    if path is None:
        raise SystemExit(f"{name} is needed: apt-get install {name}")
    return path


def _wait_http(url: str, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start; see {log}")
        time.sleep(0.2)


@contextmanager
def _process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def replica(database_url: str, pooled_by_bouncer: bool, log: Path) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "API_TOKENS"}}
    env.update(
        APP_ENV="production", SECRET_KEY="b" * 40, API_TOKENS=TOKEN, DATABASE_URL=database_url,
        HOST="127.0.0.1", PORT=str(port), WEB_CONCURRENCY="1", SHUTDOWN_DRAIN_SECONDS="0",
        DB_POOL_SIZE=str(APP_POOL), DB_MAX_OVERFLOW="0",
        DB_POOLER="pgbouncer" if pooled_by_bouncer else "none",
    )  # fmt: skip
    with _process([sys.executable, "-m", "best_app", "serve"], env, log) as process:
        _wait_http(f"http://127.0.0.1:{port}/readyz", process, "best_app", log)
        yield f"127.0.0.1:{port}"


@contextmanager
def haproxy(servers: list[str], work: Path) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEST_APP_")}
    env["HAPROXY_BIND"] = f"127.0.0.1:{port}"
    env.update({f"BEST_APP_SERVER_{i}": s for i, s in enumerate(servers, start=1)})
    argv = [_tool("haproxy"), "-db", "-f", str(HAPROXY_CONFIG)]
    with _process(argv, env, work / "haproxy.log") as process:
        _wait_http(f"http://127.0.0.1:{port}/readyz", process, "haproxy", work / "haproxy.log")
        yield f"127.0.0.1:{port}"


class ConnectionSampler:
    """The most server connections to one database in pg_stat_activity, sampled every 0.2 s."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._database = url.database
        self._stop = threading.Event()
        self.peak = 0

    def __enter__(self) -> ConnectionSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        conn = psycopg2.connect(self._dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                while not self._stop.is_set():
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
                        (self._database,),
                    )
                    (count,) = cursor.fetchone() or (0,)
                    self.peak = max(self.peak, count)
                    time.sleep(0.2)
        finally:
            conn.close()


def measure(
    url: str, database_url: str, clients: list[int], duration: float, work: Path
) -> list[dict[str, Any]]:
    rows = []
    for endpoint in SCALE_ENDPOINTS:
        script = work / f"{endpoint.split()[0].lower()}.lua"
        script.write_text(ENDPOINTS[endpoint] + "\n" + WRK_DONE)
        for n in clients:
            run_wrk(url, script, min(2.0, duration), n)  # warm-up: connections, caches
            with ConnectionSampler(database_url) as sampler:
                result = run_wrk(url, script, duration, n)
            rows.append({
                "endpoint": endpoint, "clients": n,
                "rps": result["requests"] / (result["duration_us"] / 1e6),
                "p99_ms": result["p99_us"] / 1000,
                "errors": result["non2xx"] + result["socket_errors"],
                "pg_connections": sampler.peak,
            })  # fmt: skip
            print(f"  {endpoint} c={n}: {rows[-1]['rps']:,.0f} req/s, p99 {rows[-1]['p99_ms']:.1f} ms, "
                  f"errors {rows[-1]['errors']}, PostgreSQL connections {sampler.peak}", flush=True)  # fmt: skip
    return rows


def run_setup(replicas: int, bounced: bool, database_url: str, args: argparse.Namespace,
              work: Path) -> list[dict[str, Any]]:  # fmt: skip
    with ExitStack() as stack:
        app_url = database_url
        if bounced:
            bouncer = stack.enter_context(
                run_pgbouncer(
                    database_url, pool_size=BOUNCER_POOL, max_client_conn=5000,
                    log=work / "pgbouncer.log",
                )
            )  # fmt: skip
            app_url = bouncer.url_for(database_url)
        servers = [
            stack.enter_context(replica(app_url, bounced, work / f"app{i}.log"))
            for i in range(1, replicas + 1)
        ]
        front = servers[0] if replicas == 1 else stack.enter_context(haproxy(servers, work))
        return measure(f"http://{front}", database_url, args.clients, args.duration, work)


def markdown(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        "| setup | endpoint | clients | req/s | p99 ms | errors | PostgreSQL connections |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in results:
        lines.append(
            f"| {row['setup']} | `{row['endpoint']}` | {row['clients']} | {row['rps']:,.0f} | "
            f"{row['p99_ms']:.1f} | {row['errors']} | {row['pg_connections']} |"
        )
    lines.append("")
    lines.append(
        f"Machine: {os.cpu_count()} CPUs; wrk -t2, {args.duration:g} s per run after a warm-up; "
        f"each replica one process with a pool of {APP_POOL}; PgBouncer default_pool_size "
        f"{BOUNCER_POOL}. Everything, PostgreSQL included, shares the same CPUs."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--clients", type=lambda s: [int(n) for n in s.split(",")],
                        default=[64, 256, 1024])  # fmt: skip
    parser.add_argument("--setups", default="1-direct,1-pgbouncer,2-direct,2-pgbouncer",
                        help="comma-separated among 1-direct, 1-pgbouncer, 2-direct, 2-pgbouncer")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    args = parser.parse_args(argv)
    for tool in ("wrk", "haproxy", "pgbouncer"):
        _tool(tool)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # 1024 clients, and their proxies
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="best_app-scale-"))
    server_url = os.environ.get("BENCH_DATABASE_URL") or embedded_pg.start(
        ROOT / ".data" / "pg", "postgres"
    )
    database_url = prepare_database(server_url)
    results: list[dict[str, Any]] = []
    for setup in args.setups.split(","):
        replicas, mode = setup.split("-")
        name = f"{replicas} replica{'s behind HAProxy' if replicas == '2' else ''}, {mode}"
        print(f"{name}:", flush=True)
        rows = run_setup(int(replicas), mode == "pgbouncer", database_url, args, work)
        results += [{"setup": name, **row} for row in rows]
    (args.out / "scale-out.json").write_text(json.dumps(results, indent=2))
    table = markdown(results, args)
    (args.out / "scale-out.md").write_text(table)
    print(table)
    print(f"written to {args.out}/ (scale-out.json, scale-out.md); logs in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
