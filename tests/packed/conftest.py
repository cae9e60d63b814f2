"""Fixtures of the packed-charm suite: the charms of this tree, built once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.bases import BASES, Base, InterpreterMissing, interpreter
from tests.infrastructure import require
from tests.unit_root import unavailable_reason


def _build_reason() -> str | None:
    reason = unavailable_reason()
    if reason:
        return reason
    for tool in ("git", "unzip"):
        if shutil.which(tool) is None:
            return f"{tool} is missing (tests/setup-host.sh installs it)"
    if not Path("/usr/lib/python3/dist-packages/apt").is_dir():
        return "python3-apt is missing (charmcraft's apt backend; tests/setup-host.sh installs it)"
    try:
        for base in BASES:
            interpreter(base.python)
    except InterpreterMissing as exc:
        return str(exc)
    return None


@pytest.fixture(scope="session")
def charms() -> dict[str, Path]:
    """platform -> the .charm charmcraft built for it from this tree."""
    require(_build_reason(), "the charm build")
    from tests.packed import builder

    return {base.platform: builder.pack(base) for base in BASES}


@pytest.fixture(params=BASES, ids=[b.platform for b in BASES])
def base(request: pytest.FixtureRequest) -> Base:
    return request.param
