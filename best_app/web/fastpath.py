"""Performance tricks that rely on framework internals: the one module allowed to.

Everything else in best_app uses only documented extension points (a static test enforces
it). A trick stays here only while it measures >= 5% end to end at the server; each one
states its gain, is switched off by `FASTPATH=off` (README, Settings), and has a test that
pins the framework versions it was written for (`tests/web/test_fastpath.py`).

`FASTPATH=off` runs the plain, documented path; the whole suite runs once that way.

## The connection fast path (`HTTPConnection`, Quart's `asgi_http_class`)

Quart's `ASGIHTTPConnection` runs every request as two tasks (one reading the body, one
handling it) joined by `asyncio.wait`, then sends the response through `asyncio.wait_for`,
a third task. `HTTPConnection` awaits the request's first message itself; when that message
completes the request (every GET, an API POST sent in one piece: servers deliver such a body
whole), it handles the request in the server's task and sends an in-memory response as two
messages. A body in several messages, and streamed responses, take Quart's own path, with the
first message replayed. It never cancels a `receive()` (a server such as Granian loses the
message it was delivering: an earlier version that peeked with a zero timeout answered every
JSON POST under Granian with 400). It uses Quart's private `_create_request_from_scope`,
`_send_response` and `_handle_exception`, and fills the request body itself.

Its trade: a client that disconnects mid-request no longer cancels its handler (nobody reads
the `http.disconnect`; the response is dropped by the server). `FASTPATH=off` keeps Quart's
documented cancel-on-disconnect.

Measured gain (worker CPU per request; this 2-CPU VM is shared and noisy, single rounds spread
by ±15%): in process under uvloop, with vs without, `GET /hello/say` 101 vs 149 µs,
`GET /users/{u}` 481 vs 550 µs, `POST /users` (existing) 686 vs 738 µs (medians of 9
interleaved rounds): 50-70 µs a request. At the server (Hypercorn, one worker, `wrk -c64`,
both servers side by side in alternating rounds, medians of 5): `GET /hello/say` 555 vs 628 µs
(13%), `GET /users/{u}` 1,087 vs 1,226 µs (13%), `POST /users` 1,634 vs 1,652 µs (1%); req/s
moved -3% to +2%, inside the noise. Three earlier server runs, made while a plain-function
`before_request` hook sent every request through a thread (~130 µs each, both sides),
disagreed in sign (-15% to +10% per endpoint). Kept for the reads; re-measure with
`scripts/bench` (`FASTPATH=off` for the other side) before trusting a single figure.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import cast

from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
)
from quart import Quart
from quart.asgi import (
    ASGIHTTPConnection,
    _handle_exception,  # Quart's own fallback for errors its handlers let through
)
from quart.typing import ResponseTypes
from quart.utils import encode_headers
from quart.wrappers import Request, Response
from quart.wrappers.response import DataBody

from best_app.config import Settings


class HTTPConnection(ASGIHTTPConnection):
    async def __call__(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        try:
            async with asyncio.timeout(self.app.config["BODY_TIMEOUT"]):
                first = await receive()
        except TimeoutError:  # nothing arrived: Quart's path answers as Quart does (408)
            await super().__call__(receive, send)
            return
        if first["type"] == "http.request" and not first.get("more_body", False):
            request = self._create_request_from_scope(send)
            request.body.append(first.get("body", b""))
            request.body.set_complete()
            await self.handle_request(request, send)
            return
        replayed = False

        async def replay() -> ASGIReceiveEvent:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return first

        await super().__call__(replay, send)

    async def handle_request(self, request: Request, send: ASGISendCallable) -> None:
        try:
            response: ResponseTypes = await self.app.handle_request(request)
        except Exception as error:
            response = await _handle_exception(self.app, error)
        if isinstance(response, Response) and isinstance(response.response, DataBody):
            body = response.response
            await send(
                HTTPResponseStartEvent(
                    type="http.response.start",
                    status=response.status_code,
                    headers=encode_headers(response.headers),
                )
            )
            await send(
                HTTPResponseBodyEvent(
                    type="http.response.body",
                    body=body.data[body.begin : body.end],
                    more_body=False,
                )
            )
            return
        timeout = self.app.config["RESPONSE_TIMEOUT"]
        if isinstance(response, Response) and response.timeout is not Ellipsis:
            timeout = cast(float | None, response.timeout)
        with contextlib.suppress(TimeoutError):  # Quart's behaviour: the response is cut off
            await asyncio.wait_for(self._send_response(send, response), timeout=timeout)


def install(app: Quart, settings: Settings) -> None:
    """Switch the app's tricks on, unless `FASTPATH=off`."""
    if settings.fastpath:
        app.asgi_http_class = HTTPConnection
