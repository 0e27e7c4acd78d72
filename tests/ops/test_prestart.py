"""The wait for the database before serving: bounded, one clear line."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from best_app.config import Settings
from best_app.ops.prestart import DatabaseNotReadyError, wait_for_database


async def test_wait_gives_up_with_one_clear_line(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(database_url="postgresql://u:hunter2@127.0.0.1:1/none")
    started = time.monotonic()
    with pytest.raises(DatabaseNotReadyError) as caught:
        await wait_for_database(settings, give_up_after=1.0)
    assert time.monotonic() - started < 3
    message = str(caught.value)
    assert message.startswith("database not reachable after 1s")
    assert "hunter2" not in message


async def test_wait_returns_once_the_database_answers(settings: Settings) -> None:
    await wait_for_database(settings, give_up_after=5)
