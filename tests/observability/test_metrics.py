"""`best_app.observability.metrics`: the factory attaches the pool metrics to the app's own
engine once it is connected (`database/` knows nothing of metrics)."""

from __future__ import annotations

from prometheus_client import REGISTRY
from quart import Quart
from quart.typing import TestAppProtocol

from tests.utils.dbtools import database_of


def _checked_out() -> float | None:
    return REGISTRY.get_sample_value("best_app_db_pool_checked_out")


async def test_the_apps_pool_is_counted_while_a_connection_is_out(
    app: TestAppProtocol, quart_app: Quart
) -> None:
    database = await database_of(quart_app)  # `app` serves `quart_app`: connected
    before = _checked_out()
    assert before is not None
    async with database.engine.connect():
        assert _checked_out() == before + 1
    assert _checked_out() == before
