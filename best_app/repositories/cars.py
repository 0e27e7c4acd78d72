"""Cars: the seed's `buy_car` and `get_user_cars`, plus lookup, update and delete by id.

(A car changing hands, and its history, is `sales.py`.)
"""

from __future__ import annotations

from sqlalchemy import String, bindparam, delete, exists, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from best_app.models import Car, User
from best_app.repositories import query
from best_app.repositories.pages import Page
from best_app.repositories.rows import CAR_COLUMNS, CARS, OWNERSHIPS, CarRow
from best_app.repositories.versions import Expected, update_if_current, write_if_current


class NotOwnerError(Exception):
    """The car exists, but the one acting is not its owner (and not an admin)."""


# Built once, one statement (one round trip): the owner is looked up inside the INSERT, and
# the car's first ownership period is inserted from the new row by a data-modifying CTE.
_NEW_CAR = (
    insert(CARS)
    .from_select(
        [CARS.c.model, CARS.c.owner_id],
        select(bindparam("model", type_=String), User.id).where(
            User.username == bindparam("username")
        ),
    )
    .returning(*CAR_COLUMNS)
    .cte("new_car")
)
_FIRST_PERIOD = (
    insert(OWNERSHIPS)
    .from_select(
        [OWNERSHIPS.c.car_id, OWNERSHIPS.c.owner_id, OWNERSHIPS.c.username, OWNERSHIPS.c.since],
        select(
            _NEW_CAR.c.id,
            _NEW_CAR.c.owner_id,
            bindparam("username", type_=String),
            func.now(),
        ),
    )
    .returning(OWNERSHIPS.c.id)
    .cte("first_period")
)
_OWNER_KEYS = query.foreign_keys_of(CARS.c.owner_id, OWNERSHIPS.c.owner_id)
_BUY_CAR = select(*(_NEW_CAR.c[column.name] for column in CAR_COLUMNS)).add_cte(_FIRST_PERIOD)


async def buy_car(session: AsyncSession, username: str, model: str) -> CarRow | None:
    """Record that `username` bought a car of `model`; None when there is no such user.

    One statement inserts the car and opens its first ownership period (both or neither).
    The owner is looked up inside the INSERT, so a user deleted concurrently either blocks
    the insert (the foreign key) or makes it insert nothing.
    """
    # One statement in `session.begin()`; FASTPATH's `alone` sends it alone (`query.write_one`).
    try:
        row = await query.write_one(session, _BUY_CAR, {"model": model, "username": username})
    except IntegrityError as error:
        if query.violates(error, _OWNER_KEYS):  # the owner was deleted between read and check
            return None
        raise
    return None if row is None else CarRow.of(row)


# The owner's id comes along so that "no such user" (no row) and "no cars" (one row of NULL
# car columns) are told apart in the same query. Ids start at 1, so `after` 0 means "from
# the start".
_USER_CARS = (
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
    params = {"username": username, "after": 0 if after is None else after, "limit": limit + 1}
    rows = await query.read(session, _USER_CARS, params)
    if not rows:
        return None
    cars = [CarRow.of(row) for row in rows if row["id"] is not None]
    return Page.from_rows(cars, limit)


_BY_ID = select(*CAR_COLUMNS).where(Car.id == bindparam("car_id"))


async def get_car(session: AsyncSession, car_id: int) -> CarRow | None:
    row = await query.read_one(session, _BY_ID, {"car_id": car_id})
    return None if row is None else CarRow.of(row)


def _owned(car_id: int, owner: int | None) -> ColumnElement[bool]:
    """The car `car_id`, only while `owner` owns it (None: whoever owns it, an admin acting).
    A write carries it in its WHERE: a sale that commits first makes the write find no row."""
    where = CARS.c.id == car_id
    return where if owner is None else where & (CARS.c.owner_id == owner)


async def not_found_or_not_owner(session: AsyncSession, car_id: int, owner: int | None) -> None:
    """After a write found no row: raise `NotOwnerError` if the car exists (someone else's)."""
    if owner is not None and await session.scalar(select(exists().where(CARS.c.id == car_id))):
        raise NotOwnerError(car_id)


async def update_model(
    session: AsyncSession,
    car_id: int,
    model: str,
    *,
    expected: Expected | None = None,
    owner: int | None = None,
) -> CarRow | None:
    """Set the car's model (a new version); None when there is no such car.

    Raises `StaleVersionError` when `expected` is given and the car is at another version,
    `NotOwnerError` when `owner` is given and does not own the car when the write runs.
    """
    row = await update_if_current(
        session,
        CARS,
        where=_owned(car_id, owner),
        values={"model": model},
        returning=CAR_COLUMNS,
        expected=expected,
    )
    if row is None:
        await not_found_or_not_owner(session, car_id, owner)
        return None
    return CarRow.of(row)


async def delete_car(
    session: AsyncSession,
    car_id: int,
    *,
    expected: Expected | None = None,
    owner: int | None = None,
) -> bool:
    """Delete the car and its ownership history (ON DELETE CASCADE); False when there is none.

    Raises `StaleVersionError` when `expected` is given and the car is at another version,
    `NotOwnerError` when `owner` is given and does not own the car when the write runs.
    """
    where = _owned(car_id, owner)
    statement = delete(CARS).where(where).returning(CARS.c.id)
    row = await write_if_current(session, statement, table=CARS, key=where, expected=expected)
    if row is None:
        await not_found_or_not_owner(session, car_id, owner)
        return False
    return True
