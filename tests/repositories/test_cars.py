"""The cars data functions, against the real database."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from best_app.repositories import cars, users


async def test_buy_car_for_a_known_user(
    session: AsyncSession, unique: Callable[[str], str]
) -> None:
    name = unique("u")
    owner, _ = await users.register_user_if_not_exist(session, name)
    car = await cars.buy_car(session, name, "Golf")
    assert car is not None
    assert (car.model, car.owner_id) == ("Golf", owner.id)
    # The seed de-duplicated on an id that did not exist yet; buying twice is two cars.
    second = await cars.buy_car(session, name, "Golf")
    assert second is not None
    assert second.id != car.id


async def test_buy_car_for_an_unknown_user_inserts_nothing(
    session: AsyncSession, unique: Callable[[str], str]
) -> None:
    assert await cars.buy_car(session, unique("ghost"), "Golf") is None


async def test_get_user_cars_pages_by_id(
    session: AsyncSession, unique: Callable[[str], str]
) -> None:
    name = unique("u")
    await users.register_user_if_not_exist(session, name)
    empty = await cars.get_user_cars(session, name)
    assert empty is not None
    assert (list(empty.items), empty.next) == ([], None)

    bought = [await cars.buy_car(session, name, f"Model {i}") for i in range(5)]
    ids = [car.id for car in bought if car is not None]
    first = await cars.get_user_cars(session, name, limit=2)
    assert first is not None
    assert [c.id for c in first.items] == ids[:2]
    assert first.next == ids[1]
    rest = await cars.get_user_cars(session, name, limit=10, after=first.next)
    assert rest is not None
    assert [c.id for c in rest.items] == ids[2:]
    assert rest.next is None
    past_end = await cars.get_user_cars(session, name, after=ids[-1])
    assert past_end is not None
    assert list(past_end.items) == []


async def test_get_user_cars_of_an_unknown_user_is_none(
    session: AsyncSession, unique: Callable[[str], str]
) -> None:
    assert await cars.get_user_cars(session, unique("ghost")) is None


async def test_get_user_cars_only_lists_their_own(
    session: AsyncSession, unique: Callable[[str], str]
) -> None:
    alice, bob = unique("a"), unique("b")
    for name in (alice, bob):
        await users.register_user_if_not_exist(session, name)
        await cars.buy_car(session, name, f"{name}'s car")
    page = await cars.get_user_cars(session, alice)
    assert page is not None
    assert [c.model for c in page.items] == [f"{alice}'s car"]


async def test_get_and_delete_car(session: AsyncSession, unique: Callable[[str], str]) -> None:
    name = unique("u")
    await users.register_user_if_not_exist(session, name)
    car = await cars.buy_car(session, name, "Golf")
    assert car is not None
    found = await cars.get_car(session, car.id)
    assert found is not None
    assert found.model == "Golf"
    assert await cars.delete_car(session, car.id)
    assert not await cars.delete_car(session, car.id)
    assert await cars.get_car(session, car.id) is None
