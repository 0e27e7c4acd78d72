"""SQL statements per request: no N+1 can creep back.

Counted where they are sent: SQLAlchemy's `before_cursor_execute` event for the statements
SQLAlchemy executes, and asyncpg's query logger (attached through the pool's `connect` event)
for the hot reads that run on the driver directly (`best_app.repositories.compiled`).

The budget is exact: a change that adds a statement to an endpoint fails here, and one that
removes a statement should lower the number.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from asyncpg.connection import LoggedQuery
from quart import Quart
from quart.typing import TestAppProtocol, TestClientProtocol
from sqlalchemy import event

from best_app.config import Settings
from tests.utils.dbtools import database_of

JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def counted(
    app: TestAppProtocol, quart_app: Quart
) -> AsyncIterator[tuple[TestClientProtocol, list[str]]]:
    database = await database_of(quart_app)  # `app` serves `quart_app`: its engine is connected
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    def record_driver_query(query: LoggedQuery) -> None:
        statements.append(query.query)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(record_driver_query)

    engines = [database.engine, database.readiness_engine]  # requests', and /readyz's own
    for engine in engines:
        await engine.dispose()  # every connection from now on is a new, logged one
        event.listen(engine.sync_engine, "before_cursor_execute", record)
        event.listen(engine.sync_engine.pool, "connect", on_connect)
    yield app.test_client(), statements
    for engine in engines:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
        event.remove(engine.sync_engine.pool, "connect", on_connect)


async def test_statements_per_endpoint(
    counted: tuple[TestClientProtocol, list[str]],
    unique: Callable[[str], str],
    settings: Settings,
) -> None:
    client, statements = counted
    name, gone, buyer = unique("n"), unique("g"), unique("b")
    for username in (gone, name, buyer):
        await client.post("/users", json={"username": username})
    car = await (await client.post(f"/users/{name}/cars", json={"model": "Golf"})).get_json()

    # BEGIN and COMMIT/ROLLBACK are counted: each is a round trip. Writes run in
    # `session.begin()` (BEGIN, the statement, COMMIT); reads through the session are in the
    # transaction it begins (BEGIN, SELECT, ROLLBACK at close); hot reads on the driver
    # (`CompiledQuery`) send only their query. Buying a car inserts its first ownership
    # period in the same statement (a data-modifying CTE), sent alone in autocommit with
    # `FASTPATH`'s `alone` (on by default: `fastpath.py`), in `session.begin()` without it.
    # With it on, registration sends its read alone first: a new user costs one more read.
    # A sale is BEGIN, the row lock,
    # close the period, open the next, move the car, COMMIT: four statements, one transaction.
    alone = "alone" in settings.fastpath
    budget = [
        ("GET", "/hello/say", None, 0),
        ("GET", "/healthz", None, 0),
        ("POST", "/users", {"username": unique("new")}, 5 if alone else 4),
        ("POST", "/users", {"username": name}, 1),
        ("GET", f"/users/{name}", None, 1),
        ("GET", "/users?limit=5", None, 3),
        ("GET", f"/users/{name}/cars", None, 1),
        ("POST", f"/users/{name}/cars", {"model": "Polo"}, 1 if alone else 3),
        ("GET", f"/cars/{car['id']}", None, 1),
        ("PATCH", f"/users/{name}", {"role": "teacher"}, 3),
        ("PATCH", f"/cars/{car['id']}", {"model": "Passat"}, 3),
        ("POST", f"/cars/{car['id']}/sale", {"buyer": buyer}, 6),
        ("GET", f"/cars/{car['id']}/owners", None, 1),
        ("DELETE", f"/cars/{car['id']}", None, 3),
        ("DELETE", f"/users/{gone}", None, 3),
        ("GET", "/readyz", None, 4),
    ]
    counts = {}
    for method, path, body, _ in budget:
        statements.clear()
        response = await client.open(path, method=method, json=body)
        await asyncio.sleep(0)  # asyncpg calls query loggers soon after the query, not during it
        assert response.status_code < 400, (method, path, response.status_code)
        counts[(method, path, str(body))] = len(statements)
    assert counts == {(m, p, str(b)): n for m, p, b, n in budget}
