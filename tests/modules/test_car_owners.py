"""Only a car's current owner (or an admin) may change, sell or delete it, checked by the
write itself: a PATCH racing the sale of the car never lands after it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from quart.typing import TestClientProtocol

from tests.utils.auth import bearer, login, register
from tests.utils.problems import assert_problem


async def _owner_with_car(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> tuple[str, dict[str, str], int]:
    await register(client, name := unique("o"))
    token = bearer(await login(client, name))
    response = await client.post(f"/users/{name}/cars", json={"model": "Golf"}, headers=token)
    assert response.status_code == 201
    car: dict[str, Any] = await response.get_json()
    return name, token, car["id"]


async def _alices_car_and_bob(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> tuple[dict[str, str], str, str, dict[str, str]]:
    """Alice's credentials and her car's path; Bob's name and credentials."""
    _, alices, car_id = await _owner_with_car(client, unique)
    bob, bobs, _ = await _owner_with_car(client, unique)
    return alices, f"/cars/{car_id}", bob, bobs


async def test_another_users_patch_sale_and_delete_are_403_and_change_nothing(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    _, path, bob, bobs = await _alices_car_and_bob(client, unique)
    before = await (await client.get(path)).get_json()
    await assert_problem(await client.patch(path, json={"model": "Polo"}, headers=bobs), 403)
    sale = await client.post(f"{path}/sale", json={"buyer": bob}, headers=bobs)
    await assert_problem(sale, 403)
    await assert_problem(await client.delete(path, headers=bobs), 403)
    assert await (await client.get(path)).get_json() == before
    assert len((await (await client.get(f"{path}/owners")).get_json())["items"]) == 1
    # A car that does not exist is 404 whoever asks.
    await assert_problem(
        await client.patch("/cars/2147483000", json={"model": "X"}, headers=bobs), 404
    )
    await assert_problem(await client.delete("/cars/2147483000", headers=bobs), 404)
    # An admin (here the service token) may do all three.
    assert (await client.patch(path, json={"model": "Polo"})).status_code == 200
    assert (await client.post(f"{path}/sale", json={"buyer": bob})).status_code == 200
    assert (await client.delete(path)).status_code == 204


async def test_after_a_sale_the_new_owner_may_patch_and_the_old_may_not(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    alices, path, bob, bobs = await _alices_car_and_bob(client, unique)
    assert (
        await client.post(f"{path}/sale", json={"buyer": bob}, headers=alices)
    ).status_code == 200
    await assert_problem(await client.patch(path, json={"model": "Mine"}, headers=alices), 403)
    await assert_problem(
        await client.post(f"{path}/sale", json={"buyer": bob}, headers=alices), 403
    )
    assert (await client.patch(path, json={"model": "Bobs"}, headers=bobs)).status_code == 200


async def test_the_old_owners_patches_racing_the_sale_never_land_after_it(
    client: TestClientProtocol, unique: Callable[[str], str]
) -> None:
    alices, path, bob, _ = await _alices_car_and_bob(client, unique)

    async def patch(n: int) -> int:
        response = await client.patch(path, json={"model": f"A{n}"}, headers=alices)
        assert response.status_code in (200, 403)
        return response.status_code

    async def sell() -> dict[str, Any]:
        response = await client.post(f"{path}/sale", json={"buyer": bob}, headers=alices)
        assert response.status_code == 200
        sold: dict[str, Any] = await response.get_json()
        return sold

    before = [asyncio.create_task(patch(n)) for n in range(10)]
    sale = asyncio.create_task(sell())
    after = [asyncio.create_task(patch(n)) for n in range(10, 20)]
    statuses = await asyncio.gather(*before, *after)
    sold = await sale
    final = await (await client.get(path)).get_json()
    # Nothing changed the car after the sale: its model and version are the sale's.
    assert final == sold
    assert (await client.get(path)).headers["ETag"] == f'"{sold["id"]}.{statuses.count(200) + 2}"'
    assert 403 in statuses or statuses.count(200) == 20  # some PATCHes ran after the sale
