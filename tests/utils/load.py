"""A mixed load through a proxy: reads and purchases (`POST /users/{u}/cars`), every answer
checked, every acknowledged car remembered, to compare with what the database holds."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass, field

import asyncpg
import httpx

from tests.utils.dbtools import plain_dsn


@dataclass
class Load:
    owners: list[str]
    statuses: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    acknowledged: dict[str, int] = field(default_factory=dict)  # car model -> car id
    requests: int = 0

    def count(self, kind: str, status: int) -> None:
        key = f"{kind} {status}"
        self.statuses[key] = self.statuses.get(key, 0) + 1
        self.requests += 1


async def client(http: httpx.AsyncClient, load: Load, stop: asyncio.Event, n: int) -> None:
    for i in itertools.count():
        if stop.is_set():
            return
        owner = load.owners[(n + i) % len(load.owners)]
        kind = ("read user", "read cars", "buy car")[i % 3]
        model = f"m{n}-{i}-{uuid.uuid4().hex[:6]}"
        try:
            if kind == "buy car":
                response = await http.post(f"/users/{owner}/cars", json={"model": model})
            elif kind == "read cars":
                response = await http.get(f"/users/{owner}/cars", params={"limit": 5})
            else:
                response = await http.get(f"/users/{owner}")
        except httpx.HTTPError as error:
            load.failures.append(f"{kind}: {type(error).__name__}: {error}")
            continue
        load.count(kind, response.status_code)
        expected = 201 if kind == "buy car" else 200
        if response.status_code != expected:
            load.failures.append(f"{kind}: {response.status_code} {response.text[:200]}")
        elif kind == "buy car":
            load.acknowledged[model] = response.json()["id"]
        await asyncio.sleep(0.01)


async def stored_cars(database_url: str, owners: list[str]) -> list[tuple[str, int]]:
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        rows = await conn.fetch(
            "SELECT c.model, c.id FROM cars c JOIN users u ON u.id = c.owner_id "
            "WHERE u.username = ANY($1::text[])",
            owners,
        )
    finally:
        await conn.close()
    return [(row["model"], row["id"]) for row in rows]


async def assert_stored_once(database_url: str, load: Load) -> None:
    """Every acknowledged purchase is in the database, once; nothing else is."""
    in_db = await stored_cars(database_url, load.owners)
    models = [model for model, _ in in_db]
    assert len(models) == len(set(models)), "a car was stored twice"
    assert dict(in_db) == load.acknowledged
