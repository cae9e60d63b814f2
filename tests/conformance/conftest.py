"""The conformance suites' Octavia: the lab's Caracal virtualenv, whose Python imports it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infrastructure import require


@pytest.fixture(scope="module")
def octavia_python() -> Path:
    from tests.lab import venv

    try:
        root = venv.ensure_venv()
    except Exception as e:  # any build failure means: cannot check here
        require(
            f"cannot be built here ({type(e).__name__}: {e}); it needs Python 3.11+ and "
            "access to PyPI once (then it is cached)",
            "the Octavia 14.0.x virtualenv",
        )
        raise
    return root / "bin" / "python"
