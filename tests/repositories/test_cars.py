"""The cars data functions, against the real database."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.exc import IntegrityError

from best_app.repositories import cars, users
from tests.conftest import Call
from tests.utils.dbtools import extra_check


async def test_buy_car_for_a_known_user(call: Call, unique: Callable[[str], str]) -> None:
    name = unique("u")
    owner, _ = await call(users.register_user_if_not_exist, name)
    car = await call(cars.buy_car, name, "Golf")
    assert car is not None
    assert (car.model, car.owner_id) == ("Golf", owner.id)
    # The seed de-duplicated on an id that did not exist yet; buying twice is two cars.
    second = await call(cars.buy_car, name, "Golf")
    assert second is not None
    assert second.id != car.id


async def test_buy_car_for_an_unknown_user_inserts_nothing(
    call: Call, unique: Callable[[str], str]
) -> None:
    assert await call(cars.buy_car, unique("ghost"), "Golf") is None


async def test_a_purchase_refused_by_another_constraint_is_not_an_unknown_user(
    call: Call, unique: Callable[[str], str], database_url: str
) -> None:
    name, model = unique("u"), unique("refused")
    await call(users.register_user_if_not_exist, name)
    async with extra_check(database_url, "cars", f"model <> '{model}'"):
        with pytest.raises(IntegrityError):  # only the owner's foreign key means "no such user"
            await call(cars.buy_car, name, model)
    page = await call(cars.get_user_cars, name)
    assert page is not None
    assert page.items == []


async def test_get_user_cars_pages_by_id(call: Call, unique: Callable[[str], str]) -> None:
    name = unique("u")
    await call(users.register_user_if_not_exist, name)
    empty = await call(cars.get_user_cars, name)
    assert empty is not None
    assert (list(empty.items), empty.next) == ([], None)

    bought = [await call(cars.buy_car, name, f"Model {i}") for i in range(5)]
    ids = [car.id for car in bought if car is not None]
    first = await call(cars.get_user_cars, name, limit=2)
    assert first is not None
    assert [c.id for c in first.items] == ids[:2]
    assert first.next == ids[1]
    rest = await call(cars.get_user_cars, name, limit=10, after=first.next)
    assert rest is not None
    assert [c.id for c in rest.items] == ids[2:]
    assert rest.next is None
    past_end = await call(cars.get_user_cars, name, after=ids[-1])
    assert past_end is not None
    assert list(past_end.items) == []


async def test_get_user_cars_of_an_unknown_user_is_none(
    call: Call, unique: Callable[[str], str]
) -> None:
    assert await call(cars.get_user_cars, unique("ghost")) is None


async def test_get_user_cars_only_lists_their_own(call: Call, unique: Callable[[str], str]) -> None:
    alice, bob = unique("a"), unique("b")
    for name in (alice, bob):
        await call(users.register_user_if_not_exist, name)
        await call(cars.buy_car, name, f"{name}'s car")
    page = await call(cars.get_user_cars, alice)
    assert page is not None
    assert [c.model for c in page.items] == [f"{alice}'s car"]


async def test_get_and_delete_car(call: Call, unique: Callable[[str], str]) -> None:
    name = unique("u")
    await call(users.register_user_if_not_exist, name)
    car = await call(cars.buy_car, name, "Golf")
    assert car is not None
    found = await call(cars.get_car, car.id)
    assert found is not None
    assert found.model == "Golf"
    assert await call(cars.delete_car, car.id)
    assert not await call(cars.delete_car, car.id)
    assert await call(cars.get_car, car.id) is None
