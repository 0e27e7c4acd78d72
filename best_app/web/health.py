"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the database too).

A draining process (stopping: see `best_app/ops/draining.py`) is alive but not ready.
"""

import logging

from quart import Blueprint, current_app
from quart_schema import tag
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from best_app.database import current_database
from best_app.errors import RETRY_AFTER_SECONDS, APIError
from best_app.ops.draining import drain_of
from best_app.schemas import Status
from best_app.web.responses import answers, problems

blueprint = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@blueprint.get("/healthz")
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
@tag(["health"])
@answers(Status)
@problems()
async def readyz() -> dict[str, str]:
    """The database answers and its schema is at the code's migration head."""
    if drain_of(current_app).draining:
        raise _not_ready("The server is shutting down.")
    try:
        problem = await current_database().schema_problem()
    except (DBAPIError, SQLAlchemyError, OSError) as error:
        log.warning("readiness: database unreachable (%s)", type(error).__name__)
        raise _not_ready("The database is unreachable.") from None
    if problem is not None:
        raise _not_ready(f"The database is not migrated: {problem}.")
    return {"status": "ready"}
