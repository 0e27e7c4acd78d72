"""SQL statements per request: no N+1 can creep back.

Counted with SQLAlchemy's `before_cursor_execute` event: every statement the repositories
send goes through SQLAlchemy's execution (`best_app.repositories.query`), so it sees them all,
as tracing or any other listener would. (BEGIN, COMMIT and ROLLBACK are the driver's, not
statements: `tests/repositories/test_fastpath.py` shows from PostgreSQL's own log what
reaches the server.)

The budget is exact: a change that adds a statement to an endpoint fails here, and one that
removes a statement should lower the number.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
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

    engines = [database.engine, database.readiness_engine]  # requests', and /readyz's own
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield app.test_client(), statements
    for engine in engines:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


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

    # Statements only (a write's BEGIN and COMMIT are not statements). Registering a new user
    # reads outside a block, then reads again and inserts inside it; an existing one is that
    # one read. Buying a car inserts its first ownership period in the same statement (a
    # data-modifying CTE). A sale is the row lock, close the period, open the next, move the
    # car: four statements, one transaction. With `FASTPATH`'s `alone` (off by default,
    # `best_app.fastpath`) the purchase goes to the driver without SQLAlchemy: its trade is
    # that no listener sees it.
    alone = "alone" in settings.fastpath
    budget = [
        ("GET", "/hello/say", None, 0),
        ("GET", "/healthz", None, 0),
        ("POST", "/users", {"username": unique("new")}, 3),
        ("POST", "/users", {"username": name}, 1),
        ("GET", f"/users/{name}", None, 1),
        ("GET", "/users?limit=5", None, 1),
        ("GET", f"/users/{name}/cars", None, 1),
        ("POST", f"/users/{name}/cars", {"model": "Polo"}, 0 if alone else 1),
        ("GET", f"/cars/{car['id']}", None, 1),
        ("PATCH", f"/users/{name}", {"role": "teacher"}, 1),
        ("PATCH", f"/cars/{car['id']}", {"model": "Passat"}, 1),
        ("POST", f"/cars/{car['id']}/sale", {"buyer": buyer}, 4),
        ("GET", f"/cars/{car['id']}/owners", None, 1),
        ("DELETE", f"/cars/{car['id']}", None, 1),
        ("DELETE", f"/users/{gone}", None, 1),
        ("GET", "/readyz", None, 2),
    ]
    counts = {}
    for method, path, body, _ in budget:
        statements.clear()
        response = await client.open(path, method=method, json=body)
        assert response.status_code < 400, (method, path, response.status_code)
        counts[(method, path, str(body))] = len(statements)
    assert counts == {(m, p, str(b)): n for m, p, b, n in budget}
