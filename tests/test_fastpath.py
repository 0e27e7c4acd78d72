"""`best_app.fastpath`: off by default, the library versions its tricks were written for (and
their refusal on others), and the `http` trick's switch and what it does differently.

The app is driven through its ASGI interface as a server drives it, with the `http` trick on
and off: whether a request has fully arrived or is still arriving, the answer is the same;
with the trick off, Quart's documented behaviour holds (a client that disconnects cancels its
handler). The whole suite runs once more with `FASTPATH=on`. What the database receives with
the `alone` trick is in `tests/repositories/test_fastpath.py`."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from importlib.metadata import version
from typing import Any

import pytest
import quart.asgi
from packaging.version import Version
from quart import Quart
from quart.asgi import ASGIHTTPConnection
from quart.wrappers.request import Body
from quart.wrappers.response import DataBody

from best_app import create_app, fastpath
from best_app.config import Settings
from tests.utils.auth import AUTH

# An ASGI app as these tests drive it: with plain dict messages (Quart types its parameters
# with Hypercorn's TypedDicts, which raw test messages and `sent[0]["status"]` do not fit).
ASGIApp = Callable[..., Coroutine[Any, Any, None]]


@pytest.fixture(params=["on", "off"], ids=["fastpath-on", "fastpath-off"])
async def served(
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
            (b"authorization", AUTH["Authorization"].encode()),
            (b"content-type", b"application/json"),
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
    served: Quart, unique: Callable[[str], str], shape: str
) -> None:
    for late in (False, True):
        body = json.dumps({"username": unique("c")}).encode()
        messages = BODY_SHAPES[shape](body)
        sent = await _call(served, _scope("POST", "/users", body), messages, late=late)
        assert sent[0]["type"] == "http.response.start"
        assert sent[0]["status"] == 201, late
        response = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
        assert response["username"] == json.loads(body)["username"]


async def test_a_get_is_answered_with_its_body(served: Quart) -> None:
    request = [{"type": "http.request", "body": b"", "more_body": False}]
    sent = await _call(served, _scope("GET", "/hello/say"), request, late=False)
    assert sent[0]["type"] == "http.response.start"
    assert sent[-1]["more_body"] is False
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"Hello XY!"


async def test_a_client_gone_before_its_body_arrived_gets_no_answer_and_no_write(
    served: Quart, unique: Callable[[str], str]
) -> None:
    name = unique("gone")
    body = json.dumps({"username": name}).encode()
    for late in (False, True):
        messages: list[dict[str, Any]] = [
            {"type": "http.request", "body": body[:5], "more_body": True},
            {"type": "http.disconnect"},
        ]
        assert await _call(served, _scope("POST", "/users", body), messages, late=late) == []
    request = [{"type": "http.request", "body": b"", "more_body": False}]
    sent = await _call(served, _scope("GET", f"/users/{name}"), request, late=False)
    assert sent[0]["status"] == 404


@pytest.mark.parametrize("shape", BODY_SHAPES)
async def test_a_body_over_the_limit_is_413_however_and_whenever_it_arrives(
    served: Quart, shape: str
) -> None:
    limit = served.config["MAX_CONTENT_LENGTH"]
    body = b'{"username": "' + b"x" * limit + b'"}'
    for late in (False, True):
        messages = BODY_SHAPES[shape](body)
        sent = await _call(served, _scope("POST", "/users", body), messages, late=late)
        assert sent[0]["status"] == 413, late


async def test_a_body_that_stops_arriving_is_408(served: Quart) -> None:
    served.config["BODY_TIMEOUT"] = 0.2
    body = json.dumps({"username": "stalled"}).encode()
    messages = [{"type": "http.request", "body": body[:5], "more_body": True}]  # and no more
    sent = await _call(served, _scope("POST", "/users", body), messages, late=False)
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


PINS = [(trick, package) for trick, pins in fastpath.PINNED.items() for package in pins]


@pytest.mark.parametrize(("trick", "package"), PINS)
def test_the_libraries_are_versions_the_tricks_were_written_for(trick: str, package: str) -> None:
    # A new release fails here (and the trick is refused at start) until the trick's
    # assumptions (the module's text) are re-read against it, re-measured, and the pin moved.
    low, high = fastpath.PINNED[trick][package]
    installed = Version(version(package))
    assert Version(low) <= installed < Version(high), f"{package} {installed}: re-check {trick}"


def test_the_default_settings_switch_on_no_trick(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FASTPATH", raising=False)  # the suite's own runs set it
    settings = make_settings()
    assert settings.fastpath == ()
    assert fastpath.switched_on(settings) == ()
    assert fastpath.session_info(()) == {}
    assert create_app(settings).asgi_http_class is ASGIHTTPConnection


@pytest.mark.parametrize("trick", list(fastpath.PINNED))
def test_a_trick_asked_for_on_an_unpinned_version_is_refused_with_a_log_line(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture, trick: str
) -> None:
    versions = fastpath.installed_versions()
    package, (_, high) = next(iter(fastpath.PINNED[trick].items()))
    unpinned = {**versions, package: high}  # the first release outside the range
    settings = make_settings(fastpath="on")
    with caplog.at_level(logging.WARNING, logger="best_app.fastpath"):
        assert trick not in fastpath.switched_on(settings, versions=unpinned)
        assert fastpath.switched_on(settings, versions=versions) == settings.fastpath
    [line] = [record.getMessage() for record in caplog.records]
    assert line.startswith(f"FASTPATH trick {trick!r} refused: {package} {high} (pinned: >=")
    assert line.endswith("using the plain path (best_app/fastpath.py)")


def test_a_refused_http_trick_leaves_quarts_own_handling(
    make_settings: Callable[..., Settings],
) -> None:
    tricks = fastpath.switched_on(make_settings(fastpath="http"), versions={"quart": "0.23.0"})
    app = create_app(make_settings(fastpath="off"))
    fastpath.install(app, tricks)
    assert app.asgi_http_class is ASGIHTTPConnection


def test_the_quart_internals_it_uses_are_there_as_it_expects() -> None:
    def parameters(func: Callable[..., Any]) -> list[str]:
        return list(inspect.signature(func).parameters)

    assert parameters(ASGIHTTPConnection._create_request_from_scope) == ["self", "send"]
    assert parameters(ASGIHTTPConnection._send_response) == ["self", "send", "response"]
    assert parameters(ASGIHTTPConnection.handle_request) == ["self", "request", "send"]
    assert parameters(quart.asgi._handle_exception) == ["app", "error"]
    assert parameters(Body.append) == ["self", "data"]
    assert parameters(Body.set_complete) == ["self"]
    body = DataBody(b"abc")  # an in-memory response body, sent as data[begin:end]
    assert (body.data, body.begin, body.end) == (b"abc", 0, 3)


def test_the_switch_puts_it_in_place_or_leaves_quarts_own(
    make_settings: Callable[..., Settings],
) -> None:
    assert create_app(make_settings(fastpath="on")).asgi_http_class is fastpath.HTTPConnection
    assert create_app(make_settings(fastpath="http")).asgi_http_class is fastpath.HTTPConnection
    assert create_app(make_settings(fastpath="off")).asgi_http_class is ASGIHTTPConnection
    assert create_app(make_settings(fastpath="alone")).asgi_http_class is ASGIHTTPConnection


async def test_a_get_that_has_arrived_is_answered_in_two_messages(
    make_settings: Callable[..., Settings],
) -> None:
    request = [{"type": "http.request", "body": b"", "more_body": False}]
    app = create_app(make_settings(fastpath="http"))
    async with app.test_app():
        sent = await _call(app, _scope("GET", "/hello/say"), request, late=False)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[1] == {"type": "http.response.body", "body": b"Hello XY!", "more_body": False}


async def test_its_trade_a_disconnect_does_not_cancel_the_handler(
    make_settings: Callable[..., Settings],
) -> None:
    outcome, sent = await handler_outcome_when_the_client_leaves(make_settings(fastpath="http"))
    assert outcome == ["finished"]
    assert sent[0]["status"] == 200  # the server drops it: its client is gone


HYPERCORN_SHAPED = [  # a body, then the empty message that ends it
    {"type": "http.request", "body": b'{"username": "NAME"}', "more_body": True},
    {"type": "http.request", "body": b"", "more_body": False},
]


@pytest.mark.parametrize(
    ("method", "messages"),
    [
        ("GET", [{"type": "http.request", "body": b"", "more_body": False}]),
        ("POST", [{"type": "http.request", "body": b'{"username": "NAME"}', "more_body": False}]),
        ("POST", HYPERCORN_SHAPED),
    ],
    ids=["get", "post-one-message", "post-hypercorn-shaped"],
)
@pytest.mark.parametrize("tricks", ["http", "alone"])
async def test_a_request_that_arrived_whole_is_handled_in_the_servers_task_with_http(
    make_settings: Callable[..., Settings],
    unique: Callable[[str], str],
    method: str,
    messages: list[dict[str, Any]],
    tricks: str,
) -> None:
    app = create_app(make_settings(fastpath=tricks))
    handled_in: list[asyncio.Task[Any] | None] = []

    @app.route("/where", methods=["GET", "POST"])
    async def where() -> str:
        handled_in.append(asyncio.current_task())
        return "here"

    name = unique("w").encode()
    requests = [{**m, "body": m["body"].replace(b"NAME", name)} for m in messages]
    async with app.test_app():
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for message in requests:
            queue.put_nowait(message)
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        asgi: ASGIApp = app
        body = b"".join(m["body"] for m in requests)
        scope = _scope(method, "/where", body)
        server_task = asyncio.create_task(asgi(scope, queue.get, send))
        await asyncio.wait_for(server_task, 10)
    assert sent[0]["status"] == 200
    assert (handled_in == [server_task]) is (tricks == "http")
