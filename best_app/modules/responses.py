"""Shared OpenAPI documentation of the error responses every JSON operation can give."""

from collections.abc import Callable
from typing import TypeVar

from quart_schema import document_response

from best_app.schemas import Problem

T = TypeVar("T", bound=Callable[..., object])


def problems(*statuses: int) -> Callable[[T], T]:
    """Document `statuses` (plus 503 for database trouble) as problem+json responses."""

    def decorator(func: T) -> T:
        for status in (*statuses, 503):
            func = document_response(Problem, status)(func)
        return func

    return decorator
