"""Reading a Prometheus text exposition (`GET /metrics`) in tests."""

from __future__ import annotations

import time

import httpx
from prometheus_client import REGISTRY


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def assert_pool_returns_to_zero(url: str, timeout: float = 5.0) -> None:
    """The server at `url` has every database connection back in its pool within `timeout`:
    `best_app_db_pool_checked_out` (summed over its workers) is 0; never below."""
    deadline = time.monotonic() + timeout
    while True:
        scrape = httpx.get(f"{url}/metrics", timeout=timeout).text
        assert "\nbest_app_db_pool_checked_out " in scrape, "the gauge is missing from /metrics"
        checked_out = metric(scrape, "best_app_db_pool_checked_out")
        assert checked_out >= 0, f"checked out {checked_out}: the gauge counted a return twice"
        if checked_out == 0:
            return
        assert time.monotonic() < deadline, f"{checked_out} connections still checked out"
        time.sleep(0.1)


def checked_out_here() -> float:
    """`best_app_db_pool_checked_out` of this process (the apps tests serve in process), summed
    over every engine it has instrumented."""
    value = REGISTRY.get_sample_value("best_app_db_pool_checked_out")
    assert value is not None
    return value
