"""Traces, in process: the app built with an in-memory exporter (a tracer provider passed to
`create_app`, never the global one), and with tracing off."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from asyncpg.connection import LoggedQuery
from opentelemetry import trace
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from quart import Quart
from quart.typing import TestClientProtocol
from sqlalchemy import event

from best_app import create_app
from best_app.config import Settings
from best_app.observability import spans, tracing
from best_app.observability.logs import JsonFormatter
from tests.utils.auth import SendServiceToken
from tests.utils.dbtools import database_of

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
SECRET = "the-secret-detail-7f3a"  # an exception's text, which must stay out of the span
TRANSACTION_CONTROL = {"BEGIN;", "COMMIT;", "ROLLBACK;"}
OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
)


@dataclass
class Traced:
    """A serving app whose spans go to `exporter`, with the statements of each request recorded
    as tests/repositories/test_statement_counts.py counts them: `executed`, what SQLAlchemy
    executes (its `before_cursor_execute` event, which the instrumentation listens to), and
    `sent`, what is sent on the driver without SQLAlchemy's execution (asyncpg's query logger)."""

    client: TestClientProtocol
    exporter: InMemorySpanExporter
    settings: Settings
    executed: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)

    def clear(self) -> None:
        self.exporter.clear()
        self.executed.clear()
        self.sent.clear()
        self.lines.clear()

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def server_span(self) -> ReadableSpan:
        (server,) = [span for span in self.spans() if span.kind == SpanKind.SERVER]
        return server

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        return [
            span
            for span in self.spans()
            if span.parent is not None and span.parent.span_id == parent.context.span_id
        ]


def statement_of(span: ReadableSpan) -> str:
    attributes = span.attributes or {}
    return str(attributes.get("db.statement", attributes.get("db.query.text")))


class _Lines(logging.Handler):
    def __init__(self, lines: list[dict[str, Any]]) -> None:
        super().__init__()
        self.lines = lines
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def _add_test_routes(app: Quart) -> None:
    async def boom() -> str:
        raise RuntimeError(SECRET)

    async def log_a_line() -> str:
        logging.getLogger("best_app.test").info("inside the request")
        return "logged"

    app.add_url_rule("/boom", view_func=boom)
    app.add_url_rule("/log-a-line", view_func=log_a_line)


@pytest.fixture
def clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def traced(
    make_settings: Callable[..., Settings], clean_otel_env: None
) -> AsyncIterator[Traced]:
    exporter = InMemorySpanExporter()
    provider = spans.tracer_provider(SimpleSpanProcessor(exporter))
    settings = make_settings(log_format="json")
    app = create_app(settings, tracer_provider=provider)
    app.asgi_app = SendServiceToken(app.asgi_app)  # type: ignore[method-assign,assignment]
    _add_test_routes(app)
    async with app.test_app() as test_app:
        database = await database_of(app)
        engine = database.engine
        await engine.dispose()  # every connection from now on is a new, logged one
        result = Traced(test_app.test_client(), exporter, settings)

        def executed(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            result.executed.append(statement)

        def sent(query: LoggedQuery) -> None:
            result.sent.append(query.query)

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.driver_connection.add_query_logger(sent)

        event.listen(engine.sync_engine, "before_cursor_execute", executed)
        event.listen(engine.sync_engine.pool, "connect", on_connect)
        handler = _Lines(result.lines)
        logging.getLogger("best_app").addHandler(handler)
        try:
            yield result
        finally:
            logging.getLogger("best_app").removeHandler(handler)
            event.remove(engine.sync_engine, "before_cursor_execute", executed)
            event.remove(engine.sync_engine.pool, "connect", on_connect)
    assert not SQLAlchemyInstrumentor().is_instrumented_by_opentelemetry  # detached after serving


async def _request(traced: Traced, method: str, path: str, body: Any = None) -> int:
    traced.clear()
    response = await traced.client.open(path, method=method, json=body, headers=TRACEPARENT)
    for _ in range(3):  # asyncpg calls query loggers soon after the query, not during it
        await asyncio.sleep(0)
    return response.status_code


async def test_a_write_is_one_server_span_whose_children_are_its_statements(
    traced: Traced, unique: Callable[[str], str]
) -> None:
    assert await _request(traced, "POST", "/users", {"username": unique("t")}) == 201

    server = traced.server_span()
    assert server.name == "POST /users"
    assert server.context.trace_id == int(TRACE_ID, 16)  # the traceparent's trace continues
    assert server.parent is not None
    assert server.parent.span_id == int(PARENT_ID, 16)
    assert server.parent.is_remote
    attributes = server.attributes or {}
    assert attributes["http.route"] == "/users"
    assert attributes["best_app.request_id"]
    assert server.status.status_code == StatusCode.UNSET

    # The children are exactly the statements SQLAlchemy executed for the request, in order,
    # the insert among them (SQLAlchemy 2.1 spans do appear).
    children = traced.children(server)
    assert [statement_of(span) for span in children] == traced.executed
    assert "INSERT" in [statement_of(span).split()[0] for span in children]
    assert all(span.kind == SpanKind.CLIENT for span in children)
    assert all(span.context.trace_id == server.context.trace_id for span in children)
    assert len(traced.spans()) == 1 + len(children)  # no `connect` span, no other span

    # Against the statement budget (tests/repositories/test_statement_counts.py: a new user's
    # registration is 3 statements, the read outside a block, then the read and the insert in
    # it), all executed by SQLAlchemy, so each a span. The driver adds only the transaction's
    # BEGIN and COMMIT, which have none.
    assert len(children) == 3
    assert [s.split()[0].rstrip(";") for s in traced.sent] == ["BEGIN", "COMMIT"], traced.sent


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/users?limit=5", None),
        ("PATCH", "/users/{name}", {"role": "teacher"}),
        ("DELETE", "/users/{gone}", None),
    ],
)
async def test_every_statement_sqlalchemy_executes_is_a_child(
    traced: Traced, unique: Callable[[str], str], method: str, path: str, body: Any
) -> None:
    name, gone = unique("t"), unique("g")
    for username in (name, gone):
        await traced.client.post("/users", json={"username": username})
    assert await _request(traced, method, path.format(name=name, gone=gone), body) < 400
    children = traced.children(traced.server_span())
    assert traced.executed
    assert [statement_of(span) for span in children] == traced.executed


async def test_the_span_is_named_by_the_route_template(
    traced: Traced, unique: Callable[[str], str]
) -> None:
    name = unique("t")
    await traced.client.post("/users", json={"username": name})
    assert await _request(traced, "GET", f"/users/{name}") == 200
    assert traced.server_span().name == "GET /users/<username:username>"
    assert await _request(traced, "GET", "/nowhere") == 404
    assert traced.server_span().name == "GET"  # no route: the method, never the raw path
    assert await _request(traced, "GET", f"/users/{unique('missing')}") == 404
    assert traced.server_span().status.status_code == StatusCode.UNSET  # a 404 is the client's


async def test_an_error_answer_marks_the_span_without_its_detail(traced: Traced) -> None:
    assert await _request(traced, "GET", "/boom") == 500
    server = traced.server_span()
    assert server.name == "GET /boom"
    assert server.status.status_code == StatusCode.ERROR
    texts = [str(value) for value in (server.attributes or {}).values()]
    texts += [str(server.status.description)]
    texts += [str(e.attributes) + e.name for e in server.events]
    assert not [text for text in texts if SECRET in text]


async def test_log_lines_carry_the_trace_id(traced: Traced) -> None:
    assert await _request(traced, "GET", "/log-a-line") == 200
    server = traced.server_span()
    (line,) = [line for line in traced.lines if line["logger"] == "best_app.test"]
    assert line["trace_id"] == TRACE_ID
    assert line["span_id"] == trace.format_span_id(server.context.span_id)
    assert int(line["trace_flags"], 16) & trace.TraceFlags.SAMPLED
    assert line["request_id"] == (server.attributes or {})["best_app.request_id"]

    assert await _request(traced, "GET", "/boom") == 500  # errors.py logs the exception
    (line,) = [line for line in traced.lines if line["level"] == "ERROR"]
    assert line["trace_id"] == TRACE_ID


async def test_health_readiness_and_metrics_export_nothing(traced: Traced) -> None:
    """Not traced, and the readiness check's connection exports no orphan `connect` span."""
    traced.clear()
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await traced.client.get(path, headers=TRACEPARENT)).status_code == 200, path
    assert traced.spans() == ()


def _exporter_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if "Otel" in t.name or "Batch" in t.name]


def test_an_exporter_thread_is_recognised() -> None:
    """What `no_tracing_threads` looks for: the thread a BatchSpanProcessor starts."""
    before = _exporter_threads()
    processor = BatchSpanProcessor(InMemorySpanExporter())
    try:
        assert len(_exporter_threads()) == len(before) + 1
    finally:
        processor.shutdown()  # type: ignore[no-untyped-call]  # untyped in the SDK


@pytest.fixture
def no_tracing_threads() -> Iterator[None]:
    before = _exporter_threads()
    yield
    assert _exporter_threads() == before


@pytest.mark.usefixtures("clean_otel_env", "no_tracing_threads")
@pytest.mark.parametrize(
    "env",
    [
        {},
        {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
    ],
    ids=["default", "sdk-disabled", "exporter-none"],
)
async def test_off_without_an_exporter(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    make_settings: Callable[..., Settings],
    unique: Callable[[str], str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = create_app(make_settings(log_format="json"))
    app.asgi_app = SendServiceToken(app.asgi_app)  # type: ignore[method-assign,assignment]
    seen: list[trace.Span] = []

    async def current() -> str:
        seen.append(trace.get_current_span())
        return "ok"

    app.add_url_rule("/current", view_func=current)
    assert not isinstance(app.asgi_app, spans.ServerSpans)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        assert (await client.get("/current", headers=TRACEPARENT)).status_code == 200
        assert (await client.post("/users", json={"username": unique("off")})).status_code == 201
        assert not SQLAlchemyInstrumentor().is_instrumented_by_opentelemetry
    (span,) = seen
    assert not span.is_recording()
    assert not span.get_span_context().is_valid  # no span at all: nobody read the traceparent


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
        ({"OTEL_SDK_DISABLED": "TRUE", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, True),
    ],
)
def test_exporter_configured(env: dict[str, str], on: bool) -> None:
    assert tracing.exporter_configured(env) is on


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER: zipkin unknown"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not installed",
        ),
    ],
)
def test_an_exporter_it_cannot_honour_stops_start_up(env: dict[str, str], message: str) -> None:
    with pytest.raises(tracing.TracingSettingsError, match=message):
        tracing.exporter_configured(env)


@pytest.mark.parametrize(
    ("env", "service"),
    [
        ({}, "best_app"),
        ({"OTEL_SERVICE_NAME": "best_app-eu"}, "best_app-eu"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=replica-set-a"}, "replica-set-a"),
    ],
)
def test_the_resource_names_the_service_host_and_process(
    env: dict[str, str], service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    attributes = spans.resource().attributes
    assert attributes["service.name"] == service
    assert attributes["host.name"]
    assert attributes["process.pid"] == os.getpid()
