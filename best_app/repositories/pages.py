"""Keyset pagination by id: fetch one row more than asked to know whether a next page exists."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from best_app.models.base import IdentityKey


class _Row(Protocol):
    """A plain row with an id (e.g. `cars.CarRow`)."""

    id: int


# Mapped entities or plain rows: anything with an integer id.
T = TypeVar("T", bound=IdentityKey | _Row)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    next: int | None

    @classmethod
    def from_rows(cls, rows: Sequence[T], limit: int) -> "Page[T]":
        """`rows` were fetched with `LIMIT limit + 1`, ordered by id."""
        if len(rows) > limit:
            return cls(items=rows[:limit], next=rows[limit - 1].id)
        return cls(items=rows, next=None)
