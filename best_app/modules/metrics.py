"""`GET /metrics`: Prometheus text format. Open unless METRICS_TOKEN is set (then a bearer
token); either way, keep it on an internal network."""

from quart import Blueprint, Response, current_app, request
from quart_schema import hide

from best_app import metrics
from best_app.config import Settings
from best_app.errors import APIError
from best_app.web import token_matches

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
@hide
async def scrape() -> Response:
    settings: Settings = current_app.extensions["settings"]
    if settings.metrics_token is not None:
        expected = (settings.metrics_token.get_secret_value(),)
        if not token_matches(request.headers.get("Authorization", ""), expected):
            raise APIError(
                401,
                "A valid bearer token is required for /metrics.",
                type_="urn:best-app:problem:unauthorized",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    return metrics.exposition()
