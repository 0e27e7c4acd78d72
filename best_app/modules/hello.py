"""The seed's hello module: greets `MY_ENV_VAR`."""

from quart import Blueprint, Response

from best_app.config import current_settings
from best_app.web.openapi import text_response

blueprint = Blueprint("hello", __name__, url_prefix="/hello")


@blueprint.get("/say")
@text_response("the greeting, e.g. Hello XY!")
async def say_hello() -> Response:
    """Say hello to `MY_ENV_VAR`."""
    name = current_settings().my_env_var
    return Response(f"Hello {name}!", content_type="text/plain; charset=utf-8")
