"""Credentials for tests: a service token the test apps and servers accept, sent by default.

Every write needs a bearer token (best_app/web/auth.py). Tests about something else write as
automation does, with a service token from `API_TOKENS`; tests about accounts and sessions
log in as users (`login`) and send no token but their own.
"""

from __future__ import annotations

from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol

from best_app import create_app
from best_app.config import Settings

TEST_TOKEN = "test-service-token"
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
GOOD_PASSWORD = "correct horse battery staple"

ASGIApp = Any


class SendServiceToken:
    """ASGI middleware for test apps: a request without `Authorization` gets the test service
    token (a test that means to send none sends an empty `Authorization`, or uses an app of
    its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not any(
            name == b"authorization" for name, _ in scope["headers"]
        ):
            scope = {
                **scope,
                "headers": [*scope["headers"], (b"authorization", AUTH["Authorization"].encode())],
            }
        await self.app(scope, receive, send)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(
    client: TestClientProtocol, username: str, password: str = GOOD_PASSWORD
) -> None:
    response = await client.post(
        "/users", json={"username": username, "password": password}, headers={"Authorization": ""}
    )
    assert response.status_code == 201, await response.get_data(as_text=True)


async def login(client: TestClientProtocol, username: str, password: str = GOOD_PASSWORD) -> str:
    """A session token for `username`."""
    response = await client.post(
        "/sessions",
        json={"username": username, "password": password},
        headers={"Authorization": ""},
    )
    assert response.status_code == 201, await response.get_data(as_text=True)
    token: str = (await response.get_json())["token"]
    return token


def authorized_app(settings: Settings) -> Quart:
    """`create_app(settings)` whose requests carry the test service token by default."""
    app = create_app(settings)
    app.asgi_app = SendServiceToken(app.asgi_app)  # type: ignore[method-assign,assignment]
    return app
