"""The OpenTelemetry machinery of `best_app.observability.tracing`, imported only when tracing is
on (the SDK, the OTLP exporter and the instrumentations are not even loaded otherwise).

Server spans: Quart has no released OpenTelemetry instrumentation of its own, so the span comes
from `opentelemetry-instrumentation-asgi`'s `OpenTelemetryMiddleware` around the app's ASGI
callable (Quart's place for middleware), with its `receive`/`send` sub-spans excluded. The
middleware names a span by method and raw path; `RouteNames` renames it by the matched route
template (`GET /users/<username:username>`: few names however many users), which
`record_route` has put in the scope by the time the response starts, and adds the request id.
Health, readiness and metrics requests are not traced (`UNTRACED`).

Statement spans: `opentelemetry-instrumentation-sqlalchemy`, attached to the request engine's
`sync_engine` when `Database` creates it (`Database.on_engine`), not to the readiness engine,
and not the asyncpg instrumentation as well (it would make a second span per statement). Three
things about it, each pinned by `tests/observability/test_tracing.py`:

- Version 0.66b declares `sqlalchemy < 2.1`, and `instrument()` checks that first: on the
  locked SQLAlchemy 2.1 it logs an error and instruments nothing. It works on 2.1 (it listens
  to SQLAlchemy's documented `before_cursor_execute`, `after_cursor_execute` and `handle_error`
  engine events), so the check is skipped (`skip_dep_check=True`); the tests check that the
  spans appear.
- Its instrumentor is one object per process, and `instrument()` does nothing while it is
  instrumented: it is instrumented when the engine is created and uninstrumented after serving,
  one traced app at a time per process (each Hypercorn worker is its own process).
- It also wraps `Engine.connect` for every engine in the process, making a `connect` span for
  each connection taken from a pool (no SQL in it): a root span of its own for every readiness
  probe, which is not traced. `InRequestsOnly`, a span processor in front of the exporter,
  exports the SQLAlchemy spans that belong to a request's trace and are statements: no
  `connect` span, and nothing from background work.

Every statement the repositories send goes through SQLAlchemy's execution
(`best_app.repositories.query`), so each has its span. The one exception is `FASTPATH`'s
`alone` trick (`best_app.fastpath`, off by default): a purchase it sends on the driver has no
statement span (its time is in the server span's).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, ASGISendEvent, Scope
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import HOST_NAME, PROCESS_PID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE
from quart import Quart
from sqlalchemy.ext.asyncio import AsyncEngine

from best_app.web.middleware import ROUTE_KEY, ASGIApp
from best_app.web.request_id import request_id

# Requests that operators' machinery sends all the time: tracing them is noise and cost.
UNTRACED = frozenset({"/healthz", "/readyz", "/metrics"})
REQUEST_ID_ATTRIBUTE = "best_app.request_id"
SERVICE = "best_app"
_SQLALCHEMY_SCOPE = SQLAlchemyInstrumentor.__module__  # the instrumentation's tracer name
_FLUSH_MILLIS = 5000  # at shutdown, for the spans still queued

EngineHook = Callable[[AsyncEngine], None]


class InRequestsOnly(SpanProcessor):
    """Passes on every span but SQLAlchemy's `connect` spans and its spans outside a trace.

    A `connect` span times taking a connection from the pool and holds no SQL; without a parent
    (a readiness probe, any background work) it would be a trace of its own. A statement span
    without a parent is background work too. Everything else goes to `processor`.
    """

    def __init__(self, processor: SpanProcessor) -> None:
        self.processor = processor

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        scope = span.instrumentation_scope
        ours = scope is not None and scope.name == _SQLALCHEMY_SCOPE
        if ours and (span.name == "connect" or span.parent is None):
            return
        self.processor.on_end(span)

    def shutdown(self) -> None:
        self.processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.processor.force_flush(timeout_millis)


def resource() -> Resource:
    """Who sends the spans: the service (`OTEL_SERVICE_NAME`, default best_app), the host (the
    container or pod: which replica) and the process (which worker)."""
    detected = Resource.create({HOST_NAME: socket.gethostname(), PROCESS_PID: os.getpid()})
    if str(detected.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        return detected.merge(Resource({SERVICE_NAME: SERVICE}))
    return detected


def tracer_provider(processor: SpanProcessor) -> TracerProvider:
    """A tracer provider that hands spans to `processor` as production does (`InRequestsOnly`
    in front), with the sampler that `OTEL_TRACES_SAMPLER` names. Tests pass an in-memory one."""
    provider = TracerProvider(resource=resource())
    provider.add_span_processor(InRequestsOnly(processor))
    return provider


class RouteNames:
    """ASGI, inside `OpenTelemetryMiddleware`: names the request's span by its route template
    and gives it the request id, when the response starts (the route is matched by then)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        span = trace.get_current_span()
        if not span.is_recording():  # not sampled
            await self.app(scope, receive, send)  # type: ignore[misc]  # Quart's ASGI type
            return

        async def send_naming(message: ASGISendEvent) -> None:
            if message["type"] == "http.response.start":
                route = scope.get(ROUTE_KEY)
                if route is not None:
                    span.update_name(f"{scope['method']} {route}")  # type: ignore[typeddict-item]
                    span.set_attribute(HTTP_ROUTE, str(route))
                rid = request_id()
                if rid is not None:
                    span.set_attribute(REQUEST_ID_ATTRIBUTE, rid)
            await send(message)

        await self.app(scope, receive, send_naming)  # type: ignore[misc]  # as above


def _method_only(scope: Scope) -> tuple[str, dict[str, str]]:
    """The span's name until the route is known: the method (a raw path would make a name per
    user or car; a request that matches no route keeps this name)."""
    return str(scope.get("method", "HTTP")), {}


class ServerSpans:
    """ASGI: a server span per request (`OpenTelemetryMiddleware`), except for `UNTRACED` paths."""

    def __init__(self, app: ASGIApp, provider: TracerProvider) -> None:
        self.app = app
        self.traced = OpenTelemetryMiddleware(
            RouteNames(app),
            default_span_details=_method_only,
            tracer_provider=provider,
            meter_provider=NoOpMeterProvider(),  # /metrics has the request metrics already
            exclude_spans=["receive", "send"],
        )

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "http" and scope["path"] not in UNTRACED:
            await self.traced(scope, receive, send)  # type: ignore[arg-type]  # its own ASGI types
        else:
            await self.app(scope, receive, send)  # type: ignore[misc]  # Quart's ASGI type


class StatementSpans:
    """Attaches SQLAlchemy's instrumentation to each request engine; detaches it after serving."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.instrumented = False

    def __call__(self, engine: AsyncEngine) -> None:
        instrumentor = SQLAlchemyInstrumentor()
        if instrumentor.is_instrumented_by_opentelemetry:
            raise RuntimeError(
                "SQLAlchemy's instrumentation is already attached in this process (to another "
                "traced app's engine); it is one per process"
            )
        instrumentor.instrument(
            engine=engine.sync_engine,
            tracer_provider=self.provider,
            meter_provider=NoOpMeterProvider(),  # /metrics has the pool's gauges
            # 0.66b declares sqlalchemy < 2.1 and otherwise does nothing on 2.1 (module docstring).
            skip_dep_check=True,
        )
        self.instrumented = True

    def detach(self) -> None:
        if self.instrumented:
            SQLAlchemyInstrumentor().uninstrument()
            self.instrumented = False


def install(
    app: Quart, on_engine: Callable[[EngineHook], None], provider: TracerProvider | None
) -> None:
    """Trace `app`: to `provider`, or to the OTLP/HTTP exporter the environment configures.
    `on_engine` registers a hook called with each request engine (`Database.on_engine`)."""
    if provider is None:
        provider = tracer_provider(BatchSpanProcessor(OTLPSpanExporter()))
    statements = StatementSpans(provider)
    on_engine(statements)
    # Quart's place for middleware:
    app.asgi_app = ServerSpans(app.asgi_app, provider)  # type: ignore[method-assign]
    traced_provider = provider

    async def finish() -> None:
        statements.detach()
        traced_provider.force_flush(_FLUSH_MILLIS)  # the queued spans, before the process ends

    app.after_serving(finish)
