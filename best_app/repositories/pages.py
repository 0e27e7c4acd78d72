"""Keyset pagination by id: fetch one row more than asked to know whether a next page exists."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class _Identified(Protocol):
    @property
    def id(self) -> int: ...


T = TypeVar("T", bound=_Identified)


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
