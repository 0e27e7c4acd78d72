"""API fuzzing: schemathesis generates requests from the app's own OpenAPI document.

Three phases, the same four checks: every response, errors included, must be documented with
its status, content type and schema, and none may be a 5xx. The requests go to a real
Hypercorn over real sockets.

- generate: every operation gets FUZZ_EXAMPLES cases (100 by default; CI derandomises so a
  failure reproduces; raise it locally with FUZZ_EXAMPLES=1000);
- coverage: schemathesis's deterministic cases for every operation (each boundary, each
  missing or wrong-typed field, each enum value, the examples);
- stateful: sequences that follow the document's OpenAPI links (create a user, buy a car,
  sell it, patch and delete what the responses name), FUZZ_SCENARIOS of them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err

from best_app import create_app
from best_app.config import Settings
from best_app.ops.admins import create_admin
from tests.utils.auth import AUTH, GOOD_PASSWORD
from tests.utils.metrics import assert_pool_returns_to_zero
from tests.utils.server import Server

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS", "200"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _openapi() -> dict[str, Any]:
    """The document the app serves (no database needed to build it)."""
    app = create_app(Settings(_env_file=None, database_url="postgresql://unused/none"))

    async def fetch() -> dict[str, Any]:
        spec: dict[str, Any] = await (await app.test_client().get("/openapi.json")).get_json()
        return spec

    return asyncio.run(fetch())


# An operation of any OpenAPI schema (its parameter, response and schema types are free).
Operation = schemathesis.APIOperation[Any, Any, Any, Any]


def _operations(schema: schemathesis.BaseSchema) -> dict[str, Operation]:
    """Every operation by label; an operation schemathesis cannot read fails the module."""
    operations = {}
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operations[result.ok().label] = result.ok()
    return operations


SCHEMA = schemathesis.openapi.from_dict(_openapi())
OPERATIONS = _operations(SCHEMA)


@pytest.fixture(autouse=True)
def pool_returns_to_zero(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test against the live server, its pools give back every connection."""
    yield
    if "live_server" in request.fixturenames:
        server: Server = request.getfixturevalue("live_server")
        assert_pool_returns_to_zero(server.url)


@pytest.mark.slow
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_operation_conforms_to_its_schema(live_server: Server, label: str) -> None:
    @given(case=OPERATIONS[label].as_strategy())
    @settings(
        max_examples=EXAMPLES,
        derandomize=bool(os.environ.get("CI")),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
        database=None,
    )
    def check(case: schemathesis.Case[Operation]) -> None:
        case.call_and_validate(base_url=live_server.url, headers=AUTH, checks=CHECKS)

    check()


@pytest.mark.slow
@SCHEMA.parametrize()
@settings(
    derandomize=bool(os.environ.get("CI")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit],  # the coverage (and examples) cases; `generate` is the test above
    database=None,
)
def test_coverage_phase_conforms(live_server: Server, case: schemathesis.Case[Operation]) -> None:
    case.call_and_validate(base_url=live_server.url, headers=AUTH, checks=CHECKS)


def test_the_document_links_operations() -> None:
    """The stateful phase has links to follow (without them it would test nothing)."""
    links = {
        (path, method, status, name)
        for path, item in _openapi()["paths"].items()
        for method, operation in item.items()
        for status, response in operation["responses"].items()
        for name in response.get("links", {})
    }
    assert {
        ("/users", "post", "201", "GetUser"),
        ("/users", "post", "201", "BuyCar"),
        ("/users/{username}/cars", "post", "201", "SellCar"),
        ("/users/{username}/cars", "post", "201", "GetOwners"),
        ("/cars/{car_id}/sale", "post", "200", "GetOwners"),
    } <= links


def _admin_session(server: Server, settings: Settings) -> str:
    """A session token of a new admin (made as `best-app create-admin` makes one)."""
    name = f"fuzz-admin-{uuid.uuid4().hex[:8]}"
    asyncio.run(create_admin(settings, name, GOOD_PASSWORD))
    body = {"username": name, "password": GOOD_PASSWORD}
    response = httpx.post(f"{server.url}/sessions", json=body, timeout=30)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


@pytest.mark.slow
def test_stateful_phase_conforms(
    live_server: Server,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    route: dict[str, str],
) -> None:
    """Schemathesis's own stateful phase (its engine, as its CLI runs it: a scenario meets a
    database earlier scenarios changed, which its runner expects and plain Hypothesis does not),
    logged in: every write carries an admin's session token."""
    token = _admin_session(live_server, make_settings(**route))
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run",
        f"{live_server.url}/openapi.json",
        "--phases", "stateful",
        "--checks", ",".join(check.__name__ for check in CHECKS),
        "--max-examples", str(SCENARIOS),
        "--workers", "1",
        "--header", f"Authorization: Bearer {token}",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    if os.environ.get("CI"):
        command += ["--seed", "1"]
    result = subprocess.run(  # noqa: S603 - our own command line
        # In tmp_path: the CLI keeps a cache (`.schemathesis/`) in its working directory.
        command,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "Stateful" in result.stdout, result.stdout[-3000:]
