"""A corpus of hostile and broken input: always the right 4xx problem+json, never a 5xx,
and the data unchanged."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from quart.typing import TestClientProtocol

from tests.utils.problems import assert_problem

JSON = {"Content-Type": "application/json"}

MALFORMED_BODIES: list[tuple[str, bytes, dict[str, str]]] = [
    ("truncated", b'{"username": "abc', JSON),
    ("trailing comma", b'{"username": "abc",}', JSON),
    ("single quotes", b"{'username': 'abc'}", JSON),
    ("invalid utf-8", b'{"username": "\xc3\x28"}', JSON),
    ("utf-16 bom", '{"username": "abc"}'.encode("utf-16"), JSON),
    # Under MAX_CONTENT_LENGTH (64 KiB), far past any recursion limit.
    ("deeply nested arrays", b"[" * 30_000 + b"]" * 30_000, JSON),
    ("deeply nested objects", b'{"a":' * 10_000 + b"1" + b"}" * 10_000, JSON),
    ("NaN", b'{"username": NaN}', JSON),
    ("no content type", b'{"username": "abc"}', {}),
    ("text/plain", b'{"username": "abc"}', {"Content-Type": "text/plain"}),
    ("form", b"username=abc", {"Content-Type": "application/x-www-form-urlencoded"}),
    ("xml", b"<username>abc</username>", {"Content-Type": "application/xml"}),
    ("empty", b"", JSON),
]


@pytest.mark.parametrize(
    ("body", "headers"),
    [(b, h) for _, b, h in MALFORMED_BODIES],
    ids=[name for name, _, _ in MALFORMED_BODIES],
)
@pytest.mark.parametrize("path", ["/users", "/users/{owner}/cars"])
async def test_malformed_bodies_are_400(
    client: TestClientProtocol,
    unique: Callable[[str], str],
    path: str,
    body: bytes,
    headers: dict[str, str],
) -> None:
    owner = unique("o")
    assert (await client.post("/users", json={"username": owner})).status_code == 201
    response = await client.post(path.format(owner=owner), data=body, headers=headers)
    await assert_problem(response, 400)
    cars = await (await client.get(f"/users/{owner}/cars")).get_json()
    assert cars["items"] == []


INVALID_USERS: list[object] = [
    {"username": "nul\x00byte"},
    {"username": "x" * 10_000},
    {"username": "ünïcödé"},
    {"username": "日本"},
    {"username": "../../etc/passwd"},
    {"username": "a/b"},
    {"username": "."},
    {"username": ".."},
    {"username": "robert'); DROP TABLE users;--"},
    {"username": None},
    {"username": ["a"]},
    {"username": {"$ne": 1}},
    {"username": True},
    {"username": "ok", "role": "teacher\x00"},
    {"username": "ok", "created_at": "2024-02-30"},
    {"username": "ok", "created_at": -1},
    {"username": "ok", "id": 1},
    "just a string",
    12345,
    None,
]


@pytest.mark.parametrize("body", INVALID_USERS, ids=repr)
async def test_invalid_users_are_422(client: TestClientProtocol, body: object) -> None:
    before = await (await client.get("/users?limit=500")).get_json()
    await assert_problem(await client.post("/users", json=body), 422)
    assert (await (await client.get("/users?limit=500")).get_json())["items"][:5] == before[
        "items"
    ][:5]


@pytest.mark.parametrize(
    "model",
    ["", "x" * 129, "nul\x00byte", "line\nbreak", "\u200b" * 3, "esc\x1b[31m", None, 7, ["Golf"]],
    ids=repr,
)
async def test_invalid_models_are_422(
    client: TestClientProtocol, unique: Callable[[str], str], model: object
) -> None:
    owner = unique("o")
    await client.post("/users", json={"username": owner})
    await assert_problem(await client.post(f"/users/{owner}/cars", json={"model": model}), 422)
    assert (await (await client.get(f"/users/{owner}/cars")).get_json())["items"] == []


@pytest.mark.parametrize(
    "text",
    [
        "'; DROP TABLE cars; --",
        "1 OR 1=1",
        "$$ SELECT pg_sleep(10) $$",
        "%s %(x)s {0}",
        "Ωmega Ŝkoda 🚗",
    ],
)
async def test_hostile_but_valid_models_are_stored_literally(
    client: TestClientProtocol, unique: Callable[[str], str], text: str
) -> None:
    owner = unique("o")
    await client.post("/users", json={"username": owner})
    created = await client.post(f"/users/{owner}/cars", json={"model": text})
    assert created.status_code == 201
    fetched = await (await client.get(created.headers["Location"])).get_json()
    assert fetched["model"] == text


@pytest.mark.parametrize(
    "query",
    [
        "limit=-1", "limit=0", "limit=501", "limit=1e3", "limit=1.5", "limit=", "limit=%00",
        "limit=99999999999999999999999", "after=-5", "after=x", "after=2147483648",
        "after=99999999999999999999999", "limit=1&limit=2", "role=Teacher", "role=%27%20OR%201%3D1",
    ],
)  # fmt: skip
async def test_bad_list_queries_are_422(client: TestClientProtocol, query: str) -> None:
    await assert_problem(await client.get(f"/users?{query}"), 422)


@pytest.mark.parametrize(
    "path",
    [
        "/users/..%2F..%2Fetc%2Fpasswd",
        "/users/%00",
        "/users/" + "x" * 5000,
        "/users/%C3%28",
        "/cars/-1",
        "/cars/0x10",
        "/cars/1e3",
        "/cars/99999999999999999999999",
        "/docs/static/..%2F..%2Fconfig.py",
        "/docs/static/%2e%2e/%2e%2e/config.py",
    ],
)
async def test_odd_paths_are_404(client: TestClientProtocol, path: str) -> None:
    await assert_problem(await client.get(path), 404)
