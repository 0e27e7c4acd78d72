"""A car changing hands, and its ownership history.

`sell_car` is the worked example of the transaction rule: four statements in one
`session.begin()` block. The first locks the car's row (`SELECT ... FOR UPDATE`), so
concurrent sales of one car run one after another; each sees the owner the previous one left.
If any statement fails, or a check raises, the block rolls back and nothing has changed.
"""

from __future__ import annotations

from sqlalchemy import DateTime, Integer, String, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from best_app.models import Car, Ownership, User
from best_app.repositories import query
from best_app.repositories.cars import NotOwnerError
from best_app.repositories.pages import Page
from best_app.repositories.rows import (
    CAR_COLUMNS,
    CARS,
    OWNERSHIP_COLUMNS,
    OWNERSHIPS,
    CarRow,
    OwnershipRow,
)
from best_app.repositories.versions import Expected, StaleVersionError


class NoSuchCarError(Exception):
    pass


class NoSuchBuyerError(Exception):
    pass


class AlreadyOwnerError(Exception):
    """The buyer already owns the car."""


# The car, locked until the transaction ends, and the buyer's id (NULL: no such user).
_LOCK_CAR = (
    select(
        *CAR_COLUMNS,
        select(User.id)
        .where(User.username == bindparam("buyer"))
        .scalar_subquery()
        .label("buyer_id"),
    )
    .where(Car.id == bindparam("the_car"))
    .with_for_update(of=CARS)
)
# The current period ends now: this statement starts after the lock is ours, so after the
# previous sale committed. GREATEST keeps a period's end from preceding its start even if
# the server's clock steps back.
_CLOSE_PERIOD = (
    update(OWNERSHIPS)
    .where(OWNERSHIPS.c.car_id == bindparam("the_car"), OWNERSHIPS.c.until.is_(None))
    .values(until=func.greatest(func.statement_timestamp(), OWNERSHIPS.c.since))
    .returning(OWNERSHIPS.c.until)
)
_OPEN_PERIOD = insert(OWNERSHIPS).values(
    car_id=bindparam("the_car", type_=Integer),
    owner_id=bindparam("buyer_id", type_=Integer),
    username=bindparam("buyer", type_=String),
    since=func.coalesce(
        bindparam("opened_at", type_=DateTime(timezone=True)), func.statement_timestamp()
    ),
)
_BUYER_KEYS = query.foreign_keys_of(CARS.c.owner_id, OWNERSHIPS.c.owner_id)
_TRANSFER = (
    update(CARS)
    .where(CARS.c.id == bindparam("the_car"))
    .values(owner_id=bindparam("buyer_id"), version=CARS.c.version + 1)
    .returning(*CAR_COLUMNS)
)


async def sell_car(
    session: AsyncSession,
    car_id: int,
    buyer: str,
    *,
    expected: Expected | None = None,
    owner: int | None = None,
) -> CarRow:
    """Sell the car to the user named `buyer`: close the current period, open the buyer's,
    and make them the owner, all or nothing. Returns the car at its new version.

    Raises `NoSuchCarError`, `NotOwnerError` when `owner` is given and is not the owner
    (checked under the row lock, so against the owner the previous sale left),
    `NoSuchBuyerError`, `AlreadyOwnerError`, or `StaleVersionError` when `expected` is given
    and the car is at another version.
    """
    try:
        async with session.begin():
            locked = await query.read_one(session, _LOCK_CAR, {"the_car": car_id, "buyer": buyer})
            if locked is None:
                raise NoSuchCarError(car_id)
            car, buyer_id = CarRow.of(locked), locked["buyer_id"]
            if owner is not None and car.owner_id != owner:
                raise NotOwnerError(car_id)
            if buyer_id is None:
                raise NoSuchBuyerError(buyer)
            if expected is not None and (car.id, car.version) not in expected:
                raise StaleVersionError
            if car.owner_id == buyer_id:
                raise AlreadyOwnerError(buyer)
            params = {"the_car": car_id, "buyer_id": buyer_id, "buyer": buyer}
            since = (await session.execute(_CLOSE_PERIOD, params)).scalar_one_or_none()
            await session.execute(_OPEN_PERIOD, params | {"opened_at": since})
            sold = (await session.execute(_TRANSFER, params)).mappings().one()
    except IntegrityError as error:  # rolled back
        if query.violates(error, _BUYER_KEYS):  # the buyer was deleted after the lock
            raise NoSuchBuyerError(buyer) from error
        raise
    return CarRow.of(sold)


# The car's id comes along so that "no such car" (no row) and "no periods" are told apart in
# one query, as `cars.get_user_cars` does.
_HISTORY = (
    select(Car.id.label("the_car"), *OWNERSHIP_COLUMNS)
    .outerjoin(Ownership, (Ownership.car_id == Car.id) & (Ownership.id > bindparam("after")))
    .where(Car.id == bindparam("the_car"))
    .order_by(Ownership.id)
    .limit(bindparam("limit"))
)


async def get_owners(
    session: AsyncSession, car_id: int, *, limit: int = 50, after: int | None = None
) -> Page[OwnershipRow] | None:
    """The car's ownership periods, oldest first; None when there is no such car."""
    params = {"the_car": car_id, "after": 0 if after is None else after, "limit": limit + 1}
    rows = await query.read(session, _HISTORY, params)
    if not rows:
        return None
    periods = [OwnershipRow.of(row) for row in rows if row["id"] is not None]
    return Page.from_rows(periods, limit)
