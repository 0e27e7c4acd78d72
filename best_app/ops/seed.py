"""Bulk-load realistic data fast: users by COPY, their cars by one INSERT ... SELECT per batch.

Used by `best-app seed` and the benchmark. Usernames are `{prefix}-{n}`, so a second run
with the same prefix refuses (unique usernames) instead of duplicating.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from best_app.config import Settings
from best_app.database import create_engine
from best_app.models.user import ROLES

BATCH = 5_000
MODELS = ("Golf", "Polo", "Octavia", "Model 3", "Civic", "Corolla", "Clio", "Fiesta", "Panda")

# Each car with its first ownership period, as `POST /users/{username}/cars` makes them.
_CARS_FOR_BATCH = """
    WITH batch AS (SELECT id, username FROM users WHERE username = ANY($3::text[])),
    car AS (
        INSERT INTO cars (model, owner_id)
        SELECT ($1::text[])[1 + (b.id + n) % cardinality($1::text[])], b.id
        FROM batch b CROSS JOIN generate_series(1, $2::int) AS n
        ORDER BY b.id, n
        RETURNING id, owner_id
    )
    INSERT INTO ownerships (car_id, owner_id, username)
    SELECT car.id, car.owner_id, batch.username FROM car JOIN batch ON batch.id = car.owner_id
"""


async def seed(
    settings: Settings,
    users: int,
    cars_per_user: int,
    *,
    prefix: str = "seed",
    progress: Callable[[int], None] = lambda _: None,
) -> None:
    """Create `users` users with `cars_per_user` cars each; `progress(n)` after each batch."""
    engine = create_engine(settings.model_copy(update={"db_statement_timeout_ms": 0}), pooled=False)
    try:
        async with engine.connect() as conn:
            # COPY is asyncpg's own; the whole load is one asyncpg transaction.
            raw: Any = (await conn.get_raw_connection()).driver_connection
            async with raw.transaction():
                numbers = iter(range(1, users + 1))
                while batch := list(itertools.islice(numbers, BATCH)):
                    names = [f"{prefix}-{n}" for n in batch]
                    roles = [ROLES[n % len(ROLES)] for n in batch]
                    await raw.copy_records_to_table(
                        "users",
                        records=zip(names, roles, strict=True),
                        columns=["username", "role"],
                    )
                    if cars_per_user:
                        await raw.execute(_CARS_FOR_BATCH, list(MODELS), cars_per_user, names)
                    progress(len(batch))
            await raw.execute("ANALYZE users; ANALYZE cars; ANALYZE ownerships")
    finally:
        await engine.dispose()
