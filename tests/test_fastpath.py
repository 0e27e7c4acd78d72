"""`best_app.fastpath`: off by default, the library versions its tricks were written for (and
their refusal on others), and the `http` trick's switch and what it does differently. The
answers themselves are the same on and off (`tests/test_fastpath_http.py`), and the whole suite
runs once with `FASTPATH=off`. What the database receives with the `alone` tricks is in
`tests/repositories/test_fastpath.py`."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import pytest
import quart.asgi
from packaging.version import Version
from quart.asgi import ASGIHTTPConnection
from quart.wrappers.request import Body
from quart.wrappers.response import DataBody

from best_app import create_app, fastpath
from best_app.config import Settings
from tests.web.test_connection import (
    ASGIApp,
    _call,
    _scope,
    handler_outcome_when_the_client_leaves,
)

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
