"""Selling a car and its ownership history, through the app's ASGI interface."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from quart.typing import TestClientProtocol

from best_app import create_app
from best_app.config import Settings
from tests.utils.auth import AUTH as TOKEN
from tests.utils.problems import assert_problem


async def _user(client: TestClientProtocol, name: str) -> dict[str, Any]:
    response = await client.post("/users", json={"username": name}, headers=TOKEN)
    body: dict[str, Any] = await response.get_json()
    return body


async def _car(client: TestClientProtocol, owner: str) -> dict[str, Any]:
    response = await client.post(f"/users/{owner}/cars", json={"model": "Golf"}, headers=TOKEN)
    assert response.status_code == 201
    body: dict[str, Any] = await response.get_json()
    return body


def _utc(text: str) -> dt.datetime:
    assert text.endswith("Z"), text  # ISO 8601, UTC
    return dt.datetime.fromisoformat(text)


async def test_sale_moves_the_car_and_extends_its_history(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    seller, buyer = await _user(client, unique("s")), await _user(client, unique("b"))
    car = await _car(client, seller["username"])
    response = await client.post(f"/cars/{car['id']}/sale", json={"buyer": buyer["username"]})
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert await response.get_json() == car | {"owner": buyer["id"]}
    assert response.headers["ETag"] == (await client.get(f"/cars/{car['id']}")).headers["ETag"]
    buyer_cars = await (await client.get(f"/users/{buyer['username']}/cars")).get_json()
    assert [c["id"] for c in buyer_cars["items"]] == [car["id"]]

    history = await (await client.get(f"/cars/{car['id']}/owners")).get_json()
    first, current = history["items"]
    assert (first["owner"], first["username"]) == (seller["id"], seller["username"])
    assert (current["owner"], current["username"], current["until"]) == (
        buyer["id"],
        buyer["username"],
        None,
    )
    assert _utc(first["since"]) <= _utc(first["until"]) == _utc(current["since"])
    assert history["next"] is None


async def test_sale_errors(client: TestClientProtocol, unique: Callable[[str], str]) -> None:
    seller = await _user(client, unique("s"))
    car = await _car(client, seller["username"])
    buyer = await _user(client, unique("b"))
    await assert_problem(
        await client.post("/cars/2147483647/sale", json={"buyer": buyer["username"]}), 404
    )
    await assert_problem(
        await client.post("/cars/99999999999/sale", json={"buyer": buyer["username"]}), 404
    )
    await assert_problem(
        await client.post(f"/cars/{car['id']}/sale", json={"buyer": unique("ghost")}), 404
    )
    await assert_problem(
        await client.post(f"/cars/{car['id']}/sale", json={"buyer": seller["username"]}),
        409,
        type="urn:best-app:problem:already-owner",
    )
    for body in ({}, {"buyer": ""}, {"buyer": "a/b"}, {"buyer": "x", "price": 1}):
        await assert_problem(await client.post(f"/cars/{car['id']}/sale", json=body), 422)
    history = await (await client.get(f"/cars/{car['id']}/owners")).get_json()
    assert [p["username"] for p in history["items"]] == [seller["username"]]
    assert (await (await client.get(f"/cars/{car['id']}")).get_json()) == car


async def test_owners_of_an_unknown_car_is_404_and_pages_are_validated(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    await assert_problem(await client.get("/cars/2147483647/owners"), 404)
    seller = await _user(client, unique("s"))
    car = await _car(client, seller["username"])
    await assert_problem(await client.get(f"/cars/{car['id']}/owners?limit=0"), 422)
    names = [unique(f"p{i}") for i in range(3)]
    for name in names:
        await _user(client, name)
        await client.post(f"/cars/{car['id']}/sale", json={"buyer": name})
    page = await (await client.get(f"/cars/{car['id']}/owners?limit=2")).get_json()
    assert [p["username"] for p in page["items"]] == [seller["username"], names[0]]
    rest = await (await client.get(f"/cars/{car['id']}/owners?after={page['next']}")).get_json()
    assert ([p["username"] for p in rest["items"]], rest["next"]) == (names[1:], None)


async def test_deleting_a_car_takes_its_history(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    owner = await _user(client, unique("o"))
    car = await _car(client, owner["username"])
    assert (await client.delete(f"/cars/{car['id']}")).status_code == 204
    await assert_problem(await client.get(f"/cars/{car['id']}/owners"), 404)


async def test_a_deleted_past_owner_stays_in_the_history_by_name(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    seller, buyer = await _user(client, unique("s")), await _user(client, unique("b"))
    car = await _car(client, seller["username"])
    await client.post(f"/cars/{car['id']}/sale", json={"buyer": buyer["username"]})
    assert (await client.delete(f"/users/{seller['username']}")).status_code == 204
    first = (await (await client.get(f"/cars/{car['id']}/owners")).get_json())["items"][0]
    assert (first["owner"], first["username"]) == (None, seller["username"])


@pytest.fixture
async def guarded(make_settings: Callable[..., Settings]) -> AsyncIterator[TestClientProtocol]:
    async with create_app(make_settings()).test_app() as app:
        yield app.test_client()


async def test_writes_need_the_token(
    guarded: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    seller, buyer = await _user(guarded, unique("s")), await _user(guarded, unique("b"))
    car = await _car(guarded, seller["username"])
    path = f"/cars/{car['id']}"
    await assert_problem(await guarded.post(f"{path}/sale", json={"buyer": buyer["username"]}), 401)
    await assert_problem(await guarded.patch(path, json={"model": "Polo"}), 401)
    await assert_problem(
        await guarded.patch(f"/users/{buyer['username']}", json={"role": "student"}), 401
    )
    assert await (await guarded.get(path)).get_json() == car
    sold = await guarded.post(f"{path}/sale", json={"buyer": buyer["username"]}, headers=TOKEN)
    assert sold.status_code == 200
