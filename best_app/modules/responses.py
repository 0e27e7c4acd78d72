"""How JSON views answer: a model serialised by pydantic, and the errors they document."""

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel
from quart import Response
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


def json_response(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """`model` as a JSON response, serialised in one step by pydantic's own encoder."""
    return Response(
        model.model_dump_json(), status=status, headers=headers, content_type="application/json"
    )


def no_content() -> Response:
    """204 with no body and no Content-Type (Quart's default response would add text/html)."""
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response
