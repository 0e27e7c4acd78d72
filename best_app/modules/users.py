"""Users: register (idempotent), list, get, change the role, delete."""

from quart import Blueprint, Response, url_for
from quart_schema import security_scheme, tag, validate_querystring, validate_request

from best_app.database import get_session
from best_app.errors import APIError
from best_app.modules.conditional import (
    document_conditional_get,
    document_conditional_write,
    etag_of,
    if_match,
    not_modified,
)
from best_app.repositories import accounts, users
from best_app.repositories.pages import Page
from best_app.repositories.rows import UserRow
from best_app.schemas import UserCreate, UserListQuery, UserOut, UserPage, UserPatch
from best_app.web import auth, ratelimit
from best_app.web.openapi import document_more
from best_app.web.responses import answers, no_content, problems

blueprint = Blueprint("users", __name__, url_prefix="/users")

# OpenAPI links: from a response naming a user to what can be done with them.
_USER_LINKS = {
    "GetUser": {
        "operationId": "get_get_user",
        "parameters": {"username": "$response.body#/username"},
    },
    "PatchUser": {
        "operationId": "patch_patch_user",
        "parameters": {"username": "$response.body#/username"},
    },
    "BuyCar": {
        "operationId": "post_buy_car",
        "parameters": {"username": "$response.body#/username"},
    },
    "GetUserCars": {
        "operationId": "get_get_user_cars",
        "parameters": {"username": "$response.body#/username"},
    },
    "DeleteUser": {
        "operationId": "delete_delete_user",
        "parameters": {"username": "$response.body#/username"},
    },
}


def user_not_found(username: str) -> APIError:
    return APIError(404, f"There is no user {username!r}.", type_="urn:best-app:problem:not-found")


async def require_user_or_admin(username: str) -> None:
    """The user themselves or an admin may go on; anyone else gets 403 for a user who exists
    and 404 for one who does not (as anyone asking would)."""
    try:
        auth.require_user_or_admin(username)
    except APIError:
        if await users.get_by_username(get_session(), username) is None:
            raise user_not_found(username) from None
        raise


@blueprint.post("")
@auth.public
@tag(["users"])
@security_scheme([{}, {"bearer": []}])
@validate_request(UserCreate)
@answers(UserOut, 201, 200)
@problems(400, 401, 403, 409, 413, 422, 429)
@document_more(responses={201: {"links": _USER_LINKS}, 200: {"links": _USER_LINKS}})
async def create_user(data: UserCreate) -> tuple[UserRow, int, dict[str, str]]:
    """Register a user. With a password anyone may (a taken username is 409). Without one,
    only an admin may, and an existing username returns the stored user (200)."""
    if data.password is not None:
        await ratelimit.limiter().check_registration()
        password_hash = await auth.passwords().hash(data.password)
        registered = await accounts.register_account(
            get_session(), data.username, password_hash, role=data.role, created_at=data.created_at
        )
        if registered is None:
            raise APIError(
                409,
                f"The username {data.username!r} is taken.",
                type_="urn:best-app:problem:username-taken",
            )
        return registered, 201, {"Location": url_for("users.get_user", username=data.username)}
    auth.require_admin()
    user, created = await users.register_user_if_not_exist(
        get_session(), data.username, role=data.role, created_at=data.created_at
    )
    headers = {"Location": url_for("users.get_user", username=user.username)}
    return user, 201 if created else 200, headers


@blueprint.get("")
@tag(["users"])
@validate_querystring(UserListQuery)
@answers(UserPage)
@problems(422)
async def list_users(query_args: UserListQuery) -> Page[UserRow]:
    """List users by id, optionally of one role."""
    return await users.list_users(
        get_session(), role=query_args.role, limit=query_args.limit, after=query_args.after
    )


@blueprint.get("/<username:username>")
@tag(["users"])
@answers(UserOut, etag=etag_of)
@problems(404)
@document_conditional_get()
async def get_user(username: str) -> Response | UserRow:
    """Get one user by username (with its ETag; 304 when If-None-Match names it)."""
    user = await users.get_by_username(get_session(), username)
    if user is None:
        raise user_not_found(username)
    return not_modified(user) or user


@blueprint.patch("/<username:username>")
@tag(["users"])
@validate_request(UserPatch)
@answers(UserOut, etag=etag_of)
@problems(400, 401, 403, 404, 412, 413, 422)
@document_conditional_write()
async def patch_user(username: str, data: UserPatch) -> UserRow:
    """Change the user's role (a JSON merge patch); If-Match makes it conditional. The user
    themselves or an admin."""
    await require_user_or_admin(username)
    with if_match(f"User {username!r}") as expected:
        user = await users.update_role(get_session(), username, data.role, expected=expected)
    if user is None:
        raise user_not_found(username)
    return user


@blueprint.delete("/<username:username>")
@tag(["users"])
@problems(401, 403, 404, 409, 412)
@document_conditional_write(answer=204)
async def delete_user(username: str) -> Response:
    """Delete a user who owns no cars; their past ownership periods keep their username, and
    their sessions end. The user themselves or an admin."""
    await require_user_or_admin(username)
    with if_match(f"User {username!r}") as expected:
        try:
            deleted = await users.delete_user(get_session(), username, expected=expected)
        except users.UserHasCarsError:
            raise APIError(
                409,
                f"User {username!r} still owns cars; delete them first.",
                type_="urn:best-app:problem:user-has-cars",
            ) from None
    if not deleted:
        raise user_not_found(username)
    return no_content()
