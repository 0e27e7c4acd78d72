"""A real ASGI server serving best_app in a subprocess, on a free 127.0.0.1 port.

Hypercorn (with `best_app/ops/serving.py`, as deployed) unless told otherwise; Uvicorn and Granian
serve the same app so the black-box API tests prove it is an ASGI app, not a Hypercorn one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.utils.auth import TEST_TOKEN

ROOT = Path(__file__).resolve().parents[2]
HYPERCORN = [
    sys.executable, "-m", "hypercorn", "--config", "python:best_app.ops.serving",
    "best_app:create_app()",
]  # fmt: skip
SERVERS = ("hypercorn", "uvicorn", "granian")
# `best-app serve` with WEB_CONCURRENCY=1 (as `server_env` sets): one process per replica,
# draining on SIGTERM (best_app/ops/replica.py).
REPLICA = "best-app serve"


def server_command(server: str, env: Mapping[str, str]) -> list[str]:
    """The command line serving best_app with `server`, on `env`'s HOST and PORT."""
    bind = ["--host", env["HOST"], "--port", env["PORT"]]
    if server == "hypercorn":
        return HYPERCORN  # binds from the settings, in best_app/ops/serving.py
    if server == REPLICA:
        return [sys.executable, "-m", "best_app", "serve"]  # binds from the settings too
    if server == "uvicorn":
        factory = ["--factory", "best_app:create_app", "--no-server-header"]
        return [sys.executable, "-m", "uvicorn", *factory, *bind]
    if server == "granian":
        factory = ["--interface", "asgi", "--factory", "best_app:create_app"]
        return [sys.executable, "-m", "granian", *factory, *bind]
    raise ValueError(f"unknown server {server!r}; known: {', '.join((*SERVERS, REPLICA))}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM (once: Hypercorn's parent can deadlock on a second) and wait."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


def server_env(database_url: str, **overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in {"DATABASE_URL", "API_TOKENS", "MODULES", "CORS_ORIGINS"}
    }
    env.update(
        APP_ENV="testing",
        DATABASE_URL=database_url,
        HOST="127.0.0.1",
        PORT=str(free_port()),
        WEB_CONCURRENCY="1",
        LOG_LEVEL="INFO",
        API_TOKENS=TEST_TOKEN,  # writes need a credential: tests write with this one
    )
    env.update(overrides)
    return env


@contextmanager
def run_server(
    env: Mapping[str, str], log_path: Path, ready_timeout: float = 30, server: str = "hypercorn"
) -> Iterator[Server]:
    """Start `server` with `env`; wait for /healthz; SIGTERM it on the way out."""
    url = f"http://127.0.0.1:{env['PORT']}"
    command = server_command(server, env)
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 - our own command line
            command, cwd=ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT, text=True
        )
    running = Server(url=url, process=process, log_path=log_path)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{running.log()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not up within {ready_timeout}s:\n{running.log()}")
            time.sleep(0.1)
        yield running
    finally:
        if process.poll() is None:
            try:
                running.terminate()
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
