"""`best_app.web.middleware`: the metrics' route label is the matched rule, set by `record_route` (a
documented `before_request` hook), also for a request the bearer check refuses; a request that
matches no rule is `<unmatched>`."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import REGISTRY

from best_app import create_app
from best_app.config import Settings


def _count(method: str, route: str, status: int) -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("best_app_http_requests_total", labels) or 0.0


async def test_requests_are_counted_by_their_route_template(
    make_settings: Callable[..., Settings],
) -> None:
    expected = [
        ("GET", "/users/<username:username>", 404, "/users/nobody-here"),
        ("POST", "/users", 401, "/users"),  # refused by the bearer check, after the label
        ("GET", "/hello/say", 200, "/hello/say"),
        ("GET", "<unmatched>", 404, "/no/such/route"),
    ]
    before = [_count(method, route, status) for method, route, status, _ in expected]
    async with create_app(make_settings(api_tokens=("t",))).test_app() as app:
        client = app.test_client()
        for method, _, status, path in expected:
            response = await client.open(path, method=method, json={"username": "x"})
            assert response.status_code == status
    after = [_count(method, route, status) for method, route, status, _ in expected]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1, 1]
