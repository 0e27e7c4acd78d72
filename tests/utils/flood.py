"""A load generator over raw sockets: many HTTP/1.1 keep-alive clients for a bounded time.

A thousand httpx clients would take much of the CPU the servers under test need (two cores
here). These clients write pre-encoded requests and read just enough of each answer (status,
headers, the body by `Content-Length`) to judge it, on their own uvloop in a thread
(`run_load`), so that the test's own loop stays free.

The clients connect before the load starts, as a client pool or a proxy keeps its connections:
a busy Hypercorn process reads slowly from connections opened while it is busy (measured: the
first request on each waited about 4 s before the server read it, the app's own time under
0.6 s), which measures the accept path instead of the app.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import uvloop

from tests.utils.auth import AUTH

# Builds client n's i-th request: (a label for the report, the encoded request).
Request = Callable[[int, int], tuple[str, bytes]]
Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


# Every request carries the tests' service token: its clients stand for many clients (a
# per-client rate limit would see them as one address) and its purchases need a credential.
_AUTH = f"Authorization: {AUTH['Authorization']}\r\n"


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: load\r\n{_AUTH}\r\n".encode()


def post_json(path: str, body: str) -> bytes:
    data = body.encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: load\r\n{_AUTH}Content-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


@dataclass
class Answer:
    label: str
    status: int
    started: float  # time.monotonic() when the request was written
    seconds: float  # from writing the request to having read the whole answer
    retry_after: bool
    problem: bool  # Content-Type: application/problem+json


@dataclass
class Load:
    answers: list[Answer] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # no answer: a socket error or a timeout
    connections: int = 0
    cpu_seconds: float = 0.0  # the test process's, at the end

    def statuses(self) -> Counter[str]:
        return Counter(f"{a.label} {a.status}" for a in self.answers)

    def slowest(self) -> float:
        return max((a.seconds for a in self.answers), default=0.0)

    def slower_than(self, seconds: float) -> list[str]:
        """The answers that took longer than `seconds`, oldest first, with when they started."""
        first = min((a.started for a in self.answers), default=0.0)
        return [
            f"{a.label} {a.status} at +{a.started - first:.2f}s took {a.seconds:.2f}s"
            for a in sorted(self.answers, key=lambda a: a.started)
            if a.seconds > seconds
        ]

    def wrong_errors(self) -> list[Answer]:
        """Errors that are not a 503 problem with `Retry-After`."""
        return [
            a
            for a in self.answers
            if a.status >= 400 and not (a.status == 503 and a.retry_after and a.problem)
        ]


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes]]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head[:-4].split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    length = int(headers.get(b"content-length", b"0"))
    if length:
        await reader.readexactly(length)
    return int(status_line.split()[1]), headers


async def _connect(url: str, load: Load) -> Streams:
    streams = await asyncio.open_connection(urlsplit(url).hostname, urlsplit(url).port)
    load.connections += 1
    return streams


@dataclass
class Plan:
    """What the clients do: `request` builds each request; a request unanswered after
    `timeout` is a failure; with `obey_retry_after`, a client told 503 waits the `Retry-After`
    seconds before its next request."""

    url: str
    request: Request
    timeout: float
    obey_retry_after: bool


async def _client(plan: Plan, n: int, streams: Streams | None, deadline: float, load: Load) -> None:
    for i in itertools.count():
        if time.monotonic() >= deadline:
            break
        label, data = plan.request(n, i)
        started = time.monotonic()
        try:
            async with asyncio.timeout(plan.timeout):
                if streams is None:
                    streams = await _connect(plan.url, load)
                reader, writer = streams
                writer.write(data)
                status, headers = await _answer(reader)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
            waited = time.monotonic() - started
            load.failures.append(f"{label}: {type(error).__name__} {error} after {waited:.2f}s")
            if streams is not None:
                streams[1].close()
            streams = None
            continue
        load.answers.append(
            Answer(
                label,
                status,
                started,
                time.monotonic() - started,
                b"retry-after" in headers,
                headers.get(b"content-type") == b"application/problem+json",
            )
        )
        if headers.get(b"connection") == b"close":
            writer.close()
            streams = None
        if status == 503 and plan.obey_retry_after:
            await asyncio.sleep(float(headers.get(b"retry-after", b"0")))
    if streams is not None:
        streams[1].close()


async def _run(plan: Plan, clients: int, seconds: float) -> Load:
    load = Load()
    opened = await asyncio.gather(*(_connect(plan.url, load) for _ in range(clients)))
    await asyncio.sleep(0.5)  # the server accepts them
    deadline = time.monotonic() + seconds
    await asyncio.gather(
        *(_client(plan, n, streams, deadline, load) for n, streams in enumerate(opened))
    )
    cpu = os.times()
    load.cpu_seconds = cpu.user + cpu.system
    return load


def run_load(plan: Plan, clients: int, seconds: float) -> Load:
    """`clients` clients, connected first, then each sending requests one after the other's
    answer, for `seconds`. Blocking: call it in a thread (`asyncio.to_thread`)."""
    return uvloop.run(_run(plan, clients, seconds))


def register_owners(url: str, count: int = 8) -> list[str]:
    """`count` new users registered through `url`, for `reads_and_purchases`."""
    owners = [f"load{uuid.uuid4().hex[:10]}" for _ in range(count)]
    for owner in owners:
        assert httpx.post(f"{url}/users", json={"username": owner}, headers=AUTH).status_code == 201
    return owners


def reads_and_purchases(owners: list[str]) -> Request:
    """Reads of a user and of their cars, and one purchase in four, spread over `owners`."""

    def request(n: int, i: int) -> tuple[str, bytes]:
        owner = owners[n % len(owners)]
        if i % 4 == 3:
            return "buy car", post_json(f"/users/{owner}/cars", f'{{"model": "m{n}-{i}"}}')
        if i % 4 == 1:
            return "read cars", get(f"/users/{owner}/cars?limit=5")
        return "read user", get(f"/users/{owner}")

    return request
