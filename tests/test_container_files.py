"""The container files are linted and valid, whether or not an engine is present."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHELL_SCRIPTS = [
    "scripts/bench",
    "scripts/run",
    "scripts/test",
    "scripts/_common.sh",
    "scripts/entrypoint.sh",
    "scripts/container-test",
    "scripts/container-stand-ins",
    "scripts/compose-test",
    "scripts/install-actionlint",
    ".ci/run",
]


def _tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(path).exists():
        pytest.fail(f"{name} is not installed (it is a dev dependency)")
    return path


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603


COMPOSE_FILES = ["docker-compose.yml", "docker-compose.dev.yml", "docker-compose.scale.yml"]


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
    assert {".git", ".venv", ".tools", ".data", ".env", ".pytest_cache", "tests"} <= ignored


# Files that a container or a shell runs: a CRLF checkout of any of them breaks the container.
LF_FILES = [
    *SHELL_SCRIPTS,
    "Dockerfile",
    ".dockerignore",
    "docker-compose.yml",
    "docker-compose.dev.yml",
]


def test_files_that_run_are_checked_out_with_lf_everywhere() -> None:
    result = _run("git", "check-attr", "eol", "--", *LF_FILES)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{name}: eol: lf" for name in LF_FILES]


def _checkout_with_autocrlf(tmp: Path, with_attributes: bool) -> dict[str, bytes]:
    """Commit the files (and .gitattributes) to a new repository, clone it the way Git for
    Windows does (core.autocrlf=true) and return what the checkout wrote."""
    source, clone = tmp / "source", tmp / "clone"
    for name in [*LF_FILES, *([".gitattributes"] if with_attributes else [])]:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    git = [
        "git",
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.invalid",
        "-c",
        "core.autocrlf=false",
    ]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "files"]):
        subprocess.run([*git, *command], cwd=source, check=True, capture_output=True)  # noqa: S603
    subprocess.run(  # noqa: S603
        ["git", "-c", "core.autocrlf=true", "clone", "-q", str(source), str(clone)],  # noqa: S607
        check=True, capture_output=True,
    )  # fmt: skip
    return {name: (clone / name).read_bytes() for name in LF_FILES}


def test_a_crlf_checkout_keeps_the_scripts_runnable(tmp_path: Path) -> None:
    without = _checkout_with_autocrlf(tmp_path / "without", with_attributes=False)
    assert b"\r\n" in without["scripts/entrypoint.sh"], "autocrlf should write CRLF here"
    checked_out = _checkout_with_autocrlf(tmp_path / "with", with_attributes=True)
    assert [name for name, data in checked_out.items() if b"\r" in data] == []


@pytest.mark.parametrize("compose_file", COMPOSE_FILES)
def test_one_init_process(compose_file: str) -> None:
    """A service that runs the image's tini must not also ask compose for an init: tini would
    not be PID 1 (it warns) and two inits stand between the signal and the server."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    line = next(line for line in dockerfile.splitlines() if line.startswith("ENTRYPOINT"))
    image_entrypoint = json.loads(line.removeprefix("ENTRYPOINT"))
    assert image_entrypoint[0] == "tini"
    services = yaml.safe_load((ROOT / compose_file).read_text())["services"]
    ours = {n: s for n, s in services.items() if str(s.get("image", "")).startswith("best_app")}
    assert ours
    for name, service in ours.items():
        runs_tini = service.get("entrypoint", image_entrypoint)[0] == "tini"
        assert not (runs_tini and service.get("init")), f"{compose_file}: {name} has two inits"


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def _final_stage() -> list[str]:
    """The Dockerfile's last stage (the image that ships), one instruction per line."""
    text = _dockerfile().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    last_from = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    return [line for line in lines[last_from:] if line and not line.startswith("#")]


def test_the_image_serves_one_draining_process_under_tini() -> None:
    stage = _final_stage()
    (entrypoint,) = [json.loads(line.removeprefix("ENTRYPOINT")) for line in stage
                     if line.startswith("ENTRYPOINT")]  # fmt: skip
    (command,) = [json.loads(line.removeprefix("CMD")) for line in stage if line.startswith("CMD")]
    assert entrypoint == ["tini", "--", "/app/entrypoint.sh"]
    assert command == ["best-app", "serve"]
    # best-app serve is one draining process only with one worker; more exec Hypercorn's parent.
    (env,) = [line for line in stage if line.startswith("ENV ")]
    assert "WEB_CONCURRENCY=1" in env.split()
    assert (ROOT / "scripts/entrypoint.sh").read_text().rstrip().endswith('exec "$@"')


def test_the_images_default_python_is_the_one_the_tests_run() -> None:
    """Hypercorn on Python 3.12+ ignores graceful_timeout (hypercorn#308): the image's default
    is the Python this suite runs on, so the drain that is tested is the one that ships."""
    match = re.search(r"^ARG PYTHON_IMAGE=python:(\d+\.\d+)-slim$", _dockerfile(), re.M)
    assert match
    assert match[1] == f"{sys.version_info.major}.{sys.version_info.minor}"
    for name in ("scripts/container-test", "docker-compose.yml", "docker-compose.scale.yml"):
        assert f"python:{match[1]}-slim" in (ROOT / name).read_text(), name
