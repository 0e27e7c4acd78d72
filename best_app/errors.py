"""Every error becomes RFC 9457 `application/problem+json`; nothing internal reaches a client."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from pydantic import ValidationError
from quart import Quart, Response, request
from quart_schema import RequestSchemaValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from best_app.database.driver_errors import driver_error
from best_app.observability.metrics import POOL_TIMEOUTS
from best_app.web.request_id import request_id

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = "5"


class APIError(Exception):
    """An error the API reports as it is: a status, a stable type and a human detail."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type_: str = "about:blank",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_
        self.headers = dict(headers or {})


def problem_body(
    status: int,
    detail: str,
    *,
    type_: str = "about:blank",
    errors: Iterable[Mapping[str, str]] | None = None,
) -> bytes:
    """The problem+json document (also sent below Quart, by `best_app.web.admission`)."""
    body: dict[str, Any] = {
        "type": type_,
        "title": HTTP_STATUS_CODES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "request_id": request_id(),
    }
    if errors is not None:
        body["errors"] = list(errors)
    return orjson.dumps(body)


def problem_response(
    status: int,
    detail: str,
    *,
    type_: str = "about:blank",
    headers: Mapping[str, str] | None = None,
    errors: Iterable[Mapping[str, str]] | None = None,
) -> Response:
    body = problem_body(status, detail, type_=type_, errors=errors)
    response = Response(body, status=status, content_type=PROBLEM_JSON)
    response.headers.update(headers or {})
    return response


def field_errors(error: ValidationError) -> list[dict[str, str]]:
    """One `{"field", "message"}` per bad field; the input itself is never echoed."""
    return [
        {
            "field": ".".join(str(part) for part in item["loc"]) or "body",
            "message": str(item["msg"]).removeprefix("Value error, "),
        }
        for item in error.errors(include_url=False, include_input=False, include_context=False)
    ]


async def _api_error(error: APIError) -> Response:
    return problem_response(error.status, error.detail, type_=error.type, headers=error.headers)


async def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    # `Allow` on 405, for example; werkzeug's own body and content type are dropped.
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return problem_response(status, error.description or "", headers=headers)


async def _schema_error(error: RequestSchemaValidationError) -> Response:
    if request.method in ("POST", "PUT", "PATCH") and not request.is_json:
        return problem_response(
            400,
            "The request body must be JSON (Content-Type: application/json).",
            type_="urn:best-app:problem:not-json",
        )
    cause = error.validation_error
    errors = field_errors(cause) if isinstance(cause, ValidationError) else []
    return problem_response(
        422,
        "The request has invalid fields.",
        type_="urn:best-app:problem:validation",
        errors=errors,
    )


async def _database_unavailable(error: Exception) -> Response:
    log.warning("database unavailable: %s", type(error).__name__)
    if isinstance(error, PoolTimeoutError):
        POOL_TIMEOUTS.inc()
    return problem_response(
        503,
        "The database is unavailable; retry shortly.",
        type_="urn:best-app:problem:database-unavailable",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


# SQLSTATE classes that mean "the database cannot serve this now", not "this request is wrong":
# connection exceptions, insufficient resources (too many connections), operator intervention
# (statement timeout, shutdown, starting up) and transaction rollbacks (deadlock, serialisation).
_UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57", "40"})


def database_unavailable(error: DBAPIError) -> bool:
    """A database error the client should retry: the connection broke or was refused, the
    driver timed the statement out (an `OSError` from the driver, never one from elsewhere:
    `database/` and `fastpath.py` wrap only the driver's), or the server
    reported a condition of the classes above."""
    if error.connection_invalidated:
        return True
    cause = driver_error(error.orig) if error.orig is not None else None
    sqlstate = str(getattr(cause, "sqlstate", None) or "")
    return isinstance(cause, OSError) or sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES


async def _database_error(error: DBAPIError) -> Response:
    if database_unavailable(error):
        return await _database_unavailable(error)
    return await _unexpected(error)


async def _unexpected(error: Exception) -> Response:
    log.exception("unhandled error (request %s)", request_id(), exc_info=error)
    return problem_response(500, "An unexpected error occurred; it has been logged.")


def register_error_handlers(app: Quart) -> None:
    app.register_error_handler(APIError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(RequestSchemaValidationError, _schema_error)
    app.register_error_handler(PoolTimeoutError, _database_unavailable)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(Exception, _unexpected)
