"""Side-by-side HTTP benchmark: best_app vs the seed's Flask stack vs a framework-free ceiling.

    scripts/bench [--rounds 3] [--duration 10] [--connections 64] [--out bench-results]
                  [--baseline GIT_REF] [--variant NAME:VAR=VALUE[,VAR=VALUE...]]...

One PostgreSQL database with 10,000 users and 5 cars each; three servers on 127.0.0.1, each
one worker; wrk in interleaved rounds whose order turns each round (A B C, B C A, C A B, ...),
so drift hits all alike and no server always holds the same place (with a fixed order the
same comparison moved by up to 15%: docs/benchmark/history.md). Reports
median requests/s, p50/p99 latency, non-2xx and peak RSS, with ratios, as JSON, Markdown and
a PNG chart. `--baseline REF` adds a fourth server, best_app as of that commit (its files
from `git archive`, served by the same environment against the same database), and the
ratio best_app/baseline: a change's cost measured side by side in one run. `--variant
fastpath-on:FASTPATH=on` likewise adds best_app with other settings (a switch's worth).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from alembic import command
from sqlalchemy.engine import make_url
from tqdm import tqdm

from best_app.config import Settings, normalise_database_url
from best_app.database.schema import alembic_config
from best_app.ops.seed import seed
from scripts import embedded_pg

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "bench-token"  # noqa: S105 - a throwaway token for the benchmark server
USERS, CARS = 10_000, 5
CONTESTANTS = ("best_app", "seed", "ceiling")
ENDPOINTS: dict[str, str] = {
    "GET /hello/say": 'request = function() return wrk.format("GET", "/hello/say") end',
    "GET /users/{username}": (
        'request = function() return wrk.format("GET", "/users/seed-" .. math.random(1, 10000)) end'
    ),
    "GET /users/{username}/cars": (
        "request = function() return wrk.format("
        '"GET", "/users/seed-" .. math.random(1, 10000) .. "/cars") end'
    ),
    "POST /users (existing)": (
        "request = function() return wrk.format("
        '"POST", "/users", nil, \'{"username": "seed-\' .. math.random(1, 10000) .. \'"}\') end'
    ),
    "POST /users/{username}/cars": (
        "request = function() return wrk.format("
        '"POST", "/users/seed-" .. math.random(1, 10000) .. "/cars", nil, \'{"model": "Golf"}\') end'
    ),
}
WRK_DONE = (
    """
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
done = function(summary, latency, requests)
  io.write(string.format(
    '\\nRESULT {"requests": %%d, "duration_us": %%d, "non2xx": %%d, "socket_errors": %%d, "p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""
    % TOKEN
)


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    peak_worker_rss: int = 0
    peak_total_rss: int = 0

    def processes(self) -> list[psutil.Process]:
        """The server's process and its workers."""
        parent = psutil.Process(self.process.pid)
        return [parent, *parent.children(recursive=True)]

    def cpu_seconds(self) -> float:
        """User + system CPU of the server's processes. Steadier than req/s on a shared
        machine: it does not count the time spent waiting for a CPU."""
        return sum(t.user + t.system for t in (p.cpu_times() for p in self.processes()))

    def sample(self) -> None:
        try:
            rss = [p.memory_info().rss for p in self.processes()]
        except psutil.Error:
            return
        self.peak_worker_rss = max(self.peak_worker_rss, *rss)
        self.peak_total_rss = max(self.peak_total_rss, sum(rss))


@dataclass
class Result:
    rps: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)  # server CPU per request
    non2xx: int = 0


# best_app's pool in every benchmark: the ceiling's 20 connections, all kept (with 10 + 10
# overflow, 64 concurrent clients make SQLAlchemy open and close overflow connections all
# the time).
POOL = {"DB_POOL_SIZE": "20", "DB_MAX_OVERFLOW": "0"}
# wrk's connections stand for that many clients, which here share one address: the per-client
# rate limit would answer most reads 429, and an admission limit below the connection count
# would answer the excess 503. Both checks still run on every request (their cost is measured);
# neither refuses, as the peers never do. (Older checkouts ignore settings they do not know.)
SERVE_ALL = {"RATE_LIMIT_DEFAULT": "1000000/second", "MAX_REQUESTS_IN_FLIGHT": "1000"}


def inherited_env() -> dict[str, str]:
    """This process's environment for a benchmarked process, without the settings the
    benchmark gives it (a developer's own DATABASE_URL or API_TOKENS would leak in)."""
    return {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "API_TOKENS"}}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_database(server_url: str) -> str:
    """A fresh `best_app_bench` database, migrated and loaded; returns its URL."""
    url = make_url(normalise_database_url(server_url))
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def recreate() -> None:
        import asyncpg

        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("DROP DATABASE IF EXISTS best_app_bench WITH (FORCE)")
            await conn.execute("CREATE DATABASE best_app_bench")
        finally:
            await conn.close()

    asyncio.run(recreate())
    bench_url = url.set(database="best_app_bench").render_as_string(hide_password=False)
    config = alembic_config()
    config.attributes["database_url"] = bench_url
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")
    settings = Settings(_env_file=None, database_url=bench_url)
    with tqdm(total=USERS, unit="user", desc=f"loading {USERS} users x {CARS} cars") as bar:
        asyncio.run(seed(settings, USERS, CARS, progress=bar.update))
    return bench_url


def export_commit(ref: str, into: Path) -> Path:
    """The files of best_app at git `ref`, unpacked into `into`."""
    archive = subprocess.run(  # noqa: S603
        ["git", "archive", "--format=tar", ref],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    into.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


@dataclass(frozen=True)
class Comparison:
    """Another server compared with this checkout's best_app: best_app's files and extra
    settings, or (a peer) a command of its own, with `{port}` and `{database_url}` filled in."""

    name: str
    workdir: Path
    env: dict[str, str]
    command: tuple[str, ...] = ()
    what: str = ""  # for the report


# `--peers`: the same endpoints on what a user would pick instead (FastAPI + SQLAlchemy asyncio
# under Uvicorn), and on the design's stack with nothing added (Quart + SQLAlchemy Core under
# the same Hypercorn), each written as its own docs write it (scripts/benchmark/peer_*.py).
PEERS = (
    Comparison(
        "fastapi", ROOT, {"PEER_DATABASE_URL": "{database_url}"},
        (sys.executable, "-m", "uvicorn", "--loop", "uvloop", "--log-level", "warning",
         "--host", "127.0.0.1", "--port", "{port}", "scripts.benchmark.peer_fastapi:app"),
        "FastAPI + SQLAlchemy asyncio under Uvicorn",
    ),
    Comparison(
        "quart-bare", ROOT, {"PEER_DATABASE_URL": "{database_url}"},
        (sys.executable, "-m", "hypercorn", "-k", "uvloop", "-w", "1", "--backlog", "2048",
         "-b", "127.0.0.1:{port}", "scripts.benchmark.peer_quart:app"),
        "bare Quart + SQLAlchemy Core + asyncpg under Hypercorn",
    ),
)  # fmt: skip


def parse_variant(text: str) -> Comparison:
    """`NAME:VAR=VALUE[,VAR=VALUE...]`: this checkout with other settings."""
    name, _, assignments = text.partition(":")
    pairs = [item.partition("=") for item in assignments.split(",") if item]
    if not name or not pairs or any(not sep for _, sep, _ in pairs):
        raise argparse.ArgumentTypeError(f"expected NAME:VAR=VALUE[,VAR=VALUE...], got {text!r}")
    return Comparison(name, ROOT, {var: value for var, _, value in pairs})


def start_servers(
    database_url: str, logs: Path, comparisons: list[Comparison]
) -> dict[str, Server]:
    url = make_url(database_url)
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    psycopg2 = url.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    asyncpg_url = url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    python = sys.executable
    base_env = inherited_env() | {"PYTHONPATH": str(ROOT)}
    commands: dict[str, tuple[list[str], dict[str, str]]] = {}
    ports = {name: _free_port() for name in (*CONTESTANTS, *(c.name for c in comparisons))}

    def hypercorn(workdir: Path) -> list[str]:
        """Hypercorn with the checkout's own config module (older ones had best_app.serving)."""
        old = not (workdir / "best_app" / "ops" / "serving.py").exists()
        config = "python:best_app.serving" if old else "python:best_app.ops.serving"
        return [python, "-m", "hypercorn", "--config", config, "best_app:create_app()"]

    best_app_env = {
        "APP_ENV": "production", "SECRET_KEY": "b" * 40, "API_TOKENS": TOKEN,
        "DATABASE_URL": plain, "HOST": "127.0.0.1", "WEB_CONCURRENCY": "1", **POOL,
        **SERVE_ALL,
    }  # fmt: skip
    commands["best_app"] = (hypercorn(ROOT), best_app_env | {"PORT": str(ports["best_app"])})
    commands["seed"] = (
        [python, "-m", "waitress", "--host=127.0.0.1", f"--port={ports['seed']}",
         "--call", "scripts.benchmark.seed_stack:create_app"],
        {"SEED_DATABASE_URL": psycopg2},
    )  # fmt: skip
    commands["ceiling"] = (
        [python, "-m", "hypercorn", "-k", "uvloop", "-w", "1", "--backlog", "2048",
         "-b", f"127.0.0.1:{ports['ceiling']}", "scripts.benchmark.ceiling:app"],
        {"CEILING_DATABASE_URL": plain},
    )  # fmt: skip
    workdirs = dict.fromkeys(commands, ROOT)
    for other in comparisons:  # its own files first on the path, the same installed libraries
        if other.command:  # a peer
            fill = {"port": ports[other.name], "database_url": asyncpg_url}
            commands[other.name] = (
                [part.format(**fill) for part in other.command],
                {key: value.format(**fill) for key, value in other.env.items()},
            )
            workdirs[other.name] = other.workdir
            continue
        commands[other.name] = (
            hypercorn(other.workdir),
            best_app_env
            | {"PORT": str(ports[other.name]), "PYTHONPATH": str(other.workdir)}
            | other.env,
        )
        workdirs[other.name] = other.workdir
    servers: dict[str, Server] = {}
    try:
        for name, (argv, env) in commands.items():
            log = (logs / f"{name}.log").open("wb")
            process = subprocess.Popen(  # noqa: S603
                argv, cwd=workdirs[name], env=base_env | env, stdout=log, stderr=subprocess.STDOUT
            )
            servers[name] = Server(name, f"http://127.0.0.1:{ports[name]}", process)
        for server in servers.values():
            _wait_until_serving(server, logs)
    except BaseException:  # one did not start (or Ctrl-C): stop those that did
        stop_servers(servers)
        raise
    return servers


def _wait_until_serving(server: Server, logs: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{server.url}/hello/say", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{server.name} did not start; see {logs / (server.name + '.log')}")
        time.sleep(0.2)


def stop_servers(servers: dict[str, Server]) -> None:
    for server in servers.values():
        server.process.terminate()
        server.process.wait(timeout=30)


def run_wrk(url: str, script: Path, duration: float, connections: int) -> dict[str, int]:
    out = subprocess.run(  # noqa: S603
        ["wrk", "-t2", f"-c{connections}", f"-d{duration:g}s", "--timeout", "10s", "-s", str(script), url],  # noqa: S607
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    result: dict[str, int] = json.loads(line.removeprefix("RESULT "))
    return result


def benchmark(servers: dict[str, Server], rounds: int, duration: float, connections: int,
              scripts_dir: Path) -> dict[str, dict[str, Result]]:  # fmt: skip
    results = {ep: {name: Result() for name in servers} for ep in ENDPOINTS}
    scripts = {}
    for i, (endpoint, lua) in enumerate(ENDPOINTS.items()):
        scripts[endpoint] = scripts_dir / f"endpoint{i}.lua"
        scripts[endpoint].write_text(lua + "\n" + WRK_DONE)
    stop = threading.Event()

    def sampler() -> None:
        while not stop.is_set():
            for server in servers.values():
                server.sample()
            time.sleep(0.25)

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    total = rounds * len(ENDPOINTS) * len(servers)
    entries = list(servers.items())
    with tqdm(total=total, desc="wrk runs", unit="run") as bar:
        for round_no in range(rounds):
            turn = round_no % len(entries)
            order = entries[turn:] + entries[:turn]
            for endpoint, script in scripts.items():
                for name, server in order:
                    if round_no == 0:  # warm-up: connections, caches, prepared statements
                        run_wrk(server.url, script, 2, connections)
                    cpu_before = server.cpu_seconds()
                    measured = run_wrk(server.url, script, duration, connections)
                    cpu = server.cpu_seconds() - cpu_before
                    result = results[endpoint][name]
                    result.cpu_us.append(cpu / max(measured["requests"], 1) * 1e6)
                    result.rps.append(measured["requests"] / (measured["duration_us"] / 1e6))
                    result.p50_ms.append(measured["p50_us"] / 1000)
                    result.p99_ms.append(measured["p99_us"] / 1000)
                    result.non2xx += measured["non2xx"] + measured["socket_errors"]
                    bar.update()
    stop.set()
    thread.join()
    return results


def paired(ours: list[float], theirs: list[float]) -> dict[str, float]:
    """The per-round ratios ours/theirs (each round measures both in the same minutes): their
    median, the fairest single figure on a noisy machine, and their range."""
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    return {"median": statistics.median(ratios), "low": min(ratios), "high": max(ratios)}


def summarise(results: dict[str, dict[str, Result]], servers: dict[str, Server],
              args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    table: dict[str, Any] = {}
    for endpoint, by_name in results.items():
        row: dict[str, Any] = {}
        for name, result in by_name.items():
            row[name] = {
                "rps": statistics.median(result.rps),
                "rps_rounds": [round(r, 1) for r in result.rps],
                "p50_ms": statistics.median(result.p50_ms),
                "p99_ms": statistics.median(result.p99_ms),
                "cpu_us": statistics.median(result.cpu_us),
                "cpu_us_rounds": [round(c) for c in result.cpu_us],
                "non2xx": result.non2xx,
            }
        row["best_app/seed"] = row["best_app"]["rps"] / row["seed"]["rps"]
        row["best_app/ceiling"] = row["best_app"]["rps"] / row["ceiling"]["rps"]
        for other in args.comparisons:
            row[f"best_app/{other}"] = row["best_app"]["rps"] / row[other]["rps"]
            row[f"p99 best_app/{other}"] = row["best_app"]["p99_ms"] / row[other]["p99_ms"]
            row[f"cpu best_app/{other}"] = row["best_app"]["cpu_us"] / row[other]["cpu_us"]
            row[f"paired best_app/{other}"] = paired(by_name["best_app"].rps, by_name[other].rps)
            row[f"paired cpu best_app/{other}"] = paired(
                by_name["best_app"].cpu_us, by_name[other].cpu_us
            )
        table[endpoint] = row
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}",
        },
        "comparisons": args.comparisons,
        "settings": {"rounds": args.rounds, "duration_s": args.duration,
                     "connections": args.connections, "users": USERS, "cars_per_user": CARS},
        "peak_rss_mb": {
            name: {"worker": s.peak_worker_rss / 2**20, "all_processes": s.peak_total_rss / 2**20}
            for name, s in servers.items()
        },
        "endpoints": table,
    }  # fmt: skip


def markdown(summary: dict[str, Any]) -> str:
    lines = [
        "| endpoint | best_app req/s | seed req/s | ceiling req/s | best_app/seed | "
        "best_app/ceiling | p50 ms (best/seed/ceil) | p99 ms (best/seed/ceil) | non-2xx |",
        "|---|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for endpoint, row in summary["endpoints"].items():
        b, s, c = row["best_app"], row["seed"], row["ceiling"]
        lines.append(
            f"| `{endpoint}` | {b['rps']:,.0f} | {s['rps']:,.0f} | {c['rps']:,.0f} | "
            f"{row['best_app/seed']:.2f}x | {row['best_app/ceiling']:.2f}x | "
            f"{b['p50_ms']:.1f} / {s['p50_ms']:.1f} / {c['p50_ms']:.1f} | "
            f"{b['p99_ms']:.1f} / {s['p99_ms']:.1f} / {c['p99_ms']:.1f} | "
            f"{b['non2xx'] + s['non2xx'] + c['non2xx']} |"
        )
    for other, what in summary["comparisons"].items():
        lines += [
            "",
            f"Against {other} (best_app {what}, same run):",
            "",
            f"| endpoint | best_app req/s | {other} req/s | best_app/{other} | "
            f"p99 ms (best_app/{other}) | p99 best_app/{other} | "
            f"server CPU µs/request (best_app/{other}) | CPU best_app/{other} | "
            "paired req/s ratio (range) | paired CPU ratio |",
            "|---|---:|---:|---:|---|---:|---|---:|---:|---:|",
        ]
        for endpoint, row in summary["endpoints"].items():
            b, o = row["best_app"], row[other]
            lines.append(
                f"| `{endpoint}` | {b['rps']:,.0f} | {o['rps']:,.0f} | "
                f"{row[f'best_app/{other}']:.3f}x | {b['p99_ms']:.1f} / {o['p99_ms']:.1f} | "
                f"{row[f'p99 best_app/{other}']:.3f}x | "
                f"{b['cpu_us']:,.0f} / {o['cpu_us']:,.0f} | {row[f'cpu best_app/{other}']:.3f}x | "
                f"{_paired(row[f'paired best_app/{other}'])} | "
                f"{row[f'paired cpu best_app/{other}']['median']:.3f}x |"
            )
    rss = summary["peak_rss_mb"]
    lines.append("")
    lines.append(
        "Peak RSS per worker process (MB): "
        + ", ".join(f"{name} {v['worker']:.0f}" for name, v in rss.items())
    )
    m, st = summary["machine"], summary["settings"]
    lines.append(
        f"Machine: {m['cpus']} CPUs ({m['processor']}), {m['system']}, Python {m['python']}; "
        f"wrk -t2 -c{st['connections']}, {st['rounds']} rounds x {st['duration_s']:g} s, "
        "medians over rounds; paired: the median of the per-round ratios (each round runs "
        "every server, in turning order)."
    )
    return "\n".join(lines) + "\n"


def _paired(ratio: dict[str, float]) -> str:
    return f"{ratio['median']:.3f}x ({ratio['low']:.2f}-{ratio['high']:.2f})"


def chart(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    endpoints = list(summary["endpoints"])
    fig, ax = plt.subplots(figsize=(11, 4.5))
    width = 0.27
    colours = {"best_app": "#2b7bba", "seed": "#b0b0b0", "ceiling": "#4caf50"}
    for i, name in enumerate(CONTESTANTS):  # comparisons are in the tables, not the chart
        values = [summary["endpoints"][ep][name]["rps"] for ep in endpoints]
        ax.bar([x + (i - 1) * width for x in range(len(endpoints))], values, width,
               label=name, color=colours[name])  # fmt: skip
    ax.set_xticks(range(len(endpoints)))
    ax.set_xticklabels([ep.replace(" (existing)", "\n(existing)") for ep in endpoints], fontsize=8)
    ax.set_ylabel("requests/s (median, one worker)")
    ax.set_title("best_app vs the seed's Flask stack vs a raw asyncpg ASGI ceiling")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    parser.add_argument(
        "--baseline", metavar="GIT_REF", help="also serve best_app as of this commit and compare"
    )
    parser.add_argument(
        "--variant",
        type=parse_variant,
        action="append",
        default=[],
        metavar="NAME:VAR=VALUE[,...]",
        help="also serve this checkout with other settings and compare (repeatable)",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also serve the same endpoints on FastAPI and on bare Quart, and compare",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk (or brew install wrk)")
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="best_app-bench-"))
    server_url = os.environ.get("BENCH_DATABASE_URL") or embedded_pg.start(
        ROOT / ".data" / "pg", "postgres"
    )
    database_url = prepare_database(server_url)
    comparisons: list[Comparison] = [*args.variant, *(PEERS if args.peers else ())]
    if args.baseline:
        comparisons.insert(0, Comparison("baseline", export_commit(args.baseline, work / "b"), {}))
    # What each comparison is, for the report: a commit or settings.
    args.comparisons = {
        c.name: f"at `{args.baseline}`" if c.name == "baseline" else
        f"as shipped; {c.name} is {c.what}" if c.command else
        "with " + ", ".join(f"`{k}={v}`" for k, v in c.env.items())
        for c in comparisons
    }  # fmt: skip
    servers = start_servers(database_url, work, comparisons)
    try:
        results = benchmark(servers, args.rounds, args.duration, args.connections, work)
    finally:
        stop_servers(servers)
    summary = summarise(results, servers, args)
    (args.out / "results.json").write_text(json.dumps(summary, indent=2))
    table = markdown(summary)
    (args.out / "results.md").write_text(table)
    chart(summary, args.out / "chart.png")
    print(table)
    print(f"written to {args.out}/ (results.json, results.md, chart.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
