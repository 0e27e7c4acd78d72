"""The seed's hello module: greets `MY_ENV_VAR`."""

from quart import Blueprint, Response, current_app

from best_app.web.openapi import text_response

blueprint = Blueprint("hello", __name__, url_prefix="/hello")


@blueprint.get("/say")
@text_response("the greeting, e.g. Hello XY!")
async def say_hello() -> Response:
    """Say hello to `MY_ENV_VAR`."""
    name = current_app.config["MY_ENV_VAR"]
    return Response(f"Hello {name}!", content_type="text/plain; charset=utf-8")
