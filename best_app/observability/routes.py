"""`GET /metrics`: Prometheus text format. Open unless METRICS_TOKEN is set (then a bearer
token); either way, keep it on an internal network."""

from quart import Blueprint, Response
from quart_schema import hide

from best_app.config import current_settings
from best_app.observability import metrics
from best_app.web.ratelimit import rate_exempt
from best_app.web.security import require_bearer

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
@rate_exempt  # scraped by Prometheus every few seconds
@hide
async def scrape() -> Response:
    settings = current_settings()
    if settings.metrics_token is not None:
        require_bearer((settings.metrics_token.get_secret_value(),), "metrics")
    return metrics.exposition()
