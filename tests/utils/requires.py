"""A test's real part (a binary, a service, a container engine) is either there or the test
says so: skipped on a developer's machine, failed under CI=true (GitHub sets it; set it in any CI)
so that a run where a real part went missing can never pass green."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def require(condition: bool, reason: str) -> None:
    """Go on if `condition` holds; otherwise skip, or fail under CI=true, with `reason`."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing real part fails the run)", pytrace=False)
    pytest.skip(reason)
