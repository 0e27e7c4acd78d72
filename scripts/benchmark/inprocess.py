"""Time (or profile) requests through the app's ASGI interface, in process, under uvloop.

    DATABASE_URL=... .venv/bin/python -m scripts.benchmark.inprocess GET /users/seed-1
    ... inprocess POST /users --body '{"username": "seed-1"}' --profile tottime
    ... inprocess GET '/users/seed-{n}'   # each request names one of the seeded users

`{n}` in the path or body becomes a number from 1 to 10,000 (the benchmark's seeded users),
drawn from a fixed-seed generator: every run sends the same requests.

No server and no network: the numbers move far less between runs than wrk's, so a change to
the app's own request path shows up even when it is a few microseconds. Confirm with
`scripts/bench` (real Hypercorn, interleaved rounds) before believing a gain. Requests run
one after another, so a database endpoint's time includes its round trip to PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import statistics
import time
from typing import Any

import uvloop

USERS = 10_000  # as scripts/benchmark/run.py seeds
TOKEN = "inprocess-token"  # noqa: S105 - a throwaway token for the in-process app


def _scope(method: str, path: str, body: bytes) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
                    (b"authorization", f"Bearer {TOKEN}".encode()),
                    (b"content-length", str(len(body)).encode())],
        "extensions": {},
    }  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    os.environ.setdefault("APP_ENV", "production")
    os.environ.setdefault("SECRET_KEY", "i" * 40)
    os.environ.setdefault("API_TOKENS", TOKEN)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from best_app import create_app

    app = create_app()
    users = random.Random(0)  # noqa: S311 - picks test users, not secrets
    statuses: set[int] = set()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    async def one() -> None:
        n = str(users.randint(1, USERS))
        body = args.body.replace("{n}", n).encode()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        queue.put_nowait({"type": "http.request", "body": body, "more_body": False})
        path = args.path.replace("{n}", n)
        await app(_scope(args.method, path, body), queue.get, send)  # type: ignore[arg-type]

    async with app.test_app():  # runs before_serving: engine, pool
        for _ in range(args.warmup):
            await one()
        rounds = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            for _ in range(args.requests):
                await one()
            rounds.append((time.perf_counter() - started) / args.requests * 1e6)
        print(f"{args.method} {args.path}: median {statistics.median(rounds):.1f} µs/request "
              f"over {args.rounds} rounds of {args.requests} {sorted(round(r, 1) for r in rounds)}; "
              f"statuses {sorted(statuses)}")  # fmt: skip
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(args.requests):
                await one()
            profile.disable()
            pstats.Stats(profile).sort_stats(args.profile).print_stats(args.top)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method")
    parser.add_argument("path")
    parser.add_argument("--body", default="")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=300, help="requests before the timing")
    parser.add_argument("--profile", choices=["tottime", "cumtime"], default=None)
    parser.add_argument("--top", type=int, default=40)
    uvloop.run(main(parser.parse_args()))
