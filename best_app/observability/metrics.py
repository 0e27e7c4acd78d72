"""Prometheus metrics: requests by route template and status, latency, the database pool,
and each worker's process figures.

Hypercorn workers are separate processes, so `best_app.ops.serving` points prometheus-client's
multiprocess mode at a directory (PROMETHEUS_MULTIPROC_DIR) before any worker starts; a
scrape answered by any worker then sums every worker's files. Without that variable (tests,
`best-app serve`'s one process) the ordinary in-memory registry is used.

prometheus-client decides between the two when it is first imported (its value class reads the
variable then), so the scrape decides the same way, once, at import (`MULTIPROCESS`): a variable
set later in the process would make the scrape read files no counter writes to.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import cast

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.process_collector import ProcessCollector
from quart import Quart, Response
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_PROCESS_REFRESH_SECONDS = 5.0

REQUESTS = Counter(
    "best_app_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "best_app_http_request_duration_seconds",
    "Time from the app receiving a request to having sent its response",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
POOL_CHECKED_OUT = Gauge(
    "best_app_db_pool_checked_out", "Database connections in use", multiprocess_mode="livesum"
)
POOL_OVERFLOW = Gauge(
    "best_app_db_pool_overflow",
    "Connections open beyond DB_POOL_SIZE",
    multiprocess_mode="livemax",
)
REFUSED = Counter(
    "best_app_http_requests_refused_total",
    "Requests answered 503 at once because MAX_REQUESTS_IN_FLIGHT were in flight",
)
POOL_TIMEOUTS = Counter(
    "best_app_db_pool_timeouts_total", "Requests that waited past DB_POOL_TIMEOUT for a connection"
)
LOGINS = Counter("best_app_logins_total", "Login attempts by result", ["result"])
RATE_LIMITED = Counter(
    "best_app_rate_limited_total", "Requests refused by a rate limit (429)", ["route"]
)
RATE_LIMIT_STORE_ERRORS = Counter(
    "best_app_rate_limit_store_errors_total",
    "Rate limit checks the store (Redis) failed to answer: failed open, or 503 for logins",
)
# Per worker (labelled by pid in multiprocess mode, where process collectors cannot run).
PROCESS_RSS = Gauge(
    "best_app_process_resident_memory_bytes", "Resident memory of a worker", multiprocess_mode="all"
)
PROCESS_CPU = Gauge(
    "best_app_process_cpu_seconds_total", "CPU time of a worker", multiprocess_mode="all"
)
PROCESS_FDS = Gauge(
    "best_app_process_open_fds", "Open file descriptors of a worker", multiprocess_mode="all"
)


# Read at import, as prometheus-client's own value class does (see the module docstring).
MULTIPROCESS = bool(os.environ.get(MULTIPROC_ENV))


def multiprocess() -> bool:
    return MULTIPROCESS


# Methods outside this set share one label value, so junk methods cannot grow the series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# (method, route, status) -> its counter and histogram children, resolved once.
_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def observe(method: str, route: str, status: int, seconds: float) -> None:
    """Count and time one answered request (called by `best_app.web.middleware.Edge`)."""
    key = (method if method in _METHODS else "OTHER", route, status)
    series = _series.get(key)
    if series is None:
        series = _series[key] = (
            REQUESTS.labels(key[0], route, str(status)),
            LATENCY.labels(key[0], route),
        )
    series[0].inc()
    series[1].observe(seconds)


# Marks a pool entry that `checkout` counted (in its `record_info`, which lives as long as the
# entry), so that `checkin` uncounts only what was counted.
_COUNTED = "best_app.checked_out"


def _marks(entry: ConnectionPoolEntry) -> dict[str, object]:
    # Typed optional for a detached connection's proxy; a pool entry always has its own.
    return cast("dict[str, object]", entry.record_info)


def instrument_pool(engine: AsyncEngine) -> None:
    """Keep the pool gauges for `engine`'s pool.

    The pool fires `checkin` for every `checkout`, and once more without one: when an entry
    whose connection was invalidated (a server or PgBouncer restart) fails to reconnect on its
    way out, SQLAlchemy returns it with a `checkin`. Counted blindly, the gauge went negative
    while PgBouncer restarted; so `checkin` uncounts only an entry that `checkout` marked.
    """
    pool = engine.sync_engine.pool

    def checked_out(_dbapi: object, entry: ConnectionPoolEntry, _proxy: object) -> None:
        marks = _marks(entry)
        if not marks.get(_COUNTED):  # once, even if a listener's retry checks it out again
            marks[_COUNTED] = True
            POOL_CHECKED_OUT.inc()
        POOL_OVERFLOW.set(max(pool.overflow(), 0))  # type: ignore[attr-defined]  # QueuePool's

    def checked_in(_dbapi: object, entry: ConnectionPoolEntry) -> None:
        if _marks(entry).pop(_COUNTED, False):
            POOL_CHECKED_OUT.dec()

    event.listen(pool, "checkout", checked_out)
    event.listen(pool, "checkin", checked_in)


def _refresh_process_metrics(collector: ProcessCollector) -> None:
    for family in collector.collect():
        for sample in family.samples:
            if sample.name == "process_resident_memory_bytes":
                PROCESS_RSS.set(sample.value)
            elif sample.name == "process_cpu_seconds_total":
                PROCESS_CPU.set(sample.value)
            elif sample.name == "process_open_fds":
                PROCESS_FDS.set(sample.value)


async def _refresh_process_metrics_forever() -> None:
    collector = ProcessCollector(registry=None)
    while True:
        _refresh_process_metrics(collector)
        await asyncio.sleep(_PROCESS_REFRESH_SECONDS)


def exposition() -> Response:
    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus-client
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def init_app(app: Quart) -> None:
    refresher: asyncio.Task[None] | None = None

    async def start() -> None:
        nonlocal refresher
        refresher = asyncio.create_task(_refresh_process_metrics_forever())

    async def stop() -> None:
        if refresher is not None:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher

    app.before_serving(start)
    app.after_serving(stop)
