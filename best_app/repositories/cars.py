"""Cars: the seed's `buy_car` and `get_user_cars`, plus lookup and delete by id."""

from __future__ import annotations

from sqlalchemy import delete, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from best_app.models import Car, User
from best_app.repositories.pages import Page


async def buy_car(session: AsyncSession, username: str, model: str) -> Car | None:
    """Record that `username` bought a car of `model`; None when there is no such user.

    One statement: the owner is looked up inside the INSERT, so a user deleted concurrently
    either blocks the insert (the foreign key) or makes it insert nothing.
    """
    owner = select(literal(model), User.id).where(User.username == username)
    stmt = insert(Car).from_select([Car.model, Car.owner_id], owner).returning(Car)
    try:
        car = (await session.scalars(stmt)).one_or_none()
        await session.commit()
    except IntegrityError:  # the owner was deleted between our read and the key check
        await session.rollback()
        return None
    return car


async def get_user_cars(
    session: AsyncSession, username: str, *, limit: int = 50, after: int | None = None
) -> Page[Car] | None:
    """The user's cars by id, or None when there is no such user (one query either way)."""
    car_on = Car.owner_id == User.id
    if after is not None:
        car_on &= Car.id > after
    stmt = (
        select(User.id, Car)
        .outerjoin(Car, car_on)
        .where(User.username == username)
        .order_by(Car.id)
        .limit(limit + 1)
    )
    rows = (await session.execute(stmt)).all()
    if not rows:
        return None
    cars = [car for _, car in rows if car is not None]
    return Page.from_rows(cars, limit)


async def get_car(session: AsyncSession, car_id: int) -> Car | None:
    return await session.get(Car, car_id)


async def delete_car(session: AsyncSession, car_id: int) -> bool:
    deleted = (
        await session.scalars(delete(Car).where(Car.id == car_id).returning(Car.id))
    ).one_or_none()
    await session.commit()
    return deleted is not None
