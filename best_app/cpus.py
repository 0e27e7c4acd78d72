"""How many CPUs this process may use: the container's CPU quota where one is set, otherwise
the CPUs it may be scheduled on. `os.cpu_count()` is the host's, whatever the container's limit
(64 on a 64-core node running a pod limited to one CPU).

`available_cpus()` is the default number of Hypercorn workers where multi-worker is chosen.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _quota(quota: str, period: str) -> float | None:
    """quota / period in CPUs; None for no limit ("max" in cgroup v2, -1 in v1)."""
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def cpu_quota(root: Path = CGROUP_ROOT) -> float | None:
    """The CPU limit of this process's cgroup in CPUs (1.5 for `cpus: 1.5`), or None if unset.

    cgroup v2 keeps it in `cpu.max` ("150000 100000", or "max 100000"); v1 in the cpu
    controller's `cpu.cfs_quota_us` and `cpu.cfs_period_us`. A container sees its own cgroup at
    /sys/fs/cgroup.
    """
    cpu_max = _read(root / "cpu.max")
    if cpu_max is not None:
        quota, _, period = cpu_max.partition(" ")
        return _quota(quota, period)
    for controller in ("cpu", "cpu,cpuacct"):
        quota_v1 = _read(root / controller / "cpu.cfs_quota_us")
        period_v1 = _read(root / controller / "cpu.cfs_period_us")
        if quota_v1 is not None and period_v1 is not None:
            return _quota(quota_v1, period_v1)
    return None


def schedulable_cpus() -> int:
    """The CPUs this process may run on (taskset, cpusets), where the platform says."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def available_cpus(root: Path = CGROUP_ROOT) -> int:
    """The CPU quota rounded up (half a CPU is one worker), at most the schedulable CPUs, at
    least 1."""
    cpus = schedulable_cpus()
    quota = cpu_quota(root)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)
