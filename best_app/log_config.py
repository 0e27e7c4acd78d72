"""Logging: readable text in development, one JSON object per line in production.

The app's own lines carry the request id of the request being handled; the access lines
(`best_app.access_log`) carry it as a field. Secrets are never logged: settings hide them in
their repr, and no request header other than X-Request-ID / X-Forwarded-For is read for logs.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from best_app.config import Settings
from best_app.request_id import request_id

# `logger.info(..., extra={FIELDS: {...}})` adds structured fields to a line.
FIELDS = "best_app_fields"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = dict(getattr(record, FIELDS, None) or {})
    rid = request_id()
    if rid is not None:
        fields.setdefault("request_id", rid)
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_fields(record))
        if record.exc_info:
            # Logs are for operators; clients never see this.
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = _fields(record).get("request_id")
        return f"{line} [request_id={rid}]" if rid else line


def formatter_for(settings: Settings) -> logging.Formatter:
    return JsonFormatter() if settings.effective_log_format == "json" else TextFormatter()


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter_for(settings))
    logger = logging.getLogger("best_app")
    logger.handlers[:] = [handler]
    logger.setLevel(settings.log_level)
    logger.propagate = False
