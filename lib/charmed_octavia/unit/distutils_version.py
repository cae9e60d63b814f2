"""``distutils.version.LooseVersion`` for charmhelpers 1.2.1 on Python 3.12, which has no
distutils.

charmhelpers' ``core/hookenv.py`` does ``from distutils.version import LooseVersion`` at
import time (every ``charmhelpers.fetch`` import goes through it) and uses it only to compare
Juju versions. A unit on Noble has no distutils: Python 3.12 removed it, and the packed charm's
venv is on ``PYTHONPATH``, where setuptools' ``distutils-precedence.pth`` is never read. When
the real module is missing, ``install`` registers this one under its name.
"""

from __future__ import annotations

import re
import sys
import types
from functools import total_ordering

_PART = re.compile(r"\d+|[a-z]+", re.IGNORECASE)


@total_ordering
class LooseVersion:
    """A version compared part by part: runs of digits as numbers, runs of letters as text
    ("3.6.1" < "3.10", "2.9.42" < "3.1"), as distutils' LooseVersion compares them."""

    def __init__(self, vstring: str) -> None:
        self.vstring = str(vstring)
        self.version = [int(p) if p.isdigit() else p for p in _PART.findall(self.vstring)]

    def _other(self, other: object) -> list[int | str]:
        if isinstance(other, LooseVersion):
            return other.version
        if isinstance(other, str):
            return LooseVersion(other).version
        return NotImplemented

    def __eq__(self, other: object) -> bool:
        theirs = self._other(other)
        return NotImplemented if theirs is NotImplemented else self.version == theirs

    def __lt__(self, other: object) -> bool:
        theirs = self._other(other)
        if theirs is NotImplemented:
            return NotImplemented
        return self.version < theirs  # type: ignore[operator]

    def __hash__(self) -> int:
        return hash(tuple(self.version))

    def __str__(self) -> str:
        return self.vstring

    def __repr__(self) -> str:
        return f"LooseVersion({self.vstring!r})"


def install() -> bool:
    """Make ``distutils.version.LooseVersion`` importable; True when this shim was needed."""
    try:
        import distutils.version  # noqa: F401  # pyright: ignore[reportMissingModuleSource]
    except ModuleNotFoundError:
        pass
    else:
        return False
    package = sys.modules.get("distutils") or types.ModuleType("distutils")
    package.__path__ = []  # a package, so that "distutils.version" resolves below it
    version = types.ModuleType("distutils.version")
    version.__doc__ = __doc__
    version.LooseVersion = LooseVersion  # type: ignore[attr-defined]
    package.version = version  # type: ignore[attr-defined]
    sys.modules["distutils"] = package
    sys.modules["distutils.version"] = version
    return True
