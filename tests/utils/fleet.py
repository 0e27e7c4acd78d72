"""Replicas of this code (`best-app serve`) behind a real HAProxy, replaced one at a time.

A rolling restart and a release both do this: each replica in turn gets SIGTERM, exits 0, and a
new one takes its place and its port, back in rotation before the next one goes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.utils.haproxy import HAProxy, run_haproxy
from tests.utils.server import REPLICA, Server, run_server


@dataclass
class Fleet:
    """The replicas in HAProxy's order (app1, app2, ...) and the proxy in front of them."""

    replicas: list[Server]
    proxy: HAProxy
    stack: ExitStack
    workdir: Path

    async def replace(self, i: int, env: Mapping[str, str], label: str) -> None:
        """Stop replica `i` (it must exit 0), start one on `env` and wait until HAProxy has it
        UP. HAProxy knows replica `i` as app{i + 1}; the new one logs to app{i + 1}-{label}.log.
        """
        name = f"app{i + 1}"
        assert await asyncio.to_thread(self.replicas[i].terminate) == 0
        self.replicas[i] = self.stack.enter_context(
            run_server(env, self.workdir / f"{name}-{label}.log", server=REPLICA)
        )
        await asyncio.to_thread(self.proxy.wait_for, name, "UP")


@contextmanager
def replicas_behind_haproxy(
    envs: Sequence[Mapping[str, str]], workdir: Path, label: str
) -> Iterator[Fleet]:
    """One replica per env (logging to app{n}-{label}.log) and HAProxy in front of them, all
    UP when yielded; every process started here is stopped on the way out."""
    with ExitStack() as stack:
        replicas = [
            stack.enter_context(run_server(env, workdir / f"app{i}-{label}.log", server=REPLICA))
            for i, env in enumerate(envs, start=1)
        ]
        proxy = stack.enter_context(
            run_haproxy([f"127.0.0.1:{env['PORT']}" for env in envs], workdir)
        )
        yield Fleet(replicas, proxy, stack, workdir)
