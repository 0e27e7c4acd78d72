"""The seed's goodbye module."""

from quart import Blueprint, Response

from best_app.web.openapi import text_response

blueprint = Blueprint("bye", __name__, url_prefix="/bye")


@blueprint.get("/say")
@text_response("Goodbye!")
async def say_bye() -> Response:
    """Say goodbye."""
    return Response("Goodbye!", content_type="text/plain; charset=utf-8")
