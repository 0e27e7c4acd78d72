"""`scripts/bench`'s reports: a comparison is quoted as the median of its per-round ratios;
instruction counts as counts and ratios."""

from __future__ import annotations

import argparse

import pytest

from scripts.benchmark import instructions
from scripts.benchmark.instructions import REQUESTS
from scripts.benchmark.run import ENDPOINTS, Result, markdown, paired, summarise


def test_paired_is_the_median_of_the_per_round_ratios_with_their_range() -> None:
    # Round 2 was slow for both: the ratio of medians (0.9x) hides what each round says.
    ratio = paired([100.0, 50.0, 90.0], [100.0, 40.0, 100.0])
    assert ratio == {"median": 1.0, "low": 0.9, "high": 1.25}
    with pytest.raises(ValueError, match="shorter"):
        paired([1.0, 2.0], [1.0])


def test_a_comparison_table_carries_the_paired_ratios() -> None:
    def result(rps: list[float]) -> Result:
        return Result(rps=rps, p50_ms=[1.0] * 3, p99_ms=[2.0] * 3, cpu_us=[100.0] * 3)

    rounds = {"best_app": [100.0, 50.0, 90.0], "seed": [10.0] * 3, "ceiling": [200.0] * 3}
    rounds["baseline"] = [100.0, 40.0, 100.0]
    results = {"GET /x": {name: result(rps) for name, rps in rounds.items()}}
    args = argparse.Namespace(
        comparisons={"baseline": "at `abc`"}, rounds=3, duration=1.0, connections=1
    )
    summary = summarise(results, {}, args)
    assert summary["endpoints"]["GET /x"]["paired best_app/baseline"]["median"] == 1.0
    table = markdown(summary)
    assert "| 1.000x (0.90-1.25) | 1.000x |" in table


def test_instructions_are_counted_for_the_benchmarks_endpoints() -> None:
    assert REQUESTS.keys() == ENDPOINTS.keys()


def test_an_instructions_table_gives_each_checkouts_count_and_the_ratios() -> None:
    table = {"GET /x": {"best_app": 1_100_000.0, "baseline": 1_000_000.0, "off": 1_250_000.0}}
    report = instructions.markdown(table, ["best_app", "baseline", "off"], 500)
    assert "| `GET /x` | 1,100,000 | 1,000,000 | 1,250,000 | 1.100x | 0.880x |" in report
    assert "best_app/baseline | best_app/off |" in report
    alone = instructions.markdown({"GET /x": {"best_app": 7.0}}, ["best_app"], 1)
    assert "| endpoint | best_app instructions/request |\n|---|---:|\n| `GET /x` | 7 |\n" in alone
