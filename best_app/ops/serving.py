"""Hypercorn's configuration, from the same settings as the app.

hypercorn --config python:best_app.ops.serving 'best_app:create_app()'
"""

import os
import shutil
import tempfile
from pathlib import Path

from best_app.config import load_settings
from best_app.observability.access_log import AccessLogger
from best_app.observability.metrics import MULTIPROC_ENV

_settings = load_settings()

# Metrics from every worker process meet in one directory, emptied when the server starts.
_metrics_dir = Path(
    os.environ.get(MULTIPROC_ENV) or Path(tempfile.gettempdir()) / f"best_app-metrics-{os.getpid()}"
)
shutil.rmtree(_metrics_dir, ignore_errors=True)
_metrics_dir.mkdir(parents=True)
os.environ[MULTIPROC_ENV] = str(_metrics_dir)

bind = [f"{_settings.host}:{_settings.port}"]
workers = _settings.web_concurrency
worker_class = "uvloop"
graceful_timeout = _settings.graceful_timeout
include_server_header = False
# Hypercorn's default (100) overflows under bursts of new connections: the kernel then drops
# them and clients see resets. The kernel caps it at net.core.somaxconn.
backlog = 2048
accesslog = "-"
errorlog = "-"
loglevel = _settings.log_level
logger_class = AccessLogger
