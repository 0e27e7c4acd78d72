"""Hypercorn's configuration, from the same settings as the app.

hypercorn --config python:best_app.serving 'best_app:create_app()'
"""

from best_app.config import load_settings

_settings = load_settings()

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
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)sus "%({x-request-id}o)s"'
