"""The packed charm's dependencies, pinned: ``requirements-charm.txt`` from ``requirements.txt``.

One universal lock for both bases (Python 3.10 on Jammy, 3.12 on Noble): where a package's
newest release dropped 3.10, the lock pins one release per Python with an environment marker.
charmcraft installs it in strict mode (``--no-deps``, then ``pip check``), so the charm's venv
holds exactly these versions. Regenerate after changing ``requirements.txt``:

    python -m tests.packed.lock

(uv is installed into the project's cache for this; nothing else uses it.)
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements.txt"
LOCK = ROOT / "requirements-charm.txt"
UV_VERSION = "0.13.9"
# The oldest base's Python: the lock holds for it and every later one.
OLDEST_PYTHON = "3.10"
HEADER = (
    "# The packed charm's venv, pinned for Python 3.10 (Jammy) and 3.12 (Noble).\n"
    "# Generated from requirements.txt by `python -m tests.packed.lock`; do not edit.\n"
)


def _uv() -> Path:
    from tests.lab.venv import cache_dir

    home = cache_dir() / f"uv-{UV_VERSION}"
    uv = home / "bin" / "uv"
    if not uv.exists():
        venv.create(home, with_pip=True)
        subprocess.run([home / "bin" / "pip", "install", "-q", f"uv=={UV_VERSION}"], check=True)
    return uv


def compile_lock() -> str:
    out = subprocess.run(
        [
            str(_uv()),
            "pip",
            "compile",
            str(REQUIREMENTS),
            "--universal",
            "--python-version",
            OLDEST_PYTHON,
            "--no-header",
            "--no-annotate",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return HEADER + out.stdout


def main() -> int:
    LOCK.write_text(compile_lock())
    print(f"wrote {LOCK.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
