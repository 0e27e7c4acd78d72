"""Users: register (idempotent), list, get and delete."""

from quart import Blueprint, Response, url_for
from quart_schema import document_response, tag, validate_querystring, validate_request

from best_app.database import get_session
from best_app.errors import APIError
from best_app.modules.responses import json_response, problems
from best_app.repositories import users
from best_app.schemas import UserCreate, UserListQuery, UserOut, UserPage

blueprint = Blueprint("users", __name__, url_prefix="/users")


def user_not_found(username: str) -> APIError:
    return APIError(404, f"There is no user {username!r}.", type_="urn:best-app:problem:not-found")


@blueprint.post("")
@tag(["users"])
@validate_request(UserCreate)
@document_response(UserOut, 201)
@document_response(UserOut, 200)
@problems(400, 401, 413, 422)
async def create_user(data: UserCreate) -> Response:
    """Register a user; an existing username returns the stored user (200)."""
    user, created = await users.register_user_if_not_exist(
        get_session(), data.username, role=data.role, created_at=data.created_at
    )
    headers = {"Location": url_for("users.get_user", username=user.username)}
    return json_response(UserOut.model_validate(user), 201 if created else 200, headers)


@blueprint.get("")
@tag(["users"])
@validate_querystring(UserListQuery)
@document_response(UserPage)
@problems(422)
async def list_users(query_args: UserListQuery) -> Response:
    """List users by id, optionally of one role."""
    page = await users.list_users(
        get_session(), role=query_args.role, limit=query_args.limit, after=query_args.after
    )
    items = [UserOut.model_validate(u) for u in page.items]
    return json_response(UserPage(items=items, next=page.next))


@blueprint.get("/<username:username>")
@tag(["users"])
@document_response(UserOut)
@problems(404)
async def get_user(username: str) -> Response:
    """Get one user by username."""
    user = await users.get_by_username(get_session(), username)
    if user is None:
        raise user_not_found(username)
    return json_response(UserOut.model_validate(user))


@blueprint.delete("/<username:username>")
@tag(["users"])
@problems(401, 404, 409)
async def delete_user(username: str) -> Response:
    """Delete a user who owns no cars."""
    try:
        deleted = await users.delete_user(get_session(), username)
    except users.UserHasCarsError:
        raise APIError(
            409,
            f"User {username!r} still owns cars; delete them first.",
            type_="urn:best-app:problem:user-has-cars",
        ) from None
    if not deleted:
        raise user_not_found(username)
    return Response(status=204)
