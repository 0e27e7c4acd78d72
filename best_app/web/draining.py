"""Readiness during shutdown: from the stop signal on, `/readyz` answers 503.

`best-app serve` with one process per replica (`best_app/ops/replica.py`) starts the drain when
SIGTERM arrives and keeps serving every request for `SHUTDOWN_DRAIN_SECONDS`, so that load
balancers (HAProxy's health checks, a Kubernetes readiness probe) take the replica out of
rotation before it stops accepting connections.
"""

from __future__ import annotations

from quart import Quart

_KEY = "drain"


class Drain:
    """Whether this process is draining: still serving, no longer ready."""

    def __init__(self) -> None:
        self._draining = False

    @property
    def draining(self) -> bool:
        return self._draining

    def begin(self) -> None:
        self._draining = True


def init_app(app: Quart) -> Drain:
    drain = Drain()
    app.extensions[_KEY] = drain
    return drain


def drain_of(app: Quart) -> Drain:
    drain: Drain = app.extensions[_KEY]
    return drain
