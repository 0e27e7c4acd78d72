"""The container files are linted and valid, whether or not an engine is present."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHELL_SCRIPTS = [
    "scripts/run",
    "scripts/test",
    "scripts/_common.sh",
    "scripts/entrypoint.sh",
    "scripts/container-test",
    "scripts/container-stand-ins",
    ".ci/run",
]


def _tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(path).exists():
        pytest.fail(f"{name} is not installed (it is a dev dependency)")
    return path


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603


COMPOSE_FILES = ["docker-compose.yml", "docker-compose.scale.yml"]


@pytest.mark.parametrize("compose_file", COMPOSE_FILES)
def test_compose_file_matches_the_compose_specification(compose_file: str) -> None:
    result = _run(
        _tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", compose_file
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("compose_file", COMPOSE_FILES)
def test_compose_file_has_no_version_key(compose_file: str) -> None:
    text = (ROOT / compose_file).read_text()
    assert not any(line.startswith("version:") for line in text.splitlines())


def test_dockerfile_is_hadolint_clean() -> None:
    result = _run(_tool("hadolint"), "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SHELL_SCRIPTS)
def test_scripts_are_shellcheck_clean(script: str) -> None:
    result = _run(_tool("shellcheck"), "-x", script)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".data", ".env", ".pytest_cache", "tests"} <= ignored
