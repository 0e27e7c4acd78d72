"""What repositories return: plain rows, never mapped entities.

The mapped classes in `best_app.models` describe the schema (and so the migrations) and build
the statements; callers get only a row's values. Nothing is tracked or lazily loaded, so a row
outlives its session, and making one costs a fraction of a mapped instance (measured: on
`GET /users/{username}/cars`, building mapped `Car`s cost more than the query).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any, Protocol, Self

from sqlalchemy import Column, Table

from best_app.models import Car, Ownership, User
from best_app.models.base import Base


class Named(Protocol):
    """A result row read by column name: SQLAlchemy's `RowMapping` (`result.mappings()`) or
    an asyncpg `Record`."""

    def __getitem__(self, name: str, /) -> Any: ...


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # per row class, computed once


@dataclass(frozen=True, slots=True)
class _Row:
    @classmethod
    def of(cls, row: Named) -> Self:
        """The row's fields taken from `row` by name: a column selected in another order, or
        an extra column beside them, cannot land in the wrong field."""
        names = _FIELD_NAMES.get(cls) or _FIELD_NAMES.setdefault(
            cls, tuple(field.name for field in fields(cls))
        )
        return cls(**{name: row[name] for name in names})


@dataclass(frozen=True, slots=True)
class UserRow(_Row):
    id: int
    username: str
    created_at: dt.date
    role: str
    version: int


@dataclass(frozen=True, slots=True)
class CarRow(_Row):
    id: int
    model: str
    owner_id: int
    version: int


@dataclass(frozen=True, slots=True)
class OwnershipRow(_Row):
    """One period of a car's history; `owner_id` is None once that user has been deleted."""

    id: int
    car_id: int
    owner_id: int | None
    username: str
    since: dt.datetime
    until: dt.datetime | None


def table_of(model: type[Base]) -> Table:
    return Base.metadata.tables[model.__tablename__]


def columns_of(model: type[Base], row: type[_Row]) -> tuple[Column[object], ...]:
    """The model's columns named by the row's fields: the one list of what a query selects
    for `row` (a field with no column of that name fails at import)."""
    table = table_of(model)
    return tuple(table.c[field.name] for field in fields(row))


USERS, CARS, OWNERSHIPS = table_of(User), table_of(Car), table_of(Ownership)
USER_COLUMNS = columns_of(User, UserRow)
CAR_COLUMNS = columns_of(Car, CarRow)
OWNERSHIP_COLUMNS = columns_of(Ownership, OwnershipRow)
