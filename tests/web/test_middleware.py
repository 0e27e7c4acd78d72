"""`best_app.web.middleware`: the metrics' route label is the matched rule, set by `record_route` (a
documented `before_request` hook), also for a request the bearer check refuses; a request that
matches no rule is `<unmatched>`; an answer that leaves the request's body unread says `connection:
close`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    Scope,
)
from prometheus_client import REGISTRY

from best_app import create_app
from best_app.config import Settings
from best_app.web.middleware import CLIENT_LEFT, ASGIApp, Edge


def _count(method: str, route: str, status: int) -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("best_app_http_requests_total", labels) or 0.0


async def test_requests_are_counted_by_their_route_template(
    make_settings: Callable[..., Settings],
) -> None:
    expected = [
        ("GET", "/users/<username:username>", 404, "/users/nobody-here"),
        ("POST", "/users", 401, "/users"),  # refused by the bearer check, after the label
        ("GET", "/hello/say", 200, "/hello/say"),
        ("GET", "<unmatched>", 404, "/no/such/route"),
    ]
    before = [_count(method, route, status) for method, route, status, _ in expected]
    async with create_app(make_settings(api_tokens=("t",))).test_app() as app:
        client = app.test_client()
        for method, _, status, path in expected:
            response = await client.open(path, method=method, json={"username": "x"})
            assert response.status_code == status
    after = [_count(method, route, status) for method, route, status, _ in expected]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1, 1]


def _answer_after(reads: int) -> ASGIApp:
    """An ASGI app that reads `reads` messages of the request, then answers 401."""

    async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        for _ in range(reads):
            await receive()
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


async def _answer_start(
    app: ASGIApp,
    version: str = "1.1",
    headers: list[tuple[bytes, bytes]] | None = None,
    closing: Callable[[], bool] = lambda: False,
) -> list[tuple[bytes, bytes]]:
    """The headers `Edge` sends for `app`'s answer to a POST whose body comes in two parts."""
    body: list[ASGIReceiveEvent] = [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cde", "more_body": False},
    ]
    sent: list[ASGISendEvent] = []

    async def receive() -> ASGIReceiveEvent:
        return body.pop(0)

    async def send(message: ASGISendEvent) -> None:
        sent.append(message)

    scope = {
        "type": "http", "http_version": version, "method": "POST", "path": "/users",
        "headers": headers or [],
    }  # fmt: skip
    await Edge(app, lambda *_: None, closing)(scope, receive, send)  # type: ignore[arg-type]  # the keys Edge reads
    start = sent[0]
    assert start["type"] == "http.response.start"
    return list(start["headers"])


@pytest.mark.parametrize(
    ("version", "headers", "reads", "closes"),
    [
        ("1.1", [(b"content-length", b"5")], 0, True),  # answered before the body
        ("1.1", [(b"content-length", b"5")], 1, True),  # read the first part only
        ("1.1", [(b"content-length", b"5")], 2, False),  # read it all
        ("1.1", [(b"transfer-encoding", b"chunked")], 0, True),
        ("1.0", [(b"content-length", b"5")], 0, True),
        ("1.1", [(b"content-length", b"0")], 0, False),  # no body to leave unread
        ("1.1", [], 0, False),
        ("2", [(b"content-length", b"5")], 0, False),  # HTTP/2: one stream ends, not the connection
    ],
)
async def test_an_answer_that_leaves_the_body_unread_says_connection_close(
    version: str, headers: list[tuple[bytes, bytes]], reads: int, closes: bool
) -> None:
    sent = await _answer_start(_answer_after(reads), version, headers)
    assert ((b"connection", b"close") in sent) is closes


@pytest.mark.parametrize(("version", "closes"), [("1.1", True), ("1.0", True), ("2", False)])
async def test_every_answer_says_connection_close_while_closing(version: str, closes: bool) -> None:
    headers = [(b"content-length", b"5")]
    sent = await _answer_start(_answer_after(2), version, headers, closing=lambda: True)
    assert ((b"connection", b"close") in sent) is closes


@pytest.mark.parametrize("answered", [False, True], ids=["before-answering", "while-answering"])
async def test_a_cancelled_request_is_counted_as_client_left_not_500(answered: bool) -> None:
    observed: list[int] = []

    async def app(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if answered:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(3600)  # the server cancels it here

    async def send(_message: ASGISendEvent) -> None:
        pass

    async def receive() -> ASGIReceiveEvent:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "http_version": "1.1", "method": "GET", "path": "/", "headers": []}
    edge = Edge(app, lambda _method, _route, status, _seconds: observed.append(status))
    task = asyncio.create_task(edge(scope, receive, send))  # type: ignore[arg-type]  # the keys Edge reads
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert observed == [200 if answered else CLIENT_LEFT]
