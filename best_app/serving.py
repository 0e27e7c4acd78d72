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
accesslog = "-"
errorlog = "-"
loglevel = _settings.log_level
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)sus "%({x-request-id}o)s"'
