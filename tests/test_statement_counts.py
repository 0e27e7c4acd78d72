"""SQL statements per request, counted with SQLAlchemy events: no N+1 can creep back.

The budget is exact: a change that adds a statement to an endpoint fails here, and one that
removes a statement should lower the number.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from quart.typing import TestAppProtocol, TestClientProtocol
from sqlalchemy import event

from best_app.database import Database

JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def counted(app: TestAppProtocol) -> AsyncIterator[tuple[TestClientProtocol, list[str]]]:
    database: Database = app.app.extensions["database"]  # type: ignore[attr-defined]
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield app.test_client(), statements
    event.remove(engine, "before_cursor_execute", record)


async def test_statements_per_endpoint(
    counted: tuple[TestClientProtocol, list[str]], unique: Callable[[str], str]
) -> None:
    client, statements = counted
    name, gone = unique("n"), unique("g")
    await client.post("/users", json={"username": gone})
    await client.post("/users", json={"username": name})
    car = await (await client.post(f"/users/{name}/cars", json={"model": "Golf"})).get_json()

    budget = [
        ("GET", "/hello/say", None, 0),
        ("GET", "/healthz", None, 0),
        ("POST", "/users", {"username": unique("new")}, 2),
        ("POST", "/users", {"username": name}, 1),
        ("GET", f"/users/{name}", None, 1),
        ("GET", "/users?limit=5", None, 1),
        ("GET", f"/users/{name}/cars", None, 1),
        ("POST", f"/users/{name}/cars", {"model": "Polo"}, 1),
        ("GET", f"/cars/{car['id']}", None, 1),
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
