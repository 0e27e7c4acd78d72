"""PATCH, ETags and conditional requests (If-None-Match, If-Match), through ASGI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from quart.typing import TestClientProtocol

from tests.utils.problems import assert_problem

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
async def user(client: TestClientProtocol, unique: Callable[[str], str]) -> dict[str, Any]:
    body: dict[str, Any] = await (
        await client.post("/users", json={"username": unique("c"), "role": "student"})
    ).get_json()
    return body


@pytest.fixture
async def car(client: TestClientProtocol, user: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/users/{user['username']}/cars", json={"model": "Golf"})
    body: dict[str, Any] = await response.get_json()
    return body


async def assert_bodiless(response: Any, status: int) -> None:
    # (Quart's test client adds a default Content-Type when it rebuilds the response from the
    # ASGI messages; tests/e2e/test_api.py checks the real headers on the wire.)
    assert response.status_code == status
    assert await response.get_data() == b""


async def test_patch_user_role(client: TestClientProtocol, user: dict[str, Any]) -> None:
    path = f"/users/{user['username']}"
    before = (await client.get(path)).headers["ETag"]
    response = await client.patch(path, json={"role": "teacher"})
    assert response.status_code == 200
    assert await response.get_json() == user | {"role": "teacher"}
    assert response.headers["ETag"] != before
    fetched = await client.get(path)
    assert await fetched.get_json() == user | {"role": "teacher"}
    assert fetched.headers["ETag"] == response.headers["ETag"]
    merge = await client.patch(path, data='{"role": "employee"}', headers=MERGE_PATCH)
    assert (await merge.get_json())["role"] == "employee"


async def test_patch_car_model(client: TestClientProtocol, car: dict[str, Any]) -> None:
    path = f"/cars/{car['id']}"
    response = await client.patch(path, data='{"model": "Polo"}', headers=MERGE_PATCH)
    assert response.status_code == 200
    assert await response.get_json() == car | {"model": "Polo"}
    assert await (await client.get(path)).get_json() == car | {"model": "Polo"}


@pytest.mark.parametrize(
    "body", [{}, {"role": "admin"}, {"role": None}, {"role": "student", "username": "x"}]
)
async def test_patch_user_invalid_is_422(
    client: TestClientProtocol, user: dict[str, Any], body: dict[str, Any]
) -> None:
    await assert_problem(await client.patch(f"/users/{user['username']}", json=body), 422)
    assert await (await client.get(f"/users/{user['username']}")).get_json() == user


@pytest.mark.parametrize("body", [{}, {"model": ""}, {"model": "x", "owner": 1}, {"model": 3}])
async def test_patch_car_invalid_is_422(
    client: TestClientProtocol, car: dict[str, Any], body: dict[str, Any]
) -> None:
    await assert_problem(await client.patch(f"/cars/{car['id']}", json=body), 422)
    assert await (await client.get(f"/cars/{car['id']}")).get_json() == car


async def test_patch_unknown_is_404_and_non_json_is_400(
    client: TestClientProtocol, unique: Callable[[str], str], user: dict[str, Any]
) -> None:
    await assert_problem(await client.patch(f"/users/{unique('x')}", json={"role": "student"}), 404)
    await assert_problem(await client.patch("/cars/2147483647", json={"model": "Polo"}), 404)
    await assert_problem(await client.patch("/cars/99999999999", json={"model": "Polo"}), 404)
    response = await client.patch(
        f"/users/{user['username']}", data="role=teacher", headers={"Content-Type": "text/plain"}
    )
    await assert_problem(response, 400)


@pytest.mark.parametrize("kind", ["user", "car"])
async def test_if_none_match_is_304_without_a_body(
    client: TestClientProtocol, user: dict[str, Any], car: dict[str, Any], kind: str
) -> None:
    path = f"/users/{user['username']}" if kind == "user" else f"/cars/{car['id']}"
    first = await client.get(path)
    etag = first.headers["ETag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    for header in (etag, f'"0.0", {etag}', f"W/{etag}", "*"):
        response = await client.get(path, headers={"If-None-Match": header})
        await assert_bodiless(response, 304)
        assert response.headers["ETag"] == etag
    stale = await client.get(path, headers={"If-None-Match": '"0.0"'})
    assert stale.status_code == 200
    assert await stale.get_json() == await first.get_json()


async def test_if_match_on_patch_prevents_lost_updates(
    client: TestClientProtocol, user: dict[str, Any]
) -> None:
    path = f"/users/{user['username']}"
    etag = (await client.get(path)).headers["ETag"]
    first = await client.patch(path, json={"role": "teacher"}, headers={"If-Match": etag})
    assert first.status_code == 200
    # A second client that read the same version loses: 412, and the first write stands.
    late = await client.patch(path, json={"role": "employee"}, headers={"If-Match": etag})
    await assert_problem(late, 412, type="urn:best-app:problem:precondition-failed")
    assert (await (await client.get(path)).get_json())["role"] == "teacher"
    for header in (f"W/{first.headers['ETag']}", '"garbage"', '"1.99999999999"'):
        await assert_problem(
            await client.patch(path, json={"role": "employee"}, headers={"If-Match": header}), 412
        )
    fresh = f'"0.0", {first.headers["ETag"]}'
    again = await client.patch(path, json={"role": "employee"}, headers={"If-Match": fresh})
    assert again.status_code == 200
    star = await client.patch(path, json={"role": "student"}, headers={"If-Match": "*"})
    assert star.status_code == 200


async def test_if_match_on_sale_and_car_patch(
    client: TestClientProtocol, car: dict[str, Any], unique: Callable[[str], str]
) -> None:
    buyer = unique("b")
    await client.post("/users", json={"username": buyer})
    path = f"/cars/{car['id']}"
    etag = (await client.get(path)).headers["ETag"]
    patched = await client.patch(path, json={"model": "Polo"}, headers={"If-Match": etag})
    assert patched.status_code == 200
    sale = await client.post(f"{path}/sale", json={"buyer": buyer}, headers={"If-Match": etag})
    await assert_problem(sale, 412)
    owners = await (await client.get(f"{path}/owners")).get_json()
    assert len(owners["items"]) == 1
    sale = await client.post(
        f"{path}/sale", json={"buyer": buyer}, headers={"If-Match": patched.headers["ETag"]}
    )
    assert sale.status_code == 200
    assert sale.headers["ETag"] not in (etag, patched.headers["ETag"])


async def test_if_match_on_delete(
    client: TestClientProtocol, user: dict[str, Any], car: dict[str, Any]
) -> None:
    car_path, user_path = f"/cars/{car['id']}", f"/users/{user['username']}"
    car_etag = (await client.get(car_path)).headers["ETag"]
    await client.patch(car_path, json={"model": "Polo"})
    await assert_problem(await client.delete(car_path, headers={"If-Match": car_etag}), 412)
    current = (await client.get(car_path)).headers["ETag"]
    await assert_bodiless(await client.delete(car_path, headers={"If-Match": current}), 204)
    await assert_problem(await client.delete(car_path, headers={"If-Match": current}), 404)

    user_etag = (await client.get(user_path)).headers["ETag"]
    await assert_problem(await client.delete(user_path, headers={"If-Match": '"0.0"'}), 412)
    deleted = await client.delete(user_path, headers={"If-Match": user_etag})
    await assert_bodiless(deleted, 204)


async def test_if_match_on_missing_resources_is_404(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    headers = {"If-Match": '"1.1"'}
    await assert_problem(await client.delete(f"/users/{unique('x')}", headers=headers), 404)
    await assert_problem(
        await client.patch(f"/users/{unique('x')}", json={"role": "student"}, headers=headers),
        404,
    )
    await assert_problem(await client.delete("/cars/2147483647", headers=headers), 404)


@pytest.mark.parametrize("header", ['""', 'W/"1.1"', '"x", W/"y"', '"1.2147483648"', "junk"])
async def test_if_match_naming_no_tag_of_ours_is_412(
    client: TestClientProtocol, user: dict[str, Any], car: dict[str, Any], header: str
) -> None:
    headers = {"If-Match": header}
    user_path, car_path = f"/users/{user['username']}", f"/cars/{car['id']}"
    await assert_problem(
        await client.patch(user_path, json={"role": "teacher"}, headers=headers), 412
    )
    await assert_problem(await client.delete(user_path, headers=headers), 412)
    await assert_problem(await client.patch(car_path, json={"model": "X"}, headers=headers), 412)
    await assert_problem(
        await client.post(f"{car_path}/sale", json={"buyer": user["username"]}, headers=headers),
        412,
    )
    await assert_problem(await client.delete(car_path, headers=headers), 412)
