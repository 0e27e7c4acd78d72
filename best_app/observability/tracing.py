"""Traces with OpenTelemetry: a server span per request, a child span per SQL statement
(`best_app.observability.spans` makes them; docs/tracing.md is the operator's page).

Off until an exporter is configured, with the standard variables, read from the environment
as the SDK reads them (not from `.env`):

- `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), or
  `OTEL_TRACES_EXPORTER=otlp`: spans go to that collector over OTLP/HTTP (protobuf), in
  batches sent by a background thread. `OTEL_SDK_DISABLED=true` wins over both, and
  `OTEL_TRACES_EXPORTER=none` turns tracing off too.
- The rest as the SDK documents it: `OTEL_SERVICE_NAME` (default `best_app`),
  `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` (default `parentbased_always_on`: a
  `traceparent` that comes in decides, so a trace started at HAProxy or a client continues
  here), `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*` ...

Off, nothing is installed, nor imported: no tracer provider, no middleware, no thread, no
instrumentation; a log line looks for an active span and finds none (`logs.trace_fields`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from quart import Quart
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

# The one OTLP transport installed (opentelemetry-exporter-otlp-proto-http).
_PROTOCOL = "http/protobuf"


class TracingSettingsError(SystemExit):
    """An `OTEL_*` value this service cannot honour: stops start-up with one line."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"invalid settings: {name}: {problem}")


def exporter_configured(environ: Mapping[str, str]) -> bool:
    """Whether `environ` asks for traces: an OTLP exporter or endpoint, unless the SDK is off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    names = {
        name.strip().lower()
        for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",")
        if name.strip()
    }
    if names - {"otlp", "none"}:
        unknown = ", ".join(sorted(names - {"otlp", "none"}))
        raise TracingSettingsError("OTEL_TRACES_EXPORTER", f"{unknown} unknown; use otlp or none")
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = environ.get(name, _PROTOCOL).strip() or _PROTOCOL
        if protocol != _PROTOCOL:
            raise TracingSettingsError(name, f"{protocol} is not installed; use {_PROTOCOL}")
    if names:
        return "otlp" in names
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def init_app(
    app: Quart,
    environ: Mapping[str, str],
    on_engine: Callable[[Callable[[AsyncEngine], None]], None],
    provider: TracerProvider | None = None,
) -> None:
    """Trace `app` when `environ` configures an exporter, or to `provider` when one is given
    (tests: an in-memory exporter; never the global provider). `on_engine` registers a hook
    called with each request engine once it is created (`Database.on_engine`)."""
    if provider is None and not exporter_configured(environ):
        return
    # Imported here: with tracing off, the SDK, exporter and instrumentations never load.
    from best_app.observability import spans  # noqa: PLC0415

    spans.install(app, on_engine, provider)
