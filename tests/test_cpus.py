"""The CPU count that sizes Hypercorn's workers follows the container's quota (cgroup v1 and v2),
read here from files laid out as the kernel does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from best_app.cpus import available_cpus, cpu_quota, schedulable_cpus


def _write(root: Path, name: str, text: str) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text + "\n")


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("150000 100000", 1.5), ("50000 100000", 0.5), ("200000 50000", 4.0), ("max 100000", None)],
)
def test_cgroup_v2_quota(tmp_path: Path, cpu_max: str, expected: float | None) -> None:
    _write(tmp_path, "cpu.max", cpu_max)
    assert cpu_quota(tmp_path) == expected


@pytest.mark.parametrize("controller", ["cpu", "cpu,cpuacct"])
@pytest.mark.parametrize(("quota", "expected"), [("250000", 2.5), ("-1", None)])
def test_cgroup_v1_quota(
    tmp_path: Path, controller: str, quota: str, expected: float | None
) -> None:
    _write(tmp_path, f"{controller}/cpu.cfs_quota_us", quota)
    _write(tmp_path, f"{controller}/cpu.cfs_period_us", "100000")
    assert cpu_quota(tmp_path) == expected


def test_v2_wins_over_v1_files(tmp_path: Path) -> None:
    _write(tmp_path, "cpu.max", "100000 100000")
    _write(tmp_path, "cpu/cpu.cfs_quota_us", "400000")
    _write(tmp_path, "cpu/cpu.cfs_period_us", "100000")
    assert cpu_quota(tmp_path) == 1.0


def test_no_cgroup_files_is_no_quota(tmp_path: Path) -> None:
    assert cpu_quota(tmp_path) is None
    assert available_cpus(tmp_path) == schedulable_cpus() >= 1


def test_a_quota_rounds_up_and_never_exceeds_the_schedulable_cpus(tmp_path: Path) -> None:
    _write(tmp_path, "cpu.max", "50000 100000")
    assert available_cpus(tmp_path) == 1
    _write(tmp_path, "cpu.max", f"{(schedulable_cpus() + 8) * 100000} 100000")
    assert available_cpus(tmp_path) == schedulable_cpus()


def test_a_quota_below_the_schedulable_cpus_is_the_count(tmp_path: Path) -> None:
    _write(tmp_path, "cpu.max", "1 100000")  # a hundred-thousandth of a CPU: still one worker
    assert available_cpus(tmp_path) == 1
    _write(tmp_path, "cpu.max", f"{schedulable_cpus() * 100000 - 1} 100000")
    assert available_cpus(tmp_path) == schedulable_cpus()


def test_schedulable_cpus_are_this_processs() -> None:
    assert 1 <= schedulable_cpus() <= (os.cpu_count() or 1)
