"""Instructions per request, counted by valgrind: a cost that wrk's noise hides.

    scripts/bench instructions --baseline GIT_REF... [--variant NAME:VAR=VALUE[,...]]...
                               [--requests 500] [--out bench-results]

On a shared 2-CPU machine wrk's requests/s, and even the server's CPU per request, move by
5-10% between runs of the same code (docs/performance.md): a 5% budget cannot be read from
one run. The number of CPU instructions the app executes for a request does not move: each
endpoint is sent through the app's ASGI interface in process (`inprocess.py`: uvloop, the
real PostgreSQL, one request after another, the same fixed-seed users every run) under
valgrind's cachegrind, once with W warm-up requests and once with W + N, and the difference
is divided by N. Repeated counts agree within about 3% (5% on hello, the smallest count).

What it counts is the app's own work, in its process: not PostgreSQL's, not the server's HTTP
parsing, not waiting, and not the effects of 64 concurrent clients. It says where a change
adds or saves work; `scripts/bench` says what a client sees. Needs valgrind (`apt-get install
valgrind`); about a minute per endpoint and checkout, two at a time on two CPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from scripts import embedded_pg
from scripts.benchmark.run import (
    POOL,
    ROOT,
    SERVE_ALL,
    Comparison,
    export_commit,
    inherited_env,
    parse_variant,
    prepare_database,
)

# What `inprocess.py` sends for each of the benchmark's endpoints (`{n}`: a seeded user); the
# same names as `run.ENDPOINTS` (`tests/test_benchmark_report.py`).
REQUESTS: dict[str, tuple[str, str, str]] = {
    "GET /hello/say": ("GET", "/hello/say", ""),
    "GET /users/{username}": ("GET", "/users/seed-{n}", ""),
    "GET /users/{username}/cars": ("GET", "/users/seed-{n}/cars", ""),
    "POST /users (existing)": ("POST", "/users", '{"username": "seed-{n}"}'),
    "POST /users/{username}/cars": ("POST", "/users/seed-{n}/cars", '{"model": "Golf"}'),
}
WARMUP = 200
INPROCESS = Path(__file__).with_name("inprocess.py")  # run by path: any checkout's best_app


def count(checkout: Comparison, database_url: str, endpoint: str, requests: int) -> int:
    """Instructions of one in-process run: WARMUP requests, then `requests` more."""
    method, path, body = REQUESTS[endpoint]
    with tempfile.NamedTemporaryFile(prefix="cachegrind-") as out:
        env = inherited_env() | POOL | SERVE_ALL | checkout.env
        env |= {"PYTHONPATH": str(checkout.workdir), "DATABASE_URL": database_url}
        subprocess.run(  # noqa: S603
            ["valgrind", "--tool=cachegrind", "--cache-sim=no",  # noqa: S607
             f"--cachegrind-out-file={out.name}", sys.executable, str(INPROCESS),
             method, path, "--body", body, "--rounds", "1", "--warmup", str(WARMUP),
             "--requests", str(requests)],
            cwd=checkout.workdir, env=env, check=True, capture_output=True,
        )  # fmt: skip
        for line in Path(out.name).read_text().splitlines():
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise RuntimeError(f"no summary line in cachegrind's output for {endpoint}")


def per_request(checkout: Comparison, database_url: str, endpoint: str, requests: int) -> float:
    fewer = count(checkout, database_url, endpoint, 1)
    more = count(checkout, database_url, endpoint, 1 + requests)
    return (more - fewer) / requests


def markdown(table: dict[str, dict[str, float]], names: list[str], requests: int) -> str:
    this, others = names[0], names[1:]
    columns = [f"{n} instructions/request" for n in names] + [f"{this}/{o}" for o in others]
    lines = ["| endpoint | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for endpoint, row in table.items():
        cells = [f"{row[n]:,.0f}" for n in names] + [f"{row[this] / row[o]:.3f}x" for o in others]
        lines.append(f"| `{endpoint}` | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Counted by valgrind's cachegrind over {requests} requests sent one after another "
        f"in process (after {WARMUP} warm-up requests; `scripts/benchmark/instructions.py`).",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="GIT_REF", action="append", default=[])
    parser.add_argument("--variant", type=parse_variant, action="append", default=[])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed: apt-get install valgrind")
    work = Path(tempfile.mkdtemp(prefix="best_app-instructions-"))
    baselines = [Comparison(ref, export_commit(ref, work / ref), {}) for ref in args.baseline]
    checkouts = [Comparison("best_app", ROOT, {}), *baselines, *args.variant]
    server_url = os.environ.get("BENCH_DATABASE_URL") or embedded_pg.start(
        ROOT / ".data" / "pg", "postgres"
    )
    database_url = prepare_database(server_url)
    jobs = [(c, e) for e in REQUESTS for c in checkouts]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        counts = list(
            pool.map(lambda job: per_request(job[0], database_url, job[1], args.requests), jobs)
        )
    table: dict[str, dict[str, float]] = {}
    for (checkout, endpoint), value in zip(jobs, counts, strict=True):
        table.setdefault(endpoint, {})[checkout.name] = value
    names = [c.name for c in checkouts]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "instructions.json").write_text(json.dumps(table, indent=2))
    report = markdown(table, names, args.requests)
    (args.out / "instructions.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
