"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the database and its
schema too).

A draining process (stopping: see `best_app/web/draining.py`) is alive but not ready.
"""

import logging

from quart import Blueprint, current_app
from quart_schema import tag
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from best_app.database import current_database
from best_app.database.schema import schema_problem
from best_app.errors import RETRY_AFTER_SECONDS, APIError
from best_app.schemas import Status
from best_app.web.draining import drain_of
from best_app.web.ratelimit import rate_exempt
from best_app.web.responses import answers, problems

blueprint = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@blueprint.get("/healthz")
@rate_exempt  # polled by orchestrators and load balancers
@tag(["health"])
@answers(Status)
async def healthz() -> dict[str, str]:
    """The process is up; the database is not touched."""
    return {"status": "ok"}


def _not_ready(detail: str) -> APIError:
    return APIError(
        503,
        detail,
        type_="urn:best-app:problem:not-ready",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


@blueprint.get("/readyz")
@rate_exempt
@tag(["health"])
@answers(Status)
@problems()
async def readyz() -> dict[str, str]:
    """Not draining, the database answers, and its schema is one this code serves: its
    migration head or a later release's revision (`best_app.database.schema`)."""
    if drain_of(current_app).draining:
        raise _not_ready("The server is shutting down.")
    try:
        problem = await schema_problem(current_database().readiness_engine)
    except (DBAPIError, SQLAlchemyError, OSError) as error:
        log.warning("readiness: database unreachable (%s)", type(error).__name__)
        raise _not_ready("The database is unreachable.") from None
    if problem is not None:
        raise _not_ready(f"The database schema is not one this code serves: {problem}.")
    return {"status": "ready"}
