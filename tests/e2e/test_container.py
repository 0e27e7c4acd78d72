"""The container paths, via scripts/container-test (the image) and scripts/compose-test (the
compose files, run for real); docker or podman; skipped without an engine (failed under
CI=true)."""

from __future__ import annotations

import subprocess

import pytest

from tests.utils.requires import require
from tests.utils.server import ROOT

SKIPPED = 77


@pytest.mark.slow
@pytest.mark.container
@pytest.mark.parametrize("script", ["container-test", "compose-test"])
def test_container(script: str) -> None:
    result = subprocess.run(  # noqa: S603
        [str(ROOT / "scripts" / script)],
        cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    report = "\n".join(
        line for line in result.stdout.splitlines() if line.startswith(("ok", "FAIL", "#", "SKIP"))
    )
    print(report)
    # No engine, or CONTAINER_TEST_SKIP: skipped, or failed under CI=true.
    require(result.returncode != SKIPPED, result.stdout.strip().splitlines()[-1])
    assert result.returncode == 0, f"{report}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
