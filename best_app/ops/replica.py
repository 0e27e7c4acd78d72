"""`best-app serve` with one process per replica: Hypercorn's `serve()` with a drain.

Replicas are the unit of scale (`WEB_CONCURRENCY=1`, one per container or pod). When the stop
signal arrives (SIGTERM, or SIGINT), `/readyz` answers 503 at once while the listener stays open
and every request is still served, for `SHUTDOWN_DRAIN_SECONDS`: long enough for a load
balancer's health checks to take the replica out of rotation. Then Hypercorn closes the
listener (new connections are refused, so a proxy retries them elsewhere) and gives in-flight
requests `GRACEFUL_TIMEOUT` to finish. A second signal cuts the drain short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import uvloop
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart

from best_app import create_app
from best_app.config import Settings
from best_app.ops.serving import hypercorn_options
from best_app.web.draining import drain_of

log = logging.getLogger(__name__)


def run(settings: Settings) -> None:
    """Serve `settings`' app in this process until a stop signal has drained it."""
    # The same options as multi-worker mode, without its metrics directory: one process keeps its
    # metrics in memory (best_app/observability/metrics.py).
    config = Config.from_mapping(hypercorn_options(settings))
    config.workers = 1  # `serve()` runs this one process; WEB_CONCURRENCY=1 says the same
    app = create_app(settings)
    uvloop.run(_serve(app, config, settings.shutdown_drain_seconds))


async def _serve(app: Quart, config: Config, drain_seconds: float) -> None:
    drain = drain_of(app)
    stopping, hurry = asyncio.Event(), asyncio.Event()

    def on_signal() -> None:
        if drain.draining:
            hurry.set()
        else:
            drain.begin()  # before anything else: the very next /readyz is a 503
            stopping.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)

    async def drained() -> None:
        await stopping.wait()
        log.info("stopping: /readyz answers 503; serving on for %gs", drain_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hurry.wait(), drain_seconds)
        log.info(
            "closing the listener; in-flight requests have %gs to finish", config.graceful_timeout
        )

    await serve(app, config, shutdown_trigger=drained)
