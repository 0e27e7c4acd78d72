"""Cars: buy one for a user, list a user's cars, get and delete by id."""

from quart import Blueprint, Response, url_for
from quart_schema import document_response, tag, validate_querystring, validate_request

from best_app.database import get_session
from best_app.errors import APIError
from best_app.modules.responses import json_response, problems
from best_app.modules.users import user_not_found
from best_app.repositories import cars
from best_app.schemas import MAX_ID, CarCreate, CarOut, CarPage, PageQuery

blueprint = Blueprint("cars", __name__)


@blueprint.post("/users/<username:username>/cars")
@tag(["cars"])
@validate_request(CarCreate)
@document_response(CarOut, 201)
@problems(400, 401, 404, 413, 422)
async def buy_car(username: str, data: CarCreate) -> Response:
    """Record that the user bought a car."""
    car = await cars.buy_car(get_session(), username, data.model)
    if car is None:
        raise user_not_found(username)
    location = url_for("cars.get_car", car_id=car.id)
    return json_response(CarOut.model_validate(car), 201, {"Location": location})


@blueprint.get("/users/<username:username>/cars")
@tag(["cars"])
@validate_querystring(PageQuery)
@document_response(CarPage)
@problems(404, 422)
async def get_user_cars(username: str, query_args: PageQuery) -> Response:
    """List the user's cars by id."""
    page = await cars.get_user_cars(
        get_session(), username, limit=query_args.limit, after=query_args.after
    )
    if page is None:
        raise user_not_found(username)
    items = [CarOut.model_validate(c) for c in page.items]
    return json_response(CarPage(items=items, next=page.next))


def car_not_found(car_id: int) -> APIError:
    return APIError(404, f"There is no car {car_id}.", type_="urn:best-app:problem:not-found")


def known_car_id(car_id: int) -> int:
    """Ids past the column's range exist nowhere: 404 before the driver refuses them.

    (Not werkzeug's `int(max=...)`: its failed match makes DELETE answer 405, not 404.)
    """
    if car_id > MAX_ID:
        raise car_not_found(car_id)
    return car_id


@blueprint.get("/cars/<int:car_id>")
@tag(["cars"])
@document_response(CarOut)
@problems(404)
async def get_car(car_id: int) -> Response:
    """Get one car by id."""
    car = await cars.get_car(get_session(), known_car_id(car_id))
    if car is None:
        raise car_not_found(car_id)
    return json_response(CarOut.model_validate(car))


@blueprint.delete("/cars/<int:car_id>")
@tag(["cars"])
@problems(401, 404)
async def delete_car(car_id: int) -> Response:
    """Delete a car."""
    if not await cars.delete_car(get_session(), known_car_id(car_id)):
        raise car_not_found(car_id)
    return Response(status=204)
