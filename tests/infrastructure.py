"""Tests that need infrastructure (the lab, the lab amphora, the Octavia virtualenv) say so
through ``require``: outside CI a missing piece skips the test with the reason; in CI
(``CI=true``) it fails the test, naming what is missing, so CI never passes by skipping."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(missing: str | None, what: str) -> None:
    """Skip, or in CI fail, when ``missing`` (the reason ``what`` cannot run) is set."""
    if not missing:
        return
    message = f"{what} unavailable: {missing}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: a missing prerequisite is a failure)", pytrace=False)
    pytest.skip(message)
