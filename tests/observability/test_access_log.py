"""The access logger (`best_app.observability.access_log`): batched lines reach the log at
exit, through one exit hook however many loggers a process makes."""

from __future__ import annotations

import atexit
import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypercorn.config import Config

from best_app.config import Settings
from best_app.observability import access_log
from best_app.observability.access_log import AccessLogger


@pytest.fixture
def exit_hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Callable[[], Any]]]:
    """The exit hooks registered during the test (not run at the real exit)."""
    hooks: list[Callable[[], Any]] = []
    monkeypatch.setattr(atexit, "register", hooks.append)
    access_log._flushed_at_exit.cache_clear()
    yield hooks
    access_log._flushed_at_exit.cache_clear()  # later loggers register a real hook again


def _logger(path: Path) -> AccessLogger:
    config = Config()
    config.accesslog = str(path)
    settings = Settings(_env_file=None, app_env="testing", database_url="postgresql://x@h/db")
    return AccessLogger(config, settings)


async def test_one_exit_hook_flushes_every_live_logger(
    tmp_path: Path, exit_hooks: list[Callable[[], Any]]
) -> None:
    paths = [tmp_path / f"access-{n}.log" for n in range(3)]
    loggers = [_logger(path) for path in paths]
    scope: Any = {"type": "http", "method": "GET", "path": "/hello/say", "headers": []}
    for logger in loggers:
        await logger.access(scope, {"status": 200, "headers": []}, 0.001)
    assert [path.read_text() for path in paths] == ["", "", ""]  # batched, not yet written
    assert len(exit_hooks) == 1
    exit_hooks[0]()
    assert all("GET /hello/say 200" in path.read_text() for path in paths)


def test_the_exit_hook_keeps_no_logger_alive(
    tmp_path: Path, exit_hooks: list[Callable[[], Any]]
) -> None:
    logger = _logger(tmp_path / "access.log")
    live = access_log._flushed_at_exit()
    assert list(live) == [logger]
    del logger
    gc.collect()
    assert list(live) == []
