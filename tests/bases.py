"""The Ubuntu bases the charm is built for, and the CPython of each, found on this machine.

A unit runs its charm with the base's own ``python3``: 3.10 on Jammy (22.04), 3.12 on Noble
(24.04). Tests that need one of them (the unit suite under each, the charm's build and its
hooks) find it with ``pyenv prefix`` or through ``CHARM_PYTHON_3_10`` / ``CHARM_PYTHON_3_12``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Base:
    platform: str  # charmcraft's platform name
    version: str  # Ubuntu's VERSION_ID
    codename: str
    python: str  # major.minor of the base's python3
    glibc: tuple[int, int]  # the base's glibc: the newest manylinux wheels it loads

    @property
    def charm_file(self) -> str:
        """The file ``charmcraft pack`` writes for this platform."""
        return f"octavia_{self.platform.replace(':', '-')}.charm"

    @property
    def cp_tag(self) -> str:
        """The CPython tag of native extensions built for this base (cpython-310)."""
        return "cpython-" + self.python.replace(".", "")


BASES = (
    Base("ubuntu@22.04:amd64", "22.04", "jammy", "3.10", (2, 35)),
    Base("ubuntu@24.04:amd64", "24.04", "noble", "3.12", (2, 39)),
)


class InterpreterMissing(LookupError):
    """The base's CPython is not installed here."""


def interpreter(python: str) -> Path:
    """The CPython ``python`` (3.10, 3.12) of this machine: ``$CHARM_PYTHON_3_10``, else
    ``pyenv prefix 3.10``; ``InterpreterMissing`` says how to get one."""
    configured = os.environ.get("CHARM_PYTHON_" + python.replace(".", "_"))
    if configured:
        return Path(configured)
    pyenv = shutil.which("pyenv") or str(Path.home() / ".pyenv" / "bin" / "pyenv")
    try:
        prefix = subprocess.run(
            [pyenv, "prefix", python], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise InterpreterMissing(
            f"CPython {python} not found (pyenv prefix {python}: {exc}); install it with "
            f"pyenv or set CHARM_PYTHON_{python.replace('.', '_')}"
        ) from None
    found = Path(prefix.split(":")[0]) / "bin" / f"python{python}"
    if not found.exists():
        raise InterpreterMissing(f"{found} does not exist")
    return found
