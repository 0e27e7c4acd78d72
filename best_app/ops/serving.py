"""Hypercorn's configuration, from the same settings as the app.

    hypercorn --config python:best_app.ops.serving 'best_app:create_app()'

Importing this module does nothing: Hypercorn reads the module's attributes (`Config.from_object`),
and the first read loads the settings once and prepares the metrics directory
(`hypercorn_config`). `best-app serve` builds the same `Config` from settings it already holds.
"""

from __future__ import annotations

import functools
import os
import tempfile
from typing import Any

from hypercorn.config import Config

from best_app.config import Settings, load_settings
from best_app.observability.access_log import AccessLogger
from best_app.observability.metrics import MULTIPROC_ENV

__all__ = ["hypercorn_config", "hypercorn_options"]


def prepare_metrics_dir() -> str:
    """Where every worker's metrics meet: the operator's PROMETHEUS_MULTIPROC_DIR, used as it is,
    or a fresh directory of our own. Exported so that the workers started afterwards inherit it."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        os.makedirs(directory, exist_ok=True)
    else:
        directory = tempfile.mkdtemp(prefix="best_app-metrics-")
        os.environ[MULTIPROC_ENV] = directory
    return directory


def hypercorn_options(settings: Settings) -> dict[str, Any]:
    """Hypercorn's settings (`Config` attribute names) for `settings`."""
    return {
        "bind": [f"{settings.host}:{settings.port}"],
        "workers": settings.web_concurrency,
        "worker_class": "uvloop",
        "graceful_timeout": settings.graceful_timeout,
        "keep_alive_timeout": settings.keep_alive_timeout,
        "include_server_header": False,
        # Hypercorn's default (100) overflows under bursts of new connections: the kernel then
        # drops them and clients see resets. The kernel caps it at net.core.somaxconn.
        "backlog": 2048,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": settings.log_level,
        # Hypercorn calls `logger_class(config)`; the access logger gets the same settings.
        "logger_class": functools.partial(AccessLogger, settings=settings),
    }


def hypercorn_config(settings: Settings) -> Config:
    """The server's `Config`, after preparing the metrics directory the workers will share."""
    prepare_metrics_dir()
    return Config.from_mapping(hypercorn_options(settings))


@functools.cache
def _from_environment() -> dict[str, Any]:
    settings = load_settings()
    prepare_metrics_dir()
    return hypercorn_options(settings)


_OPTION_NAMES = (
    "bind", "workers", "worker_class", "graceful_timeout", "keep_alive_timeout",
    "include_server_header", "backlog", "accesslog", "errorlog", "loglevel", "logger_class",
)  # fmt: skip


def __dir__() -> list[str]:
    # What `Config.from_object` lists: only Hypercorn's settings (PEP 562 module attributes).
    return list(_OPTION_NAMES)


def __getattr__(name: str) -> Any:
    # Evaluated on first read, not at import (PEP 562).
    if name in _OPTION_NAMES:
        return _from_environment()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
