"""Logging in and out, and changing one's password.

`POST /sessions` checks a password and opens a session; `DELETE /sessions/current` ends the
session whose token the request carries; `PUT /users/{username}/password` changes the user's
own password and ends their other sessions. A wrong password and an unknown username get the
same 401 after the same work (a dummy hash is checked for an unknown name).
"""

from __future__ import annotations

from quart import Blueprint, Response
from quart_schema import security_scheme, tag, validate_request

from best_app.config import current_settings
from best_app.database import get_session
from best_app.errors import APIError
from best_app.observability.metrics import LOGINS
from best_app.repositories import accounts, sessions
from best_app.schemas import PasswordChange, SessionCreate, SessionOut
from best_app.web import auth, ratelimit
from best_app.web.responses import answers, no_content, problems

blueprint = Blueprint("sessions", __name__)

_WRONG = "The username or the password is wrong."


@blueprint.post("/sessions")
@auth.public
@tag(["sessions"])
@security_scheme([])
@validate_request(SessionCreate)
@answers(SessionOut, 201)
@problems(400, 401, 413, 422, 429)
async def create_session(data: SessionCreate) -> tuple[dict[str, object], int]:
    """Log in: a bearer token for `Authorization: Bearer <token>`, and when it expires."""
    limits = ratelimit.limiter()
    try:
        await limits.check_login(data.username)
    except APIError:
        LOGINS.labels("refused").inc()
        raise
    db = get_session()
    account = await accounts.find_account(db, data.username)
    stored = account.password_hash if account is not None else None
    verified = await auth.passwords().verify(stored, data.password)
    if account is None or stored is None or not verified.ok:
        LOGINS.labels("failed").inc()
        raise auth.unauthorized(_WRONG)
    LOGINS.labels("succeeded").inc()
    await limits.login_succeeded(data.username)
    settings = current_settings()
    token, digest = auth.new_token()
    expires_at = await sessions.open_session(
        db,
        account.id,
        digest,
        lifetime=settings.session_lifetime,
        idle=settings.session_idle_timeout,
    )
    if verified.rehashed is not None:  # made with older argon2 parameters: store today's
        await accounts.store_upgraded_hash(db, account.id, stored, verified.rehashed)
    return {"token": token, "expires_at": expires_at}, 201


@blueprint.delete("/sessions/current")
@tag(["sessions"])
@problems(401)
async def delete_current_session() -> Response:
    """Log out: the session of this request's token is revoked, on every replica."""
    who = auth.require_principal()
    if who.session_id is None:
        raise APIError(
            400,
            "A service token is not a session; there is nothing to log out of.",
            type_="urn:best-app:problem:not-a-session",
        )
    await sessions.revoke(get_session(), who.session_id)
    return no_content()


@blueprint.put("/users/<username:username>/password")
@tag(["sessions"])
@validate_request(PasswordChange)
@problems(400, 401, 403, 413, 422)
async def change_password(username: str, data: PasswordChange) -> Response:
    """Change one's own password (the current one is needed); one's other sessions end."""
    who = auth.require_principal()
    if who.username != username:
        raise auth.forbidden("Only the user themselves may change their password.")
    db = get_session()
    account = await accounts.find_account(db, username)
    stored = account.password_hash if account is not None else None
    verified = await auth.passwords().verify(stored, data.current_password)
    if account is None or not verified.ok:
        raise auth.forbidden("The current password is wrong.")
    new_hash = await auth.passwords().hash(data.new_password)
    await sessions.change_password(db, account.id, new_hash, keep_session=who.session_id)
    return no_content()
