"""Traces from a real replica: `best-app serve` exports the spans of requests sent over a real
socket to an OTLP/HTTP receiver, and its access lines carry their trace ids."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.utils.auth import AUTH
from tests.utils.otlp import TRACES_PATH, Received, otlp_receiver
from tests.utils.server import REPLICA, run_server, server_env

pytestmark = pytest.mark.slow
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"


def _server_spans(spans: list[Received]) -> dict[str, Received]:
    return {r.span.name: r for r in spans if r.span.kind == Span.SPAN_KIND_SERVER}


def test_a_replica_exports_its_requests_spans(database_url: str, server_log: Path) -> None:
    name = f"otel{uuid.uuid4().hex[:8]}"
    with otlp_receiver() as receiver:
        env = server_env(
            database_url,
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
            OTEL_BSP_SCHEDULE_DELAY="50",  # milliseconds: the batch goes out soon
            LOG_FORMAT="json",
            SHUTDOWN_DRAIN_SECONDS="0",
        )
        with run_server(env, server_log, server=REPLICA) as server:
            with httpx.Client(base_url=server.url, headers=AUTH) as http:
                traceparent = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
                assert http.post("/users", json={"username": name}, headers=traceparent).is_success
                assert http.get(f"/users/{name}").status_code == 200
                assert http.get("/readyz").status_code == 200
            deadline = time.monotonic() + 10
            while len(_server_spans(receiver.received())) < 2:
                assert time.monotonic() < deadline, f"spans received: {receiver.received()}"
                time.sleep(0.05)
        spans = receiver.received()  # and whatever the shutdown flushed

    assert set(receiver.paths) == {TRACES_PATH}
    by_name = _server_spans(spans)
    assert set(by_name) == {"POST /users", "GET /users/<username:username>"}  # no probe
    created = by_name["POST /users"]
    assert created.span.trace_id.hex() == TRACE_ID
    assert created.span.parent_span_id.hex() == PARENT_ID
    assert created.attributes["http.route"] == "/users"
    assert created.resource["service.name"] == "best_app"
    assert created.resource["host.name"]
    children = [r for r in spans if r.span.parent_span_id == created.span.span_id]
    statements = [str(r.attributes.get("db.statement", "")) for r in children]
    assert any(statement.startswith("INSERT INTO users") for statement in statements)
    assert all(r.span.trace_id.hex() == TRACE_ID for r in children)
    assert not [r for r in spans if r.span.name == "connect"]  # pool checkouts are not exported

    access = [
        line
        for line in map(json.loads, filter(None, server.log().splitlines()))
        if line.get("logger") == "hypercorn.access" and line["path"] == "/users"
    ]
    (line,) = access
    assert line["trace_id"] == TRACE_ID
    assert line["span_id"] == created.span.span_id.hex()
