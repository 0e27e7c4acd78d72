"""Keep-alive connections on a real Hypercorn, spoken to byte by byte (h11 as the client).

A client reuses a connection unless the answer said `connection: close`; so a connection the
server is about to close must say so, and an idle one must outlive the client's reuse of it.
Either broken promise shows up as "server disconnected without sending a response" on the
client's next request, at random, under load.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h11
import pytest

from tests.utils.server import Server, run_server, server_env

pytestmark = pytest.mark.slow
TOKEN = "the-token"


def _body() -> bytes:
    return json.dumps({"username": f"keep{uuid.uuid4().hex[:10]}"}).encode()


class Connection:
    """One client connection, request by request."""

    def __init__(self, server: Server) -> None:
        host, port = server.url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.h11 = h11.Connection(h11.CLIENT)

    def send(self, *events: h11.Event) -> None:
        for event in events:
            data = self.h11.send(event)
            if data:
                self.sock.sendall(data)

    def answer(self, timeout: float = 10) -> tuple[h11.Response, bytes] | None:
        """The next complete answer, or None if none starts within `timeout`."""
        self.sock.settimeout(timeout)
        response: h11.Response | None = None
        body = b""
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                try:
                    self.h11.receive_data(self.sock.recv(65536))
                except TimeoutError:
                    if response is None:
                        return None
                    raise
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert response is not None
                return response, body
            else:
                raise AssertionError(f"unexpected {event!r}")

    def close(self) -> None:
        self.sock.close()

    def closed_by_server(self, within: float = 10) -> bool:
        """Whether the server closes its end within `within` seconds (read returns end of file)."""
        self.sock.settimeout(within)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def get(self, target: str) -> tuple[h11.Response, bytes]:
        self.send(
            h11.Request(method="GET", target=target, headers=[("Host", "test")]), h11.EndOfMessage()
        )
        answered = self.answer()
        assert answered is not None
        self.h11.start_next_cycle()
        return answered


def _header(response: h11.Response, name: bytes) -> bytes | None:
    return next((value for key, value in response.headers if key == name), None)


def _post_users(body: bytes, token: str) -> h11.Request:
    """The head of `POST /users` with `body`, without the body itself."""
    headers = [
        ("Host", "test"),
        ("Authorization", f"Bearer {token}"),
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
    ]
    return h11.Request(method="POST", target="/users", headers=headers)


@contextmanager
def _connection(server: Server) -> Iterator[Connection]:
    conn = Connection(server)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def _server(database_url: str, log: Path, **settings: str) -> Iterator[Server]:
    env = server_env(database_url, SECRET_KEY="s" * 40, API_TOKENS=TOKEN, **settings)
    with run_server(env, log) as server:
        yield server


@pytest.mark.parametrize(
    ("fastpath", "answers_before_the_body"),
    [("off", True), ("on", False)],  # Quart answers at once; the `http` trick reads the body first
)
def test_an_answer_that_leaves_the_body_unread_says_the_connection_closes(
    database_url: str, server_log: Path, fastpath: str, answers_before_the_body: bool
) -> None:
    body = _body()
    with (
        _server(database_url, server_log, FASTPATH=fastpath) as server,
        _connection(server) as conn,
    ):
        conn.send(_post_users(body, token="wrong"))
        # The headers alone: the bearer check can answer now (no answer within a second: it
        # waits for the body).
        early = conn.answer(timeout=10 if answers_before_the_body else 1)
        assert (early is not None) is answers_before_the_body
        conn.send(h11.Data(data=body), h11.EndOfMessage())
        response, _ = early or conn.answer() or pytest.fail("no answer")
        assert response.status_code == 401
        if answers_before_the_body:
            assert _header(response, b"connection") == b"close"
            assert conn.closed_by_server()
        else:
            assert _header(response, b"connection") is None
            conn.h11.start_next_cycle()
            assert conn.get("/healthz")[0].status_code == 200  # the same connection serves on


def test_a_request_whose_body_was_read_keeps_the_connection(
    database_url: str, server_log: Path
) -> None:
    body = _body()
    with _server(database_url, server_log, FASTPATH="off") as server, _connection(server) as conn:
        conn.send(_post_users(body, token=TOKEN), h11.Data(data=body), h11.EndOfMessage())
        answered = conn.answer()
        assert answered is not None
        assert answered[0].status_code == 201
        assert _header(answered[0], b"connection") is None
        conn.h11.start_next_cycle()
        assert conn.get("/healthz")[0].status_code == 200


def test_an_idle_connection_outlives_an_httpx_pool_and_closes_after_keep_alive_timeout(
    database_url: str, server_log: Path, tmp_path: Path
) -> None:
    # The default KEEP_ALIVE_TIMEOUT:
    with _server(database_url, server_log) as server, _connection(server) as conn:
        assert conn.get("/healthz")[0].status_code == 200
        time.sleep(5.5)  # past httpx's 5 s (and Hypercorn's own default, 5 s)
        assert conn.get("/healthz")[0].status_code == 200
    short = tmp_path / "short.log"
    with (
        _server(database_url, short, KEEP_ALIVE_TIMEOUT="3") as server,
        _connection(server) as conn,
    ):
        assert conn.get("/healthz")[0].status_code == 200
        time.sleep(0.5)
        assert conn.get("/healthz")[0].status_code == 200
        started = time.monotonic()
        assert conn.closed_by_server()
        assert time.monotonic() - started > 2  # idle for KEEP_ALIVE_TIMEOUT, not at once
