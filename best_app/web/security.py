"""Cross-cutting HTTP concerns inside Quart: bearer tokens, no cookie sessions, CORS.

(Who may write is `best_app.web.auth`.)

(Request ids, security headers and request metrics are ASGI middleware: `best_app.web.middleware`.)
"""

from __future__ import annotations

import hmac

from quart import Quart, Response, g, request
from quart.sessions import SessionInterface, SessionMixin
from quart.wrappers import BaseRequestWebsocket
from quart_cors import cors
from werkzeug.wrappers import Response as WerkzeugResponse

from best_app.config import Settings
from best_app.errors import APIError
from best_app.web.request_id import HEADER as REQUEST_ID_HEADER


def token_matches(authorization: str, tokens: tuple[str, ...]) -> bool:
    """Whether an `Authorization: Bearer <token>` header carries one of `tokens`.

    Every token is compared, always, in constant time: nothing to learn from the timing.
    """
    scheme, _, offered = authorization.partition(" ")
    given = offered.strip().encode()
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(given, token.encode())
    return scheme.lower() == "bearer" and matched


_SERVICE_TOKEN_KEY = "best_app_service_token"  # noqa: S105 - a name in `g`, not a token


def carries_service_token(tokens: tuple[str, ...]) -> bool:
    """Whether the request's `Authorization` carries one of the service `tokens` (compared
    once per request, whoever asks: the rate limits and the auth hook)."""
    found: bool | None = g.get(_SERVICE_TOKEN_KEY)
    if found is None:
        authorization = request.headers.get("Authorization", "")
        found = bool(tokens) and bool(authorization) and token_matches(authorization, tokens)
        setattr(g, _SERVICE_TOKEN_KEY, found)
    return found


def require_bearer(tokens: tuple[str, ...], realm: str) -> None:
    """401 (with `WWW-Authenticate`) unless the request carries one of `tokens`."""
    if not token_matches(request.headers.get("Authorization", ""), tokens):
        raise APIError(
            401,
            "A valid bearer token is required for this request.",
            type_="urn:best-app:problem:unauthorized",
            headers={"WWW-Authenticate": f'Bearer realm="{realm}"'},
        )


class NoSessions(SessionInterface):
    """The API is stateless (bearer tokens, no cookies): open no cookie session per request."""

    async def open_session(self, app: Quart, request: BaseRequestWebsocket) -> None:
        return None

    async def save_session(
        self, app: Quart, session: SessionMixin, response: Response | WerkzeugResponse | None
    ) -> None:
        return None


def init_app(app: Quart, settings: Settings) -> None:
    app.session_interface = NoSessions()  # type: ignore[assignment]  # Quart's stub type
    if settings.cors_origins:
        cors(
            app,
            allow_origin=list(settings.cors_origins),
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "If-None-Match",
                REQUEST_ID_HEADER,
            ],
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            expose_headers=["ETag", "Location", REQUEST_ID_HEADER, "Retry-After"],
            max_age=600,
        )
