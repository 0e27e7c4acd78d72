"""The app driven through its ASGI interface as a server drives it, with `FASTPATH`'s `http`
trick on and off (`best_app.fastpath`): whether a request has fully arrived or is still
arriving, the answer is the same; with the trick off, Quart's documented behaviour holds (a
client that disconnects cancels its handler)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from quart import Quart

from best_app import create_app
from best_app.config import Settings
from tests.utils.auth import AUTH

# An ASGI app as these tests drive it: with plain dict messages (Quart types its parameters
# with Hypercorn's TypedDicts, which raw test messages and `sent[0]["status"]` do not fit).
ASGIApp = Callable[..., Coroutine[Any, Any, None]]


@pytest.fixture(params=["on", "off"], ids=["fastpath-on", "fastpath-off"])
async def app(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> AsyncIterator[Quart]:
    """The app (an ASGI callable) with the fast path on, and off, serving (`test_app()` runs
    its `before_serving` hooks)."""
    quart_app = create_app(make_settings(fastpath=request.param))
    async with quart_app.test_app():
        yield quart_app


def _scope(method: str, path: str, body: bytes = b"") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"authorization", AUTH["Authorization"].encode()),
            # A request with a body says so (a GET without one sends neither this nor
            # Transfer-Encoding, as HTTP/1.1 clients do).
            *([(b"content-length", str(len(body)).encode())] if body else []),
        ],
        "extensions": {},
    }


async def _call(
    app: ASGIApp, scope: dict[str, Any], messages: list[dict[str, Any]], *, late: bool
) -> list[dict[str, Any]]:
    """Run one request; `late` delivers its messages only once the app is waiting for them."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    if not late:
        for message in messages:
            queue.put_nowait(message)
    task = asyncio.create_task(app(scope, queue.get, send))
    if late:
        for message in messages:
            await asyncio.sleep(0.01)
            queue.put_nowait(message)
    await asyncio.wait_for(task, 10)
    return sent


def _body_parts(body: bytes) -> list[dict[str, Any]]:
    half = len(body) // 2
    return [
        {"type": "http.request", "body": body[:half], "more_body": True},
        {"type": "http.request", "body": body[half:], "more_body": True},
        {"type": "http.request", "body": b"", "more_body": False},
    ]


# How servers deliver a body: in one message (Uvicorn, Granian, a small body), as a body and
# then the empty message that ends it (Hypercorn), or in parts.
BODY_SHAPES: dict[str, Callable[[bytes], list[dict[str, Any]]]] = {
    "one-message": lambda body: [{"type": "http.request", "body": body, "more_body": False}],
    "then-end": lambda body: [
        {"type": "http.request", "body": body, "more_body": True},
        {"type": "http.request", "body": b"", "more_body": False},
    ],
    "in-parts": _body_parts,
}


@pytest.mark.parametrize("shape", BODY_SHAPES)
async def test_a_post_is_answered_alike_however_and_whenever_its_body_arrives(
    app: Quart, unique: Callable[[str], str], shape: str
) -> None:
    for late in (False, True):
        body = json.dumps({"username": unique("c")}).encode()
        messages = BODY_SHAPES[shape](body)
        sent = await _call(app, _scope("POST", "/users", body), messages, late=late)
        assert sent[0]["type"] == "http.response.start"
        assert sent[0]["status"] == 201, late
        response = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
        assert response["username"] == json.loads(body)["username"]


async def test_a_get_is_answered_with_its_body(app: Quart) -> None:
    request = [{"type": "http.request", "body": b"", "more_body": False}]
    sent = await _call(app, _scope("GET", "/hello/say"), request, late=False)
    assert sent[0]["type"] == "http.response.start"
    assert sent[-1]["more_body"] is False
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"Hello XY!"


async def test_a_client_gone_before_its_body_arrived_gets_no_answer_and_no_write(
    app: Quart, unique: Callable[[str], str]
) -> None:
    name = unique("gone")
    body = json.dumps({"username": name}).encode()
    for late in (False, True):
        messages: list[dict[str, Any]] = [
            {"type": "http.request", "body": body[:5], "more_body": True},
            {"type": "http.disconnect"},
        ]
        assert await _call(app, _scope("POST", "/users", body), messages, late=late) == []
    request = [{"type": "http.request", "body": b"", "more_body": False}]
    sent = await _call(app, _scope("GET", f"/users/{name}"), request, late=False)
    assert sent[0]["status"] == 404


@pytest.mark.parametrize("shape", BODY_SHAPES)
async def test_a_body_over_the_limit_is_413_however_and_whenever_it_arrives(
    app: Quart, shape: str
) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = b'{"username": "' + b"x" * limit + b'"}'
    for late in (False, True):
        messages = BODY_SHAPES[shape](body)
        sent = await _call(app, _scope("POST", "/users", body), messages, late=late)
        assert sent[0]["status"] == 413, late


async def test_a_body_that_stops_arriving_is_408(app: Quart) -> None:
    app.config["BODY_TIMEOUT"] = 0.2
    body = json.dumps({"username": "stalled"}).encode()
    messages = [{"type": "http.request", "body": body[:5], "more_body": True}]  # and no more
    sent = await _call(app, _scope("POST", "/users", body), messages, late=False)
    assert sent[0]["status"] == 408


async def handler_outcome_when_the_client_leaves(
    settings: Settings,
) -> tuple[list[str], list[dict[str, Any]]]:
    """What became of a handler whose client disconnected while it ran, and what was sent."""
    quart_app = create_app(settings)
    started, release = asyncio.Event(), asyncio.Event()
    outcome: list[str] = []

    @quart_app.get("/slow")
    async def slow() -> str:
        started.set()
        try:
            await release.wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        outcome.append("finished")
        return "done"

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async with quart_app.test_app():
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        queue.put_nowait({"type": "http.request", "body": b"", "more_body": False})
        asgi: ASGIApp = quart_app
        task = asyncio.create_task(asgi(_scope("GET", "/slow"), queue.get, send))
        await asyncio.wait_for(started.wait(), 10)
        queue.put_nowait({"type": "http.disconnect"})
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.wait_for(task, 10)
    return outcome, sent


async def test_a_client_that_disconnects_cancels_its_handler_with_the_http_trick_off(
    make_settings: Callable[..., Settings],
) -> None:
    """Quart's documented behaviour: the handler of a request whose client left is cancelled."""
    outcome, sent = await handler_outcome_when_the_client_leaves(make_settings(fastpath="alone"))
    assert outcome == ["cancelled"]
    assert sent == []
