"""Conditional requests (RFC 9110 section 13) on users and cars.

A row's ETag is `"{id}.{version}"`: strong (the version changes with every write to the row),
built from two integers the row already carries, so a GET pays no hashing and no query for it.
`If-None-Match` on a GET answers 304 when the client's copy is current. `If-Match` on a write
becomes "(id, version) is one of these" in the write's own WHERE clause
(`repositories.versions`), checked by the database under the row's lock: 412 when it fails.

A view uses these:

- a view that answers with a row's ETag says `@answers(Model, etag=etag_of)`;
- a conditional GET returns `not_modified(row) or row`, and is documented by
  `@document_conditional_get()`;
- a conditional write runs in `with if_match("User 'alice'") as expected:`, passing
  `expected` to the repository; a stale version becomes the 412 problem on the way out;
- it is documented by `@document_conditional_write()` (`answer=204` for a DELETE).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from quart import Response, request

from best_app.errors import APIError
from best_app.repositories.versions import Expected, StaleVersionError
from best_app.schemas import MAX_ID
from best_app.web.openapi import document_more

T = TypeVar("T", bound=Callable[..., Any])


class Versioned(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def version(self) -> int: ...


def etag_of(row: Versioned) -> str:
    """The row's entity tag, unquoted (werkzeug quotes it in the header)."""
    return f"{row.id}.{row.version}"


def _sent(header: str) -> bool:
    """Whether the request has `header` (`in` on werkzeug's headers raises and catches an
    exception when it is absent, as it is on most requests)."""
    return bool(request.headers.getlist(header))


def _number(text: str) -> int | None:
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def expected_versions() -> Expected | None:
    """The (id, version) pairs `If-Match` accepts; None without it or with `*`.

    If-Match compares strongly: weak tags, and tags this API never issued, match nothing.
    """
    if not _sent("If-Match") or request.if_match.star_tag:
        return None
    pairs = set()
    for tag in request.if_match.as_set():  # strong tags only
        row_id, dot, version = (tag or "").partition(".")  # werkzeug parses `""` as None
        parsed = (_number(row_id), _number(version))
        if dot and parsed[0] is not None and parsed[1] is not None:
            pairs.add((parsed[0], parsed[1]))
    return frozenset(pairs)


def not_modified(row: Versioned) -> Response | None:
    """304 when `If-None-Match` names the row's current ETag (weak comparison), else None."""
    if not _sent("If-None-Match"):
        return None
    tags = request.if_none_match
    tag = etag_of(row)
    if not (tags.star_tag or tag in tags.as_set(include_weak=True)):
        return None
    response = Response(status=304)
    del response.headers["Content-Type"]
    response.set_etag(tag)
    return response


def precondition_failed(what: str) -> APIError:
    return APIError(
        412,
        f"{what} has changed since the version named in If-Match; read it again.",
        type_="urn:best-app:problem:precondition-failed",
    )


@contextmanager
def if_match(what: str) -> Iterator[Expected | None]:
    """Yield the versions `If-Match` accepts (`expected_versions`), for the write in the block;
    a `StaleVersionError` out of the block becomes the 412 problem naming `what`.

    One place pairs the header with its failure, so no conditional write can forget the 412.
    """
    try:
        yield expected_versions()
    except StaleVersionError:
        raise precondition_failed(what) from None


# OpenAPI: the headers and statuses above, for `openapi.document_more`.
ETAG_HEADER = {
    "ETag": {
        "description": 'The representation\'s strong entity tag, `"{id}.{version}"`',
        "schema": {"type": "string"},
    }
}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "Act only if the resource is still at one of these ETags (else 412).",
    "schema": {"type": "string"},
}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "Answer 304 (no body) if the resource is still at one of these ETags.",
    "schema": {"type": "string"},
}
NOT_MODIFIED = {
    "description": "Not modified: the ETag in If-None-Match is current",
    "headers": ETAG_HEADER,
}
NO_CONTENT = {"description": "Done; no body"}


def document_conditional_get() -> Callable[[T], T]:
    """OpenAPI for a GET that answers with the row's ETag (`answers(..., etag=etag_of)`) and
    honours If-None-Match (`not_modified`): the header, the 200's ETag, the bodiless 304."""
    return document_more(
        parameters=(IF_NONE_MATCH,),
        responses={200: {"headers": ETAG_HEADER}, 304: NOT_MODIFIED},
    )


def document_conditional_write(answer: int = 200) -> Callable[[T], T]:
    """OpenAPI for a write that honours If-Match (`if_match`): the header, and its `answer`,
    a 200 with the row's new ETag, or a 204 with no body (a DELETE)."""
    fields = NO_CONTENT if answer == 204 else {"headers": ETAG_HEADER}
    return document_more(parameters=(IF_MATCH,), responses={answer: fields})
