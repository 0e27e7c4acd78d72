"""Cross-cutting HTTP behaviour: headers, request ids, routing errors, body limits, auth, CORS."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable

import pytest
from quart.typing import TestClientProtocol

from best_app import create_app
from best_app.config import Settings
from tests.utils.auth import AUTH
from tests.utils.problems import assert_problem

SECURITY_HEADERS = ("X-Content-Type-Options", "Referrer-Policy", "Content-Security-Policy")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/hello/say", 200),
        ("GET", "/healthz", 200),
        ("GET", "/users", 200),
        ("GET", "/nowhere", 404),
        ("PUT", "/users", 405),
        ("GET", "/users?limit=0", 422),
    ],
)
async def test_every_response_carries_the_security_headers(
    client: TestClientProtocol, method: str, path: str, status: int
) -> None:
    response = await client.open(path, method=method)  # type: ignore[call-arg]  # quart.typing omits json's default
    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "Server" not in response.headers
    assert response.headers["X-Request-ID"]


async def test_routing_errors_are_problems(client: TestClientProtocol) -> None:
    await assert_problem(await client.get("/nowhere"), 404)
    response = await client.put("/users")
    await assert_problem(response, 405)
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


async def test_a_valid_client_request_id_is_echoed(client: TestClientProtocol) -> None:
    response = await client.get("/users/nobody-here", headers={"X-Request-ID": "abc.DEF-123_x"})
    assert response.headers["X-Request-ID"] == "abc.DEF-123_x"
    body = await response.get_json(force=True)
    assert body["request_id"] == "abc.DEF-123_x"


@pytest.mark.parametrize("offered", ["", "has space", "x" * 129, "semi;colon", "ünïcode"])
async def test_an_unsafe_client_request_id_is_replaced(
    client: TestClientProtocol, offered: str
) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": offered})
    rid = response.headers["X-Request-ID"]
    assert rid != offered
    assert len(rid) == 32


async def test_each_request_gets_its_own_id(client: TestClientProtocol) -> None:
    ids = {(await client.get("/healthz")).headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


@pytest.fixture
async def small_body_client(
    make_settings: Callable[..., Settings],
) -> AsyncIterator[TestClientProtocol]:
    async with create_app(make_settings(max_content_length=100)).test_app() as app:
        yield app.test_client()


async def test_bodies_over_max_content_length_are_413(
    small_body_client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    name = unique("big")
    body = '{"username": "' + name + '", "role": "student"' + " " * 100 + "}"
    response = await small_body_client.post(
        "/users", data=body, headers={"Content-Type": "application/json"}
    )
    await assert_problem(response, 413)
    await assert_problem(await small_body_client.get(f"/users/{name}"), 404)  # nothing stored


async def test_bodies_just_under_the_limit_pass(
    small_body_client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    body = '{"username": "' + unique("ok") + '"}'
    body += " " * (100 - len(body))
    assert len(body) == 100
    response = await small_body_client.post(
        "/users", data=body, headers={"Content-Type": "application/json", **AUTH}
    )
    assert response.status_code == 201


@pytest.fixture
async def guarded(make_settings: Callable[..., Settings]) -> AsyncIterator[TestClientProtocol]:
    async with create_app(make_settings(api_tokens="s3cret-one,s3cret-two")).test_app() as app:
        yield app.test_client()


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong", "Basic s3cret-one", "Bearer s3cret-one-and-more"],
)
async def test_writes_without_a_valid_token_are_401_and_change_nothing(
    guarded: TestClientProtocol, unique: Callable[[str], str], authorization: str | None
) -> None:
    name = unique("u")
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await guarded.post("/users", json={"username": name}, headers=headers)
    await assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "s3cret" not in await response.get_data(as_text=True)
    await assert_problem(await guarded.get(f"/users/{name}"), 404)


async def test_writes_with_any_configured_token_pass(
    guarded: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    name = unique("u")
    for token in ("s3cret-one", "s3cret-two"):
        response = await guarded.post(
            "/users", json={"username": name}, headers={"Authorization": f"bearer {token}"}
        )
        assert response.status_code in (200, 201)
    response = await guarded.delete(
        f"/users/{name}", headers={"Authorization": "Bearer s3cret-two"}
    )
    assert response.status_code == 204


async def test_deletes_need_a_token_too(
    guarded: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    await assert_problem(await guarded.delete(f"/users/{unique('u')}"), 401)
    await assert_problem(await guarded.delete("/cars/1"), 401)


async def test_reads_need_no_token(guarded: TestClientProtocol) -> None:
    assert (await guarded.get("/users")).status_code == 200


async def test_no_cors_headers_without_origins(client: TestClientProtocol) -> None:
    response = await client.get("/users", headers={"Origin": "http://localhost:3000"})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.fixture
async def cors_client(make_settings: Callable[..., Settings]) -> AsyncIterator[TestClientProtocol]:
    settings = make_settings(cors_origins="http://localhost:3000", api_tokens="t0ken")
    async with create_app(settings).test_app() as app:
        yield app.test_client()


async def test_cors_for_a_configured_origin(cors_client: TestClientProtocol) -> None:
    response = await cors_client.get("/users", headers={"Origin": "http://localhost:3000"})
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]


async def test_cors_preflight_needs_no_token(cors_client: TestClientProtocol) -> None:
    response = await cors_client.options(
        "/users",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed
    assert "content-type" in allowed


async def test_cors_refuses_other_origins(cors_client: TestClientProtocol) -> None:
    response = await cors_client.get("/users", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_tokens_are_compared_in_constant_time_against_every_token(
    guarded: TestClientProtocol, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No early exit: a wrong token costs one constant-time comparison per configured token."""
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    await guarded.post("/users", json={}, headers={"Authorization": "Bearer s3cret-one"})
    await guarded.post("/users", json={}, headers={"Authorization": "Bearer nope"})
    assert [b for _, b in calls] == [b"s3cret-one", b"s3cret-two"] * 2
