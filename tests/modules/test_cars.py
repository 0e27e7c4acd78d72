"""The cars endpoints (`best_app.modules.cars`) through the app's ASGI interface: buying,
reading, changing and deleting a car, and selling it with its ownership history."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from quart.typing import TestClientProtocol

from best_app import create_app
from best_app.config import Settings
from tests.utils.auth import AUTH
from tests.utils.problems import assert_problem


@pytest.fixture
async def owner(client: TestClientProtocol, unique: Callable[[str], str]) -> dict[str, object]:
    response = await client.post("/users", json={"username": unique("o")})
    data: dict[str, object] = await response.get_json()
    return data


async def test_buy_car_is_201_with_location(
    client: TestClientProtocol, owner: dict[str, object]
) -> None:
    response = await client.post(f"/users/{owner['username']}/cars", json={"model": "Golf GTI"})
    assert response.status_code == 201
    assert response.content_type == "application/json"
    car = await response.get_json()
    assert car == {"id": car["id"], "model": "Golf GTI", "owner": owner["id"]}
    assert response.headers["Location"] == f"/cars/{car['id']}"
    fetched = await client.get(response.headers["Location"])
    assert await fetched.get_json() == car


async def test_buy_car_for_unknown_user_is_404(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    response = await client.post(f"/users/{unique('ghost')}/cars", json={"model": "Golf"})
    await assert_problem(response, 404)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"model": ""},
        {"model": "x" * 129},
        {"model": "tab\there"},
        {"model": 3},
        {"model": "ok", "colour": "red"},
    ],
)
async def test_buy_car_invalid_fields_are_422(
    client: TestClientProtocol, owner: dict[str, object], body: dict[str, object]
) -> None:
    response = await client.post(f"/users/{owner['username']}/cars", json=body)
    await assert_problem(response, 422)
    cars = await (await client.get(f"/users/{owner['username']}/cars")).get_json()
    assert cars["items"] == []


async def test_model_names_are_stored_literally(
    client: TestClientProtocol, owner: dict[str, object]
) -> None:
    for model in ("Škoda Octavia", "'; DROP TABLE cars; --", "x" * 128):
        response = await client.post(f"/users/{owner['username']}/cars", json={"model": model})
        assert response.status_code == 201
        assert (await response.get_json())["model"] == model


async def test_list_user_cars_pages(client: TestClientProtocol, owner: dict[str, object]) -> None:
    base = f"/users/{owner['username']}/cars"
    ids = [
        (await (await client.post(base, json={"model": f"M{i}"})).get_json())["id"]
        for i in range(3)
    ]
    first = await (await client.get(f"{base}?limit=2")).get_json()
    assert [c["id"] for c in first["items"]] == ids[:2]
    assert first["next"] == ids[1]
    second = await (await client.get(f"{base}?limit=2&after={first['next']}")).get_json()
    assert [c["id"] for c in second["items"]] == ids[2:]
    assert second["next"] is None


async def test_list_cars_of_unknown_user_is_404(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    await assert_problem(await client.get(f"/users/{unique('ghost')}/cars"), 404)


async def test_list_cars_bad_query_is_422(
    client: TestClientProtocol, owner: dict[str, object]
) -> None:
    await assert_problem(await client.get(f"/users/{owner['username']}/cars?limit=0"), 422)


async def test_get_unknown_car_is_404(client: TestClientProtocol) -> None:
    await assert_problem(await client.get("/cars/2147483647"), 404)


@pytest.mark.parametrize("path", ["/cars/abc", "/cars/-1", "/cars/1.5"])
async def test_non_integer_car_ids_are_404(client: TestClientProtocol, path: str) -> None:
    await assert_problem(await client.get(path), 404)


async def test_huge_car_id_is_404_not_500(client: TestClientProtocol) -> None:
    await assert_problem(await client.get("/cars/99999999999999999999"), 404)
    await assert_problem(await client.delete("/cars/99999999999999999999"), 404)


async def test_delete_car(client: TestClientProtocol, owner: dict[str, object]) -> None:
    created = await client.post(f"/users/{owner['username']}/cars", json={"model": "Golf"})
    location = created.headers["Location"]
    response = await client.delete(location)
    assert response.status_code == 204
    await assert_problem(await client.get(location), 404)
    await assert_problem(await client.delete(location), 404)
    # With no cars left the owner may go.
    assert (await client.delete(f"/users/{owner['username']}")).status_code == 204


# Selling a car and its ownership history (`POST /cars/{id}/sale`, `GET /cars/{id}/owners`).

TOKEN = AUTH


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
