"""Quart's per-request ASGI handling, without the tasks an API request does not need.

Quart's `ASGIHTTPConnection` runs every request as two tasks (one reading the body, one
handling it) joined by `asyncio.wait`, then sends the response through `asyncio.wait_for`,
a third task. Measured in process under uvloop, that is ~45 µs of Quart's ~130 µs on
`GET /hello/say`. `HTTPConnection` (the app's `asgi_http_class`) keeps Quart's behaviour and
drops that cost:

- A request that has fully arrived by the time the app runs (the server has already queued
  its messages: every GET, every API POST sent in one piece) is handled in the server's task
  for the request. Messages are only taken if they are waiting; one that would need waiting
  for sends the request down Quart's own concurrent path, unchanged (body streaming,
  `BODY_TIMEOUT`, `MAX_CONTENT_LENGTH` as before).
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
        waiting = await _waiting_messages(receive)
        if waiting and _completes_request(waiting[-1]):
            request = self._create_request_from_scope(send)
            for message in waiting:
                request.body.append(message.get("body", b""))  # type: ignore[arg-type]
            request.body.set_complete()
            await self.handle_request(request, send)
            return

        async def replay() -> ASGIReceiveEvent:
            return waiting.pop(0) if waiting else await receive()

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


def _completes_request(message: ASGIReceiveEvent) -> bool:
    return message["type"] == "http.request" and not message.get("more_body", False)


async def _waiting_messages(receive: ASGIReceiveCallable) -> list[ASGIReceiveEvent]:
    """The request's messages that have already arrived, up to the one that ends it.

    Taking a queued message does not suspend; the first `receive()` that would suspend is
    cancelled at once by the expired timeout (the server's queue loses nothing on cancel).
    """
    messages: list[ASGIReceiveEvent] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0):
            while not messages or messages[-1].get("more_body", False):
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    break
    return messages
