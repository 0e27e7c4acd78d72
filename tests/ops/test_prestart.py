"""The container's pre-start steps, in-process: bounded wait, migrations under a lock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from sqlalchemy import text

from best_app.config import Settings
from best_app.database import create_engine
from best_app.database.schema import expected_heads
from best_app.ops.migrations import migrate
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


async def test_concurrent_migrations_take_turns(
    make_settings: Callable[..., Settings], empty_database_url: str
) -> None:
    settings = make_settings(database_url=empty_database_url)
    await asyncio.gather(*(migrate(settings) for _ in range(3)))
    engine = create_engine(settings, pooled=False)
    try:
        async with engine.connect() as conn:
            versions = (await conn.scalars(text("SELECT version_num FROM alembic_version"))).all()
            tables = await conn.scalar(
                text("SELECT count(*) FROM pg_tables WHERE tablename IN ('users', 'cars')")
            )
    finally:
        await engine.dispose()
    assert set(versions) == expected_heads()
    assert len(versions) == 1
    assert tables == 2
