"""Logging: readable text in development, one JSON object per line in production.

The app's own lines carry the request id of the request being handled; the access lines
(`best_app.observability.access_log`) carry it as a field. Both carry `trace_id`, `span_id`
and `trace_flags` while a span is active (OpenTelemetry's names for trace context in non-OTLP
log formats), so a trace's log lines are found by its id (`best_app.observability.tracing`).
Secrets are never logged: settings hide them in their repr, and no request header other than
X-Request-ID / X-Forwarded-For is read for logs.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import trace

from best_app.config import Settings
from best_app.web.request_id import request_id

# `logger.info(..., extra={FIELDS: {...}})` adds structured fields to a line.
FIELDS = "best_app_fields"


def trace_fields() -> dict[str, str]:
    """`trace_id`, `span_id` and `trace_flags` (`01`: sampled) of the active span, as W3C trace
    context writes them; none without one (tracing off, or outside a request). A request that
    was not sampled has them too: its log lines still join the caller's trace id."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": trace.format_trace_id(context.trace_id),
        "span_id": trace.format_span_id(context.span_id),
        "trace_flags": f"{context.trace_flags:02x}",
    }


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = dict(getattr(record, FIELDS, None) or {})
    rid = request_id()
    if rid is not None:
        fields.setdefault("request_id", rid)
    for name, value in trace_fields().items():
        fields.setdefault(name, value)
    return fields


@dataclass(frozen=True, slots=True)
class LogLine:
    """What a log line says, however it is rendered."""

    created: float
    level: str
    logger: str
    message: str
    fields: Mapping[str, Any]
    exception: str | None = None


class LineFormatter(logging.Formatter):
    """Renders a `LogLine`. `format` makes one from a `LogRecord`; the access logger renders
    its own without building a record (see `best_app.observability.access_log`)."""

    def render(self, line: LogLine) -> str:
        raise NotImplementedError

    def format(self, record: logging.LogRecord) -> str:
        # Logs are for operators; clients never see a traceback.
        exception = self.formatException(record.exc_info) if record.exc_info else None
        return self.render(
            LogLine(
                record.created,
                record.levelname,
                record.name,
                record.getMessage(),
                _fields(record),
                exception,
            )
        )


class JsonFormatter(LineFormatter):
    def render(self, line: LogLine) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(line.created, UTC).isoformat(timespec="milliseconds"),
            "level": line.level,
            "logger": line.logger,
            "message": line.message,
        }
        entry.update(line.fields)
        if line.exception is not None:
            entry["exception"] = line.exception
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(LineFormatter):
    def render(self, line: LogLine) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(line.created))
        millis = int(line.created * 1000) % 1000
        text = f"{stamp},{millis:03d} {line.level:<7} {line.logger}: {line.message}"
        if line.exception is not None:
            text = f"{text}\n{line.exception}"
        rid = line.fields.get("request_id")
        return f"{text} [request_id={rid}]" if rid else text


def formatter_for(settings: Settings) -> LineFormatter:
    return JsonFormatter() if settings.effective_log_format == "json" else TextFormatter()


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter_for(settings))
    logger = logging.getLogger("best_app")
    logger.handlers[:] = [handler]
    logger.setLevel(settings.log_level)
    logger.propagate = False
