"""Rate limits: every route has one or an explicit exemption; counts are exact under
concurrency, in memory and in a real Redis shared by two apps; the client address cannot be
spoofed; and when Redis is gone, reads go on while logins fail closed."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from best_app import create_app
from best_app.config import Settings
from best_app.web.ratelimit import is_exempt
from tests.utils.auth import AUTH, GOOD_PASSWORD, register
from tests.utils.metrics import metric
from tests.utils.problems import assert_problem
from tests.utils.requires import require

REDIS = ("127.0.0.1", 6379)
EXEMPT_PATHS = {"/healthz", "/readyz", "/metrics"}


@pytest.fixture
def redis_url() -> str:
    """A real Redis on 127.0.0.1:6379 (.ci/run starts one)."""
    try:
        socket.create_connection(REDIS, timeout=1).close()
        up = True
    except OSError:
        up = False
    require(up, "no Redis answers on 127.0.0.1:6379 (apt-get install redis-server)")
    return "redis://127.0.0.1:6379/0"


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[TestClientProtocol]:
    async with create_app(settings).test_app() as app:
        yield app.test_client()


def _prefix() -> str:
    return f"best_app:test:{uuid.uuid4().hex}:"  # each test counts on its own keys


def test_every_route_has_a_limit_or_an_explicit_exemption(quart_app: Quart) -> None:
    exempt = set()
    for rule in quart_app.url_map.iter_rules():
        view = quart_app.view_functions[rule.endpoint]
        if is_exempt(view):
            exempt.add(rule.rule)
    assert exempt == EXEMPT_PATHS
    # Everything else falls under RATE_LIMIT_DEFAULT: the hook limits any endpoint not exempt.
    assert len(list(quart_app.url_map.iter_rules())) > len(exempt)


async def _burst(client: TestClientProtocol, n: int, path: str = "/users") -> list[Any]:
    return list(await asyncio.gather(*(client.get(path) for _ in range(n))))


async def _exactly_n_through(client: TestClientProtocol, n: int) -> None:
    responses = await _burst(client, n + 20)
    assert sorted(r.status_code for r in responses) == [200] * n + [429] * 20
    refused = next(r for r in responses if r.status_code == 429)
    await assert_problem(refused, 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["RateLimit-Limit"] == str(n)
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert int(refused.headers["RateLimit-Reset"]) >= 1


async def test_a_burst_lets_exactly_the_limit_through_in_memory(
    make_settings: Callable[..., Settings],
) -> None:
    async with serving(make_settings(rate_limit_default="7/minute")) as client:
        await _exactly_n_through(client, 7)
        for path in EXEMPT_PATHS - {"/readyz"}:
            assert (await client.get(path)).status_code == 200  # exempt: not counted
        assert (await client.get("/users", headers=AUTH)).status_code == 200  # a service token


async def test_a_burst_lets_exactly_the_limit_through_in_redis(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(
        rate_limit_default="9/minute", redis_url=redis_url, rate_limit_prefix=_prefix()
    )
    async with serving(settings) as client:
        await _exactly_n_through(client, 9)


async def _forwarded_for_each(client: TestClientProtocol, peer: str) -> list[int]:
    """Six reads from the socket peer `peer`, each claiming another X-Forwarded-For."""
    statuses = []
    for n in range(6):
        response = await client.open(  # type: ignore[call-arg]
            "/users",
            headers={"X-Forwarded-For": f"10.0.0.{n}"},
            scope_base={"client": (peer, 50000)},
        )
        statuses.append(response.status_code)
    return statuses


async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_does_not_reset_the_count(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(rate_limit_default="3/minute", trusted_proxies="127.0.0.1/32")
    async with serving(settings) as client:
        assert await _forwarded_for_each(client, "192.0.2.7") == [200] * 3 + [429] * 3
        # From a trusted proxy the header names the client: each address counts on its own.
        assert await _forwarded_for_each(client, "127.0.0.1") == [200] * 6


async def _login(client: TestClientProtocol, username: str, password: str) -> int:
    body = {"username": username, "password": password}
    response = await client.post("/sessions", json=body, headers={"Authorization": ""})
    if response.status_code == 429:
        await assert_problem(response, 429)
        assert response.headers["Retry-After"]
    return response.status_code


async def test_failed_logins_per_username_are_limited_across_two_replicas(
    make_settings: Callable[..., Settings], redis_url: str, unique: Callable[[str], str]
) -> None:
    """Two apps sharing one Redis (as two replicas do): the failures add up."""
    settings = make_settings(
        rate_limit_login="4/minute", redis_url=redis_url, rate_limit_prefix=_prefix()
    )
    name, nobody = unique("u"), unique("nobody")
    async with serving(settings) as first, serving(settings) as second:
        await register(first, name)
        assert await _login(first, name, GOOD_PASSWORD) == 201  # a success does not count
        statuses = [await _login((first, second)[n % 2], name, "wrong password") for n in range(4)]
        assert statuses == [401] * 4
        assert await _login(second, name, GOOD_PASSWORD) == 429  # the right one too
        assert await _login(first, name, GOOD_PASSWORD) == 429
        # An unknown name is limited the same way: a 429 tells nothing about existence.
        unknown = [await _login((first, second)[n % 2], nobody, "x") for n in range(5)]
        assert unknown == [401] * 4 + [429]


async def test_a_login_burst_lets_exactly_the_limit_through(
    make_settings: Callable[..., Settings], unique: Callable[[str], str]
) -> None:
    settings = make_settings(rate_limit_login="5/minute")
    name = unique("u")
    async with serving(settings) as client:
        statuses = await asyncio.gather(*(_login(client, name, "not it") for _ in range(25)))
    assert sorted(statuses) == [401] * 5 + [429] * 20


async def test_with_redis_gone_reads_go_on_and_logins_fail_closed(
    make_settings: Callable[..., Settings], unique: Callable[[str], str]
) -> None:
    closed = make_settings(redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    async with serving(closed) as client:
        errors = await _store_errors(client)
        assert (await client.get("/users")).status_code == 200
        login = await client.post(
            "/sessions", json={"username": unique("u"), "password": GOOD_PASSWORD}
        )
        await assert_problem(login, 503)
        assert login.headers["Retry-After"].isdigit()
        body = {"username": unique("u"), "password": GOOD_PASSWORD}
        registration = await client.post("/users", json=body, headers={"Authorization": ""})
        await assert_problem(registration, 503)
        assert registration.headers["Retry-After"].isdigit()
        assert await _store_errors(client) >= errors + 3  # the read, the login, the registration


async def _store_errors(client: TestClientProtocol) -> float:
    text = await (await client.get("/metrics")).get_data(as_text=True)
    return metric(text, "best_app_rate_limit_store_errors_total")
