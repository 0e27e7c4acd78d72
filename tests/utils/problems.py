"""Assertions shared by the HTTP tests."""

from __future__ import annotations

from typing import Any

from quart.wrappers import Response


async def assert_problem(response: Response, status: int, **expected: Any) -> dict[str, Any]:
    """The response is RFC 9457 problem+json with `status`; returns its body."""
    assert response.status_code == status, await response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.get_json(force=True)
    assert body["status"] == status
    assert {"type", "title", "detail", "request_id"} <= body.keys()
    assert body["request_id"] == response.headers["X-Request-ID"]
    text = str(body).lower()
    for leak in ("traceback", "sqlalchemy", "asyncpg", "select ", "insert "):
        assert leak not in text
    for key, value in expected.items():
        assert body[key] == value, body
    return body
