"""Quart's per-request ASGI handling, without the tasks an API request does not need.

Quart's `ASGIHTTPConnection` runs every request as two tasks (one reading the body, one
handling it) joined by `asyncio.wait`, then sends the response through `asyncio.wait_for`,
a third task. Measured in process, that is ~60 µs of Quart's ~150 µs on `GET /hello/say`.
`HTTPConnection` (the app's `asgi_http_class`) keeps Quart's behaviour and drops that cost:

- A request whose body arrived whole with its first message (every GET, every API POST) is
  handled in the server's task for the request. A body still streaming in takes Quart's own
  concurrent path, unchanged (body limits and timeouts as before).
- A response held in memory is sent as two messages (start, body), without `wait_for`; a
  streamed one (a file) keeps Quart's `RESPONSE_TIMEOUT` bound.
- So a client that disconnects mid-request no longer cancels the handler: it finishes and
  the server drops the response. A database call is never cancelled half-way.
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
from quart.asgi import (
    ASGIHTTPConnection,
    _handle_exception,  # Quart's own fallback for errors its handlers let through
)
from quart.typing import ResponseTypes
from quart.utils import encode_headers
from quart.wrappers import Request, Response
from quart.wrappers.response import DataBody


class HTTPConnection(ASGIHTTPConnection):
    async def __call__(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        first = await receive()
        if first["type"] == "http.request" and not first.get("more_body", False):
            request = self._create_request_from_scope(send)
            request.body.append(first.get("body", b""))
            request.body.set_complete()
            await self.handle_request(request, send)
            return

        replayed = False

        async def replay() -> ASGIReceiveEvent:
            nonlocal replayed
            if not replayed:
                replayed = True
                return first
            return await receive()

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
