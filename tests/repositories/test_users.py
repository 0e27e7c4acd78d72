"""The users data functions, against the real database."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from best_app.config import Settings
from best_app.database import Database
from best_app.models import User
from best_app.repositories import cars, sales, users
from tests.conftest import Call
from tests.utils.dbtools import extra_check


async def test_register_creates_then_returns_the_stored_user(
    call: Call, unique: Callable[[str], str]
) -> None:
    name = unique("u")
    created, was_created = await call(
        users.register_user_if_not_exist, name, role="teacher", created_at=dt.date(2020, 2, 29)
    )
    assert was_created
    assert (created.username, created.role, created.created_at) == (
        name,
        "teacher",
        dt.date(2020, 2, 29),
    )

    again, was_created = await call(users.register_user_if_not_exist, name, role="student")
    assert not was_created
    assert again.id == created.id
    assert again.role == "teacher"  # the stored user wins; nothing is overwritten


async def test_register_applies_the_database_defaults(
    call: Call, unique: Callable[[str], str]
) -> None:
    user, _ = await call(users.register_user_if_not_exist, unique("u"))
    today = await call(AsyncSession.scalar, select(func.current_date()))
    assert (user.role, user.created_at) == ("employee", today)


async def test_the_role_check_constraint_holds(call: Call, unique: Callable[[str], str]) -> None:
    with pytest.raises(IntegrityError, match="role_types"):
        await call(users.register_user_if_not_exist, unique("u"), role="admin")


async def test_get_by_username(call: Call, unique: Callable[[str], str]) -> None:
    name = unique("u")
    assert await call(users.get_by_username, name) is None
    user, _ = await call(users.register_user_if_not_exist, name)
    found = await call(users.get_by_username, name)
    assert found is not None
    assert found.id == user.id


async def test_list_users_pages_by_id_and_filters_by_role(
    call: Call, unique: Callable[[str], str]
) -> None:
    # Start after every existing row so other tests' users cannot interleave.
    start = await call(AsyncSession.scalar, select(func.coalesce(func.max(User.id), 0)))
    made = [
        (await call(users.register_user_if_not_exist, unique("p"), role=role))[0]
        for role in ("student", "teacher", "student", "student")
    ]
    first = await call(users.list_users, role="student", limit=2, after=start)
    assert [u.id for u in first.items] == [made[0].id, made[2].id]
    assert first.next == made[2].id
    second = await call(users.list_users, role="student", limit=2, after=first.next)
    assert [u.id for u in second.items] == [made[3].id]
    assert second.next is None
    everyone = await call(users.list_users, limit=10, after=start)
    assert [u.id for u in everyone.items] == [u.id for u in made]


async def test_delete_user(call: Call, unique: Callable[[str], str]) -> None:
    name = unique("u")
    assert not await call(users.delete_user, name)
    await call(users.register_user_if_not_exist, name)
    assert await call(users.delete_user, name)
    assert await call(users.get_by_username, name) is None


async def test_delete_user_who_owns_cars_is_refused(
    call: Call, unique: Callable[[str], str]
) -> None:
    name = unique("u")
    await call(users.register_user_if_not_exist, name)
    await call(cars.buy_car, name, "Golf")
    with pytest.raises(users.UserHasCarsError):
        await call(users.delete_user, name)
    assert await call(users.get_by_username, name) is not None


async def test_a_delete_refused_by_another_constraint_is_not_owned_cars(
    call: Call, unique: Callable[[str], str], database_url: str
) -> None:
    seller, buyer = unique("s"), unique("b")
    await call(users.register_user_if_not_exist, seller)
    await call(users.register_user_if_not_exist, buyer)
    car = await call(cars.buy_car, seller, "Golf")
    assert car is not None
    await call(sales.sell_car, car.id, buyer)  # the seller owns no car, but has a past period
    # Deleting them sets that period's owner to NULL, which this check refuses.
    check = f"owner_id IS NOT NULL OR username <> '{seller}'"
    async with extra_check(database_url, "ownerships", check):
        with pytest.raises(IntegrityError):  # only the cars' foreign key means "owns cars"
            await call(users.delete_user, seller)
    assert await call(users.get_by_username, seller) is not None


async def test_fifty_concurrent_registrations_make_one_row(
    settings: Settings, unique: Callable[[str], str]
) -> None:
    """Each call has its own session and connection, as concurrent requests would."""
    name = unique("race")
    database = Database(settings.model_copy(update={"db_pool_size": 50}))
    await database.connect()

    async def register() -> tuple[int, bool]:
        async with database.new_session() as db:
            user, created = await users.register_user_if_not_exist(db, name)
            return user.id, created

    try:
        results = await asyncio.gather(*(register() for _ in range(50)))
        async with database.new_session() as db:
            count = await db.scalar(select(func.count()).where(User.username == name))
    finally:
        await database.disconnect()

    assert count == 1
    assert len({user_id for user_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
