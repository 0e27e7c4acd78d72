"""A real HAProxy with the shipped configuration (deploy/haproxy/haproxy.cfg), on a free port."""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.utils.server import ROOT, free_port

CONFIG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
BACKEND = "best_app"


def haproxy_binary() -> str | None:
    return shutil.which("haproxy", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/local/sbin")


@dataclass
class HAProxy:
    url: str
    process: subprocess.Popen[str]
    stats_socket: Path
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def server_states(self) -> dict[str, str]:
        """{server name: "UP" | "DOWN" | ...} for the app's backend, from the runtime API."""
        return {name: row["status"] for name, row in self.server_stats().items()}

    def server_stats(self) -> dict[str, dict[str, str]]:
        """{server name: its `show stat` row} for the app's backend (`status`; `chkdown`, how
        many times checks took it down; `qtime`, `rtime`; HAProxy's management guide)."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(str(self.stats_socket))
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        rows = csv.DictReader(data.decode().removeprefix("# ").splitlines())
        return {
            row["svname"]: row
            for row in rows
            if row["pxname"] == BACKEND and row["svname"] not in {"FRONTEND", "BACKEND"}
        }

    def wait_for(self, server: str, status: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while (found := self.server_states().get(server)) != status:
            if time.monotonic() > deadline:
                raise AssertionError(f"{server} is {found}, not {status}:\n{self.log()}")
            time.sleep(0.05)


@contextmanager
def run_haproxy(servers: Sequence[str], workdir: Path) -> Iterator[HAProxy]:
    """HAProxy in front of `servers` (host:port each, up to 4), all of them UP when yielded."""
    binary = haproxy_binary()
    assert binary is not None, "haproxy is not installed"
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("BEST_APP_")}
    env.update(
        HAPROXY_BIND=f"127.0.0.1:{port}",
        HAPROXY_STATS_SOCKET=str(workdir / "haproxy.sock"),
        **{f"BEST_APP_SERVER_{i}": address for i, address in enumerate(servers, start=1)},
    )
    log_path = workdir / "haproxy.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 - our own command line
            [binary, "-db", "-f", str(CONFIG)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    haproxy = HAProxy(f"http://127.0.0.1:{port}", process, workdir / "haproxy.sock", log_path)
    try:
        deadline = time.monotonic() + 15
        while not haproxy.stats_socket.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not start:\n{haproxy.log()}")
            time.sleep(0.05)
        for i in range(1, len(servers) + 1):
            haproxy.wait_for(f"app{i}", "UP")
        yield haproxy
    finally:
        process.terminate()
        process.wait(timeout=10)
