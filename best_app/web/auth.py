"""Who is asking: the bearer token of a write, resolved to a principal, and the rules on it.

A token is either a service token from `API_TOKENS` (automation, seeding, the benchmark: it
acts as an admin) or the token of a login session (`best_app.repositories.sessions`), found
by its SHA-256. Every POST, PATCH and DELETE needs one, except the views marked `@public`
(login, and registration, whose view decides: with a password anyone may). A missing,
unknown or expired credential is a 401 with `WWW-Authenticate: Bearer`. Reads are public and
their credentials are not looked at (no lookup on the hot path).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from quart import Quart, current_app, g, request

from best_app.config import Settings, current_settings
from best_app.database import current_database
from best_app.errors import APIError
from best_app.passwords import Passwords
from best_app.repositories import sessions
from best_app.web.security import carries_service_token

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TOKEN_BYTES = 32  # 256 bits from the OS's CSPRNG
_PUBLIC = "best_app_public_write"
_PRINCIPAL = "best_app_principal"
_PASSWORDS = "best_app.passwords"

F = TypeVar("F", bound=Callable[..., Awaitable[object]])


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a write is done for. A service token has no user (and is an admin)."""

    is_admin: bool
    user_id: int | None = None
    username: str | None = None
    session_id: int | None = None


SERVICE = Principal(is_admin=True)


def public(view: F) -> F:
    """Mark a write view that needs no credential (put it right under the route decorator)."""
    setattr(view, _PUBLIC, True)
    return view


def new_token() -> tuple[str, bytes]:
    """A new session token and the hash that is stored in its place."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def unauthorized(detail: str = "A valid bearer token is required for this request.") -> APIError:
    return APIError(
        401,
        detail,
        type_="urn:best-app:problem:unauthorized",
        headers={"WWW-Authenticate": 'Bearer realm="best_app"'},
    )


def forbidden(detail: str) -> APIError:
    return APIError(403, detail, type_="urn:best-app:problem:forbidden")


def principal() -> Principal | None:
    """Who the current write is for (None: no credential was given)."""
    found: Principal | None = g.get(_PRINCIPAL)
    return found


def require_principal() -> Principal:
    found = principal()
    if found is None:
        raise unauthorized()
    return found


def require_admin() -> Principal:
    found = require_principal()
    if not found.is_admin:
        raise forbidden("Only an admin may do this.")
    return found


def require_user_or_admin(username: str) -> Principal:
    """The user named `username` themselves, or an admin; 403 for anyone else."""
    found = require_principal()
    if not found.is_admin and found.username != username:
        raise forbidden(f"Only {username!r} or an admin may do this.")
    return found


def passwords() -> Passwords:
    found: Passwords = current_app.extensions[_PASSWORDS]
    return found


async def _resolve(authorization: str, settings: Settings) -> Principal | None:
    if carries_service_token(settings.api_tokens):
        return SERVICE
    scheme, _, offered = authorization.partition(" ")
    token = offered.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    async with current_database().new_session() as session:
        owner = await sessions.find_session(
            session, token_hash(token), idle=settings.session_idle_timeout
        )
    if owner is None:
        return None
    return Principal(
        is_admin=owner.is_admin,
        user_id=owner.user_id,
        username=owner.username,
        session_id=owner.session_id,
    )


async def authenticate() -> None:
    """`before_request`: resolve a write's credential; 401 when it needs one and has none."""
    if request.method not in WRITE_METHODS:
        return
    authorization = request.headers.get("Authorization", "")
    if authorization:
        found = await _resolve(authorization, current_settings())
        if found is None:
            raise unauthorized("The bearer token is unknown, expired or revoked.")
        setattr(g, _PRINCIPAL, found)
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if not getattr(view, _PUBLIC, False):
        raise unauthorized()


def init_app(app: Quart, settings: Settings) -> None:
    app.extensions[_PASSWORDS] = Passwords(settings.password_hash_concurrency)
    app.before_request(authenticate)
