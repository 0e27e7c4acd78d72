"""How JSON views answer: each route states its output model once, in `answers`, which both
documents it (quart-schema's `document_response`) and serialises what the view returns through
it; plus the errors they document and 204. Used by the feature modules and by /healthz alike.

Why not quart-schema's `validate_response`: it refuses a `Response` with the validated status
(so a view could not set an ETag or a Location on it) and hands Quart a model that is then
dumped to a dict and encoded again; here pydantic writes the JSON in one step.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel
from quart import Response
from quart_schema import document_response
from werkzeug.datastructures import Headers

from best_app.schemas import Problem

T = TypeVar("T", bound=Callable[..., object])
P = ParamSpec("P")

View = Callable[P, Awaitable[object]]


def problems(*statuses: int) -> Callable[[T], T]:
    """Document `statuses` (plus 503 for database trouble) as problem+json responses."""

    def decorator(func: T) -> T:
        for status in (*statuses, 503):
            func = document_response(Problem, status)(func)
        return func

    return decorator


def answers(
    model: type[BaseModel], *statuses: int, etag: Callable[[Any], str] | None = None
) -> Callable[[View[P]], Callable[P, Awaitable[Response]]]:
    """The route's output: `model`, documented for `statuses` (200 unless given).

    The view returns what `model` validates (a row or a page, read by attribute, or a dict),
    alone or as `(value, status)`, `(value, headers)` or `(value, status, headers)` as Quart
    allows (headers as a dict, a list of pairs or `Headers`); the answer is
    `model`'s JSON. A `Response` the view returns (304, 204) is sent as it is. With `etag`,
    the answer carries `etag(value)` as its ETag (the feature modules pass
    `modules.conditional.etag_of`, which knows what a row's version is).
    """
    documented = statuses or (200,)

    def decorator(view: View[P]) -> Callable[P, Awaitable[Response]]:
        @functools.wraps(view)
        async def answer(*args: P.args, **kwargs: P.kwargs) -> Response:
            result = await view(*args, **kwargs)
            if isinstance(result, Response):
                return result
            result, status, headers = _value_status_headers(result)
            response = json_response(
                model.model_validate(result, from_attributes=True), status, headers
            )
            if etag is not None:
                response.set_etag(etag(result))
            return response

        # Applied in decorator order: `answers(M, 201, 200)` documents as two stacked
        # `document_response` lines would, 200 first.
        for status in reversed(documented):
            answer = document_response(model, status)(answer)
        return answer

    return decorator


GivenHeaders = Mapping[str, str] | Iterable[tuple[str, str]] | Headers | None


def _value_status_headers(result: object) -> tuple[object, int, GivenHeaders]:
    """A view's return value in Quart's forms, taken apart."""
    if not isinstance(result, tuple):
        return result, 200, None
    if len(result) == 3:
        return result[0], result[1], result[2]
    value, second = result
    if isinstance(second, int):
        return value, second, None
    return value, 200, second


def json_response(model: BaseModel, status: int = 200, headers: GivenHeaders = None) -> Response:
    """`model` as a JSON response, serialised in one step by pydantic's own encoder."""
    return Response(
        model.model_dump_json(),
        status=status,
        headers=None if headers is None else Headers(headers),
        content_type="application/json",
    )


def no_content() -> Response:
    """204 with no body and no Content-Type (Quart's default response would add text/html)."""
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response
