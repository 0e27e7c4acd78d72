"""Cars: the seed's `buy_car` and `get_user_cars`, plus lookup, update and delete by id.

(A car changing hands, and its history, is `sales.py`.)
"""

from __future__ import annotations

from sqlalchemy import String, bindparam, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from best_app.models import Car, User
from best_app.repositories import query
from best_app.repositories.pages import Page
from best_app.repositories.rows import CAR_COLUMNS, CARS, OWNERSHIPS, CarRow
from best_app.repositories.versions import Expected, update_if_current, write_if_current

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


async def update_model(
    session: AsyncSession, car_id: int, model: str, *, expected: Expected | None = None
) -> CarRow | None:
    """Set the car's model (a new version); None when there is no such car.

    Raises `StaleVersionError` when `expected` is given and the car is at another version.
    """
    row = await update_if_current(
        session,
        CARS,
        where=CARS.c.id == car_id,
        values={"model": model},
        returning=CAR_COLUMNS,
        expected=expected,
    )
    return None if row is None else CarRow.of(row)


async def delete_car(
    session: AsyncSession, car_id: int, *, expected: Expected | None = None
) -> bool:
    """Delete the car and its ownership history (ON DELETE CASCADE); False when there is none.

    Raises `StaleVersionError` when `expected` is given and the car is at another version.
    """
    statement = delete(CARS).where(CARS.c.id == car_id).returning(CARS.c.id)
    row = await write_if_current(
        session, statement, table=CARS, key=CARS.c.id == car_id, expected=expected
    )
    return row is not None
