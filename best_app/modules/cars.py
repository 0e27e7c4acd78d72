"""Cars: buy one for a user, list a user's cars; get, change, sell and delete by id; history."""

from collections.abc import Iterator
from contextlib import contextmanager

from quart import Blueprint, Response, url_for
from quart_schema import tag, validate_querystring, validate_request

from best_app.database import get_session
from best_app.errors import APIError
from best_app.modules.conditional import (
    document_conditional_get,
    document_conditional_write,
    etag_of,
    if_match,
    not_modified,
)
from best_app.modules.users import require_user_or_admin, user_not_found
from best_app.repositories import cars, sales
from best_app.repositories.pages import Page
from best_app.repositories.rows import CarRow, OwnershipRow
from best_app.schemas import (
    MAX_ID,
    CarCreate,
    CarOut,
    CarPage,
    CarPatch,
    OwnershipPage,
    PageQuery,
    SaleCreate,
)
from best_app.web import auth
from best_app.web.openapi import document_more
from best_app.web.responses import answers, no_content, problems

blueprint = Blueprint("cars", __name__)


def _car_link(operation_id: str) -> dict[str, object]:
    return {"operationId": operation_id, "parameters": {"car_id": "$response.body#/id"}}


# OpenAPI links: from a response holding a car to what can be done with it.
_CAR_LINKS = {
    "GetCar": _car_link("get_get_car"),
    "SellCar": _car_link("post_sell_car"),
    "GetOwners": _car_link("get_get_owners"),
    "PatchCar": _car_link("patch_patch_car"),
    "DeleteCar": _car_link("delete_delete_car"),
}


@blueprint.post("/users/<username:username>/cars")
@tag(["cars"])
@validate_request(CarCreate)
@answers(CarOut, 201)
@problems(400, 401, 403, 404, 413, 422)
@document_more(responses={201: {"links": _CAR_LINKS}})
async def buy_car(username: str, data: CarCreate) -> tuple[CarRow, int, dict[str, str]]:
    """Record that the user bought a car (its first ownership period starts now). The user
    themselves or an admin."""
    await require_user_or_admin(username)
    car = await cars.buy_car(get_session(), username, data.model)
    if car is None:
        raise user_not_found(username)
    location = url_for("cars.get_car", car_id=car.id)
    return car, 201, {"Location": location}


@blueprint.get("/users/<username:username>/cars")
@tag(["cars"])
@validate_querystring(PageQuery)
@answers(CarPage)
@problems(404, 422)
async def get_user_cars(username: str, query_args: PageQuery) -> Page[CarRow]:
    """List the user's cars by id."""
    page = await cars.get_user_cars(
        get_session(), username, limit=query_args.limit, after=query_args.after
    )
    if page is None:
        raise user_not_found(username)
    return page


def car_not_found(car_id: int) -> APIError:
    return APIError(404, f"There is no car {car_id}.", type_="urn:best-app:problem:not-found")


@contextmanager
def owner_or_admin(car_id: int) -> Iterator[int | None]:
    """Whose car a car write may change: the user's own (their id), or any (None: an admin).
    The write checks it itself; its `NotOwnerError` becomes a 403."""
    who = auth.require_principal()
    try:
        yield None if who.is_admin else who.user_id
    except cars.NotOwnerError:
        raise auth.forbidden(f"Only the owner of car {car_id} or an admin may do this.") from None


def known_car_id(car_id: int) -> int:
    """Ids past the column's range exist nowhere: 404 before the driver refuses them.

    (Not werkzeug's `int(max=...)`: its failed match makes DELETE answer 405, not 404.)
    """
    if car_id > MAX_ID:
        raise car_not_found(car_id)
    return car_id


@blueprint.get("/cars/<int:car_id>")
@tag(["cars"])
@answers(CarOut, etag=etag_of)
@problems(404)
@document_conditional_get()
async def get_car(car_id: int) -> Response | CarRow:
    """Get one car by id (with its ETag; 304 when If-None-Match names it)."""
    car = await cars.get_car(get_session(), known_car_id(car_id))
    if car is None:
        raise car_not_found(car_id)
    return not_modified(car) or car


@blueprint.patch("/cars/<int:car_id>")
@tag(["cars"])
@validate_request(CarPatch)
@answers(CarOut, etag=etag_of)
@problems(400, 401, 403, 404, 412, 413, 422)
@document_conditional_write()
async def patch_car(car_id: int, data: CarPatch) -> CarRow:
    """Change the car's model (a JSON merge patch); If-Match makes it conditional. The car's
    current owner or an admin."""
    with if_match(f"Car {car_id}") as expected, owner_or_admin(car_id) as owner:
        car = await cars.update_model(
            get_session(), known_car_id(car_id), data.model, expected=expected, owner=owner
        )
    if car is None:
        raise car_not_found(car_id)
    return car


@blueprint.post("/cars/<int:car_id>/sale")
@tag(["cars"])
@validate_request(SaleCreate)
@answers(CarOut, etag=etag_of)
@problems(400, 401, 403, 404, 409, 412, 413, 422)
@document_more(responses={200: {"links": _CAR_LINKS}})
@document_conditional_write()
async def sell_car(car_id: int, data: SaleCreate) -> CarRow:
    """Sell the car to another user: its current ownership period ends, the buyer's begins.
    The car's current owner or an admin."""
    with if_match(f"Car {car_id}") as expected, owner_or_admin(car_id) as owner:
        try:
            car = await sales.sell_car(
                get_session(), known_car_id(car_id), data.buyer, expected=expected, owner=owner
            )
        except sales.NoSuchCarError:
            raise car_not_found(car_id) from None
        except sales.NoSuchBuyerError:
            raise user_not_found(data.buyer) from None
        except sales.AlreadyOwnerError:
            raise APIError(
                409,
                f"User {data.buyer!r} already owns car {car_id}.",
                type_="urn:best-app:problem:already-owner",
            ) from None
    return car


@blueprint.get("/cars/<int:car_id>/owners")
@tag(["cars"])
@validate_querystring(PageQuery)
@answers(OwnershipPage)
@problems(404, 422)
async def get_owners(car_id: int, query_args: PageQuery) -> Page[OwnershipRow]:
    """The car's ownership history, oldest first; the current period has `until` null."""
    page = await sales.get_owners(
        get_session(), known_car_id(car_id), limit=query_args.limit, after=query_args.after
    )
    if page is None:
        raise car_not_found(car_id)
    return page


@blueprint.delete("/cars/<int:car_id>")
@tag(["cars"])
@problems(401, 403, 404, 412)
@document_conditional_write(answer=204)
async def delete_car(car_id: int) -> Response:
    """Delete a car, and its ownership history with it. Its current owner or an admin."""
    with if_match(f"Car {car_id}") as expected, owner_or_admin(car_id) as owner:
        deleted = await cars.delete_car(
            get_session(), known_car_id(car_id), expected=expected, owner=owner
        )
    if not deleted:
        raise car_not_found(car_id)
    return no_content()
