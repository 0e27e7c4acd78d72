"""API fuzzing: schemathesis generates requests from the app's own OpenAPI document.

Every operation gets FUZZ_EXAMPLES cases (100 by default; CI derandomises so a failure
reproduces; raise it locally with FUZZ_EXAMPLES=1000). Every response, errors included, must be
documented with its status, content type and schema, and none may be a 5xx. The requests go
to a real Hypercorn over real sockets.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from best_app import create_app
from best_app.config import Settings
from tests.e2e.server import Server

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
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


SCHEMA = schemathesis.openapi.from_dict(_openapi())
OPERATIONS = {op.ok().label: op.ok() for op in SCHEMA.get_all_operations()}


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
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=live_server.url, checks=CHECKS)

    check()
