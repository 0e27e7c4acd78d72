"""Cars: the seed's `buy_car` and `get_user_cars`, plus lookup and delete by id."""

from __future__ import annotations

from sqlalchemy import String, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from best_app.models import Car, User
from best_app.repositories.compiled import CompiledQuery
from best_app.repositories.pages import Page
from best_app.repositories.rows import CAR_COLUMNS, CARS, CarRow

# Built once: the owner is looked up inside the INSERT.
_BUY_CAR = (
    insert(CARS)
    .from_select(
        [CARS.c.model, CARS.c.owner_id],
        select(bindparam("model", type_=String), User.id).where(
            User.username == bindparam("username")
        ),
    )
    .returning(*CAR_COLUMNS)
)


async def buy_car(session: AsyncSession, username: str, model: str) -> CarRow | None:
    """Record that `username` bought a car of `model`; None when there is no such user.

    One statement: the owner is looked up inside the INSERT, so a user deleted concurrently
    either blocks the insert (the foreign key) or makes it insert nothing.
    """
    try:
        async with session.begin():
            row = (
                await session.execute(_BUY_CAR, {"model": model, "username": username})
            ).one_or_none()
    except IntegrityError:  # the owner was deleted between our read and the key check
        return None
    return None if row is None else CarRow.of(row)


# The owner's id comes along so that "no such user" (no row) and "no cars" (one row of NULL
# car columns) are told apart in the same query. Ids start at 1, so `after` 0 means "from
# the start".
_USER_CARS = CompiledQuery(
    select(User.id.label("user_id"), *CAR_COLUMNS)
    .outerjoin(Car, (Car.owner_id == User.id) & (Car.id > bindparam("after")))
    .where(User.username == bindparam("username"))
    .order_by(Car.id)
    .limit(bindparam("limit"))
)


async def get_user_cars(
    session: AsyncSession, username: str, *, limit: int = 50, after: int | None = None
) -> Page[CarRow] | None:
    """The user's cars by id, or None when there is no such user (one query either way)."""
    rows = await _USER_CARS.fetch(
        session, username=username, after=0 if after is None else after, limit=limit + 1
    )
    if not rows:
        return None
    cars = [
        CarRow(row["id"], row["model"], row["owner_id"]) for row in rows if row["id"] is not None
    ]
    return Page.from_rows(cars, limit)


async def get_car(session: AsyncSession, car_id: int) -> CarRow | None:
    row = (await session.execute(select(*CAR_COLUMNS).where(Car.id == car_id))).one_or_none()
    return None if row is None else CarRow.of(row)


async def delete_car(session: AsyncSession, car_id: int) -> bool:
    async with session.begin():
        deleted = (
            await session.scalars(delete(Car).where(Car.id == car_id).returning(Car.id))
        ).one_or_none()
    return deleted is not None
