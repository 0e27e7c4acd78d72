"""The cars endpoints through the app's ASGI interface."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from quart.typing import TestClientProtocol

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
