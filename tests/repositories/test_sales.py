"""Sales and ownership history, against the real database: all or nothing, in order."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from best_app.database import Database
from best_app.repositories import cars, sales, users
from best_app.repositories.rows import CarRow, OwnershipRow, UserRow
from best_app.repositories.versions import StaleVersionError
from tests.conftest import Call
from tests.utils.dbtools import extra_check


async def _user(call: Call, name: str) -> UserRow:
    user, _ = await call(users.register_user_if_not_exist, name)
    return user


async def _car(call: Call, owner: str) -> CarRow:
    car = await call(cars.buy_car, owner, "Golf")
    assert car is not None
    return car


async def _history(call: Call, car_id: int) -> list[OwnershipRow]:
    page = await call(sales.get_owners, car_id, limit=500)
    assert page is not None
    return list(page.items)


def assert_consecutive(periods: list[OwnershipRow]) -> None:
    """One open period, last; each period ends exactly where the next begins."""
    assert [p.until is None for p in periods] == [False] * (len(periods) - 1) + [True]
    for earlier, later in itertools.pairwise(periods):
        assert earlier.until == later.since
        assert earlier.since <= earlier.until


async def test_buying_a_car_opens_its_first_period(
    call: Call, unique: Callable[[str], str]
) -> None:
    name = unique("u")
    owner = await _user(call, name)
    car = await _car(call, name)
    [period] = await _history(call, car.id)
    assert (period.car_id, period.owner_id, period.username, period.until) == (
        car.id,
        owner.id,
        name,
        None,
    )
    assert period.since.tzinfo is not None


async def test_a_sale_closes_the_period_and_opens_the_next(
    call: Call, unique: Callable[[str], str]
) -> None:
    seller, buyer = unique("s"), unique("b")
    await _user(call, seller)
    buyer_row = await _user(call, buyer)
    car = await _car(call, seller)
    sold = await call(sales.sell_car, car.id, buyer)
    assert (sold.id, sold.model, sold.owner_id, sold.version) == (
        car.id,
        car.model,
        buyer_row.id,
        car.version + 1,
    )
    periods = await _history(call, car.id)
    assert [p.username for p in periods] == [seller, buyer]
    assert_consecutive(periods)
    assert await call(cars.get_car, car.id) == sold


async def test_sale_errors_change_nothing(call: Call, unique: Callable[[str], str]) -> None:
    seller, buyer = unique("s"), unique("b")
    await _user(call, seller)
    await _user(call, buyer)
    car = await _car(call, seller)
    before = await _history(call, car.id)
    with pytest.raises(sales.NoSuchCarError):
        await call(sales.sell_car, 2**31 - 1, buyer)
    with pytest.raises(sales.NoSuchBuyerError):
        await call(sales.sell_car, car.id, unique("ghost"))
    with pytest.raises(sales.AlreadyOwnerError):
        await call(sales.sell_car, car.id, seller)
    with pytest.raises(StaleVersionError):
        await call(sales.sell_car, car.id, buyer, expected=frozenset({(car.id, car.version + 1)}))
    assert await call(cars.get_car, car.id) == car
    assert await _history(call, car.id) == before
    # The version the client saw is the current one: the sale goes ahead.
    sold = await call(sales.sell_car, car.id, buyer, expected=frozenset({(car.id, car.version)}))
    assert sold.version == car.version + 1


@pytest.fixture
def fail_on(database: Database) -> Iterator[Callable[[str], None]]:
    """`fail_on("INSERT INTO ownerships")`: the next statement starting so fails in the
    driver's place, after the statements before it in the transaction have really run."""
    engine = database.engine.sync_engine
    prefixes: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if prefixes and statement.lstrip().startswith(prefixes[0]):
            prefixes.clear()
            raise RuntimeError("injected failure")

    event.listen(engine, "before_cursor_execute", before)
    yield prefixes.append
    event.remove(engine, "before_cursor_execute", before)


@pytest.mark.parametrize("failing", ["INSERT INTO ownerships", "UPDATE cars"])
async def test_a_sale_failing_half_way_changes_nothing(
    call: Call, unique: Callable[[str], str], fail_on: Callable[[str], None], failing: str
) -> None:
    seller, buyer = unique("s"), unique("b")
    await _user(call, seller)
    await _user(call, buyer)
    car = await _car(call, seller)
    before = await _history(call, car.id)
    fail_on(failing)  # the current period has been closed by then
    with pytest.raises(RuntimeError, match="injected failure"):
        await call(sales.sell_car, car.id, buyer)
    assert await call(cars.get_car, car.id) == car
    assert await _history(call, car.id) == before
    # And the car is not left locked: the next sale goes through.
    assert (await call(sales.sell_car, car.id, buyer)).version == car.version + 1


async def test_a_sale_refused_by_another_constraint_is_not_an_unknown_buyer(
    call: Call, unique: Callable[[str], str], database_url: str
) -> None:
    seller, buyer = unique("s"), unique("b")
    await _user(call, seller)
    await _user(call, buyer)
    car = await _car(call, seller)
    async with extra_check(database_url, "ownerships", f"username <> '{buyer}'"):
        with pytest.raises(IntegrityError):  # only the buyer's foreign keys mean "no such buyer"
            await call(sales.sell_car, car.id, buyer)
    assert await call(cars.get_car, car.id) == car  # rolled back


async def test_deleting_a_past_owner_keeps_their_period_by_name(
    call: Call, unique: Callable[[str], str]
) -> None:
    seller, buyer = unique("s"), unique("b")
    seller_row = await _user(call, seller)
    await _user(call, buyer)
    car = await _car(call, seller)
    await call(sales.sell_car, car.id, buyer)
    assert await call(users.delete_user, seller)
    first, current = await _history(call, car.id)
    assert (first.owner_id, first.username) == (None, seller)
    assert first.until is not None
    assert current.username == buyer
    # A new user with the old name is not the past owner: the period still has no owner id.
    again = await _user(call, seller)
    assert again.id != seller_row.id
    assert (await _history(call, car.id))[0].owner_id is None


async def test_deleting_a_car_deletes_its_history(call: Call, unique: Callable[[str], str]) -> None:
    name = unique("u")
    await _user(call, name)
    car = await _car(call, name)
    assert await call(cars.delete_car, car.id)
    assert await call(sales.get_owners, car.id) is None


async def test_history_pages_oldest_first(call: Call, unique: Callable[[str], str]) -> None:
    names = [unique(f"p{i}") for i in range(5)]
    for name in names:
        await _user(call, name)
    car = await _car(call, names[0])
    for name in names[1:]:
        await call(sales.sell_car, car.id, name)
    first = await call(sales.get_owners, car.id, limit=2)
    assert first is not None
    assert [p.username for p in first.items] == names[:2]
    rest = await call(sales.get_owners, car.id, limit=10, after=first.next)
    assert rest is not None
    assert ([p.username for p in rest.items], rest.next) == (names[2:], None)
    assert_consecutive([*first.items, *rest.items])
