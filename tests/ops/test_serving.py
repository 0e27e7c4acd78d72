"""Hypercorn's configuration (`best_app.ops.serving`): importing it does nothing; reading it
loads the settings once and never empties an operator's metrics directory."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

from best_app.config import Settings
from best_app.observability.metrics import MULTIPROC_ENV
from best_app.ops import serving

_URL = "postgresql://unused@127.0.0.1/unused"

_PROBE = """
import json, os, sys
before = dict(os.environ)
import best_app.ops.serving
print(json.dumps({"same_env": dict(os.environ) == before}))
if sys.argv[1] == "read":
    from hypercorn.config import Config
    config = Config.from_object("best_app.ops.serving")
    print(json.dumps({"bind": config.bind, "workers": config.workers,
                      "metrics_dir": os.environ.get("PROMETHEUS_MULTIPROC_DIR")}))
"""


def _probe(mode: str, env: dict[str, str], cwd: Path) -> list[dict[str, object]]:
    done = subprocess.run(  # noqa: S603 - this interpreter, our probe
        [sys.executable, "-c", _PROBE, mode],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", MULTIPROC_ENV)}
    return {**env, "PYTHONPATH": str(Path(__file__).parents[2]), **extra}


def test_importing_has_no_effect_even_without_valid_settings(tmp_path: Path) -> None:
    operator_dir = tmp_path / "metrics"
    operator_dir.mkdir()
    (operator_dir / "keep.db").write_text("the operator's")
    # No DATABASE_URL: loading the settings would fail, so the import must not load them.
    env = _env(**{MULTIPROC_ENV: str(operator_dir)})
    assert _probe("import", env, tmp_path) == [{"same_env": True}]
    assert (operator_dir / "keep.db").read_text() == "the operator's"


def test_hypercorn_reads_the_settings_and_keeps_the_operators_metrics_dir(tmp_path: Path) -> None:
    operator_dir = tmp_path / "metrics"
    operator_dir.mkdir()
    (operator_dir / "keep.db").write_text("the operator's")
    env = _env(
        DATABASE_URL=_URL, HOST="127.0.0.1", PORT="8123", WEB_CONCURRENCY="3",
        **{MULTIPROC_ENV: str(operator_dir)},
    )  # fmt: skip
    imported, read = _probe("read", env, tmp_path)
    assert imported == {"same_env": True}
    assert read == {"bind": ["127.0.0.1:8123"], "workers": 3, "metrics_dir": str(operator_dir)}
    assert (operator_dir / "keep.db").read_text() == "the operator's"


def test_without_an_operators_dir_the_workers_share_a_fresh_one(tmp_path: Path) -> None:
    _, read = _probe("read", _env(DATABASE_URL=_URL), tmp_path)
    made = Path(str(read["metrics_dir"]))
    assert made.is_dir()
    assert list(made.iterdir()) == []
    made.rmdir()


def test_the_module_lists_every_option_it_builds() -> None:
    settings = Settings(_env_file=None, database_url=_URL)
    assert sorted(dir(serving)) == sorted(serving.hypercorn_options(settings))


def test_the_config_survives_the_trip_to_a_spawned_worker() -> None:
    # Hypercorn's multi-worker parent pickles the Config for each worker it spawns.
    settings = Settings(_env_file=None, database_url=_URL, port=8124)
    options = serving.hypercorn_options(settings)
    copied = pickle.loads(pickle.dumps(options["logger_class"]))  # noqa: S301 - our own bytes
    assert copied.keywords["settings"] == settings
