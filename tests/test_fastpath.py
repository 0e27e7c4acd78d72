"""`best_app.fastpath`'s `http` trick: the Quart versions it was written for, its switch, and
what it does differently. The answers themselves are the same on and off
(`tests/web/test_connection.py`), and the whole suite runs once with `FASTPATH=off`. The
database tricks (`alone`) are proven in `tests/repositories/test_fastpath.py`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import quart.asgi
from packaging.version import Version
from quart.asgi import ASGIHTTPConnection
from quart.wrappers.request import Body
from quart.wrappers.response import DataBody

from best_app import create_app, fastpath
from best_app.config import Settings
from tests.web.test_connection import _call, _scope, handler_outcome_when_the_client_leaves

# The Quart releases whose internals `fastpath.HTTPConnection` was written against and checked
# on: a new Quart fails here until the trick is re-read against it and re-measured.
QUART_RANGE = (Version("0.20"), Version("0.23"))


def test_quart_is_a_version_the_http_trick_was_written_for() -> None:
    low, high = QUART_RANGE
    installed = Version(version("quart"))
    assert low <= installed < high, f"Quart {installed}: re-check best_app/fastpath.py"


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
