"""Security promises, checked on real processes and their real output."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from best_app.config import DEV_SECRET_KEY
from tests.utils.server import HYPERCORN, ROOT, run_server, server_env

pytestmark = pytest.mark.slow
STRONG_KEY = "s" * 40
TOKEN = "tok-" + uuid.uuid4().hex


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"API_TOKENS": "t"}, "SECRET_KEY is the development value"),
        ({"SECRET_KEY": DEV_SECRET_KEY, "API_TOKENS": "t"}, "SECRET_KEY is the development value"),
        ({"SECRET_KEY": "short-key", "API_TOKENS": "t"}, "SECRET_KEY must be at least 32"),
        ({"SECRET_KEY": STRONG_KEY}, "API_TOKENS must hold at least one token"),
        ({"SECRET_KEY": STRONG_KEY, "API_TOKENS": " , "}, "API_TOKENS must hold at least one"),
    ],
)
def test_production_start_up_refuses_unsafe_settings(
    database_url: str, overrides: dict[str, str], message: str
) -> None:
    env = server_env(database_url, APP_ENV="production", **overrides)
    if "API_TOKENS" not in overrides:
        del env["API_TOKENS"]  # server_env gives the tests' token; this case has none
    result = subprocess.run(  # noqa: S603
        HYPERCORN, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert message in output
    assert "Traceback" not in output  # one clear line, not a stack trace


def _with_password(database_url: str, password: str) -> str:
    # The test server trusts local connections, so any password works and must never leak.
    return make_url(database_url).set(password=password).render_as_string(hide_password=False)


def test_no_response_or_log_line_leaks_a_secret(database_url: str, server_log: Path) -> None:
    password = "pw-" + uuid.uuid4().hex
    env = server_env(
        _with_password(database_url, password),
        APP_ENV="production",
        SECRET_KEY=STRONG_KEY,
        API_TOKENS=TOKEN,
        LOG_LEVEL="DEBUG",
    )
    bodies: list[str] = []
    with run_server(env, server_log) as server, httpx.Client(base_url=server.url) as http:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        name = f"sec{uuid.uuid4().hex[:10]}"
        for response in (
            http.post("/users", json={"username": name}, headers=auth),
            http.post("/users", json={"username": name}, headers={"Authorization": "Bearer no"}),
            http.post("/users", json={"username": "bad name"}, headers=auth),
            http.post(
                "/users", content=b"{oops", headers=auth | {"Content-Type": "application/json"}
            ),
            http.get(f"/users/{name}"),
            http.get("/users/%00"),
            http.delete("/cars/1", headers={"Authorization": TOKEN}),
            http.get("/readyz"),
            http.get("/openapi.json"),
        ):
            bodies.append(str(response.headers) + response.text)
            assert "X-Request-ID" in response.headers
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert "server" not in response.headers
    log = server.log()
    assert '"method":"POST","path":"/users","status":201' in log  # the log was read
    for secret in (TOKEN, password, STRONG_KEY):
        assert secret not in log
        assert all(secret not in body for body in bodies)
    assert all("Traceback" not in body for body in bodies)
