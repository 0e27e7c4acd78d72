"""Conditional writes (`If-Match`) in the data functions: the version check is in the write."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from best_app.repositories import cars, users
from best_app.repositories.versions import StaleVersionError
from tests.conftest import Call


async def test_update_role_at_the_expected_version_only(
    call: Call, unique: Callable[[str], str]
) -> None:
    name = unique("v")
    user, _ = await call(users.register_user_if_not_exist, name, role="student")
    assert user.version == 1
    updated = await call(users.update_role, name, "teacher", expected=frozenset({(user.id, 1)}))
    assert updated is not None
    assert (updated.role, updated.version) == ("teacher", 2)
    with pytest.raises(StaleVersionError):  # a writer that read version 1 loses
        await call(users.update_role, name, "employee", expected=frozenset({(user.id, 1)}))
    with pytest.raises(StaleVersionError):  # nothing the API issued: matches nothing
        await call(users.update_role, name, "employee", expected=frozenset())
    assert await call(users.get_by_username, name) == updated
    assert await call(users.update_role, unique("ghost"), "teacher", expected=frozenset()) is None


async def test_update_model_and_delete_car_at_the_expected_version_only(
    call: Call, unique: Callable[[str], str]
) -> None:
    name = unique("v")
    await call(users.register_user_if_not_exist, name)
    car = await call(cars.buy_car, name, "Golf")
    assert car is not None
    changed = await call(cars.update_model, car.id, "Polo")
    assert changed is not None
    assert (changed.model, changed.version) == ("Polo", car.version + 1)
    with pytest.raises(StaleVersionError):
        await call(cars.delete_car, car.id, expected=frozenset({(car.id, car.version)}))
    assert await call(cars.get_car, car.id) == changed
    assert await call(cars.delete_car, car.id, expected=frozenset({(car.id, changed.version)}))
    assert await call(cars.get_car, car.id) is None
    assert not await call(cars.delete_car, car.id, expected=frozenset({(car.id, 1)}))


async def test_deleting_a_user_at_another_version_is_stale(
    call: Call, unique: Callable[[str], str]
) -> None:
    name = unique("v")
    user, _ = await call(users.register_user_if_not_exist, name)
    with pytest.raises(StaleVersionError):
        await call(users.delete_user, name, expected=frozenset({(user.id, 2)}))
    assert await call(users.delete_user, name, expected=frozenset({(user.id, 1)}))
