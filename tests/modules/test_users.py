"""The users endpoints through the app's ASGI interface."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from quart.typing import TestClientProtocol

from tests.utils.problems import assert_problem


async def create(client: TestClientProtocol, **body: object) -> dict[str, object]:
    response = await client.post("/users", json=body)
    assert response.status_code in (200, 201), await response.get_data(as_text=True)
    data: dict[str, object] = await response.get_json()
    return data


async def test_create_user_is_201_with_location(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    name = unique("u")
    response = await client.post(
        "/users", json={"username": name, "role": "student", "created_at": "2021-03-04"}
    )
    assert response.status_code == 201
    assert response.content_type == "application/json"
    assert response.headers["Location"] == f"/users/{name}"
    body = await response.get_json()
    assert body == {
        "id": body["id"],
        "username": name,
        "role": "student",
        "created_at": "2021-03-04",
    }
    assert isinstance(body["id"], int)


async def test_create_existing_user_is_200_with_the_stored_user(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    name = unique("u")
    first = await create(client, username=name, role="teacher")
    response = await client.post("/users", json={"username": name, "role": "student"})
    assert response.status_code == 200
    assert await response.get_json() == first


async def test_create_user_defaults(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    body = await create(client, username=unique("u"))
    assert body["role"] == "employee"
    assert isinstance(body["created_at"], str)
    assert len(body["created_at"]) == 10


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"username"}),
        ({"username": ""}, {"username"}),
        ({"username": "x" * 65}, {"username"}),
        ({"username": "has space"}, {"username"}),
        ({"username": "slash/no"}, {"username"}),
        ({"username": "ok", "role": "admin"}, {"role"}),
        ({"username": "ok", "created_at": "yesterday"}, {"created_at"}),
        ({"username": "ok", "created_at": 1700000000}, {"created_at"}),
        ({"username": 42}, {"username"}),
        ({"username": "ok", "extra": 1}, {"extra"}),
        ({"username": "", "role": "admin"}, {"username", "role"}),
    ],
)
async def test_create_user_invalid_fields_are_422(
    client: TestClientProtocol, body: dict[str, object], fields: set[str]
) -> None:
    response = await client.post("/users", json=body)
    problem = await assert_problem(response, 422)
    assert {error["field"] for error in problem["errors"]} == fields


async def test_create_user_with_a_json_array_is_422(client: TestClientProtocol) -> None:
    await assert_problem(await client.post("/users", json=["username"]), 422)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ('{"username": ', "application/json"),
        ("not json", "application/json"),
        (b"\xff\xfe{}", "application/json"),
        ('{"username": "ok"}', "text/plain"),
        ("username=ok", "application/x-www-form-urlencoded"),
        ("", None),
    ],
)
async def test_malformed_or_non_json_bodies_are_400(
    client: TestClientProtocol, data: str | bytes, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post("/users", data=data, headers=headers)
    await assert_problem(response, 400)


async def test_get_user(client: TestClientProtocol, unique: Callable[[str], str]) -> None:
    created = await create(client, username=unique("u"))
    response = await client.get(f"/users/{created['username']}")
    assert response.status_code == 200
    assert await response.get_json() == created


async def test_get_unknown_user_is_404(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    name = unique("ghost")
    problem = await assert_problem(await client.get(f"/users/{name}"), 404)
    assert name in problem["detail"]


async def test_list_users_pages_with_a_cursor(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    marker = await create(client, username=unique("m"))
    made = [await create(client, username=unique("l"), role="teacher") for _ in range(3)]
    after = marker["id"]
    response = await client.get(f"/users?role=teacher&limit=2&after={after}")
    assert response.status_code == 200
    page = await response.get_json()
    assert [u["id"] for u in page["items"]] == [made[0]["id"], made[1]["id"]]
    assert page["next"] == made[1]["id"]
    rest = await (await client.get(f"/users?role=teacher&limit=2&after={page['next']}")).get_json()
    # Other tests may add teachers concurrently in later runs; ours come first, in id order.
    assert rest["items"][0] == made[2]


async def test_list_users_default_page(client: TestClientProtocol) -> None:
    page = await (await client.get("/users")).get_json()
    assert set(page) == {"items", "next"}
    assert len(page["items"]) <= 50


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("after=-1", "after"),
        ("after=abc", "after"),
        ("after=99999999999999999999", "after"),
        ("role=admin", "role"),
        ("colour=red", "colour"),
    ],
)
async def test_list_users_bad_query_is_422(
    client: TestClientProtocol, query: str, field: str
) -> None:
    problem = await assert_problem(await client.get(f"/users?{query}"), 422)
    assert [error["field"] for error in problem["errors"]] == [field]


async def test_delete_user(client: TestClientProtocol, unique: Callable[[str], str]) -> None:
    created = await create(client, username=unique("u"))
    response = await client.delete(f"/users/{created['username']}")
    assert response.status_code == 204
    assert await response.get_data() == b""
    await assert_problem(await client.get(f"/users/{created['username']}"), 404)
    await assert_problem(await client.delete(f"/users/{created['username']}"), 404)


async def test_delete_user_who_owns_cars_is_409_and_keeps_them(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    name = unique("u")
    await create(client, username=name)
    assert (await client.post(f"/users/{name}/cars", json={"model": "Golf"})).status_code == 201
    await assert_problem(await client.delete(f"/users/{name}"), 409)
    assert (await client.get(f"/users/{name}")).status_code == 200
    cars = await (await client.get(f"/users/{name}/cars")).get_json()
    assert [c["model"] for c in cars["items"]] == ["Golf"]
