"""The lock the charm is built from agrees with requirements.txt and with charmcraft.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.bases import BASES

ROOT = Path(__file__).resolve().parents[2]


def _environment(python: str) -> dict[str, str]:
    return {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "platform_python_implementation": "CPython",
        "implementation_name": "cpython",
        "os_name": "posix",
    }


def lock_pins(python: str) -> dict[str, str]:
    """name -> version the lock installs on ``python``."""
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements-charm.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, _, marker = line.partition(";")
        if marker and not Marker(marker.strip()).evaluate(_environment(python)):
            continue
        name, _, version = spec.strip().partition("==")
        pins[canonicalize_name(name)] = version.strip()
    return pins


def lock_names() -> set[str]:
    """Every package the lock names, on any platform."""
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / "requirements-charm.txt").open()]
    return {canonicalize_name(line.split("==", 1)[0]) for line in lines if line}


def requirements() -> list[Requirement]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("python", [b.python for b in BASES])
def test_the_lock_satisfies_every_requirement(python):
    # Arrange
    pins = lock_pins(python)

    # Act
    unmet = [
        str(req)
        for req in requirements()
        if pins.get(canonicalize_name(req.name)) is None
        or pins[canonicalize_name(req.name)] not in req.specifier
    ]

    # Assert
    assert pins and unmet == [], f"regenerate with `python -m tests.packed.lock`: {unmet}"


def test_every_locked_package_but_charmhelpers_is_allowed_from_a_wheel():
    # Arrange
    part = yaml.safe_load((ROOT / "charmcraft.yaml").read_text())["parts"]["charm"]
    names = lock_names()

    # Act
    binary = {canonicalize_name(n) for n in part["charm-binary-python-packages"]}

    # Assert: charmhelpers publishes no wheel; everything else may (and must) come as one.
    assert binary == names - {"charmhelpers"}
    assert part["charm-strict-dependencies"] is True
    assert part["charm-requirements"] == ["requirements-charm.txt"]


def test_floors_pin_each_lower_bound_and_refuse_a_requirement_without_one():
    # Arrange
    from tests.packed.floors import floors

    # Act
    pinned = floors("# comment\nops>=3.1,<4\ncharmhelpers==1.2.1\njinja2 >= 3.0, < 4\n")

    # Assert
    assert pinned == ["ops[testing]==3.1", "charmhelpers==1.2.1", "jinja2==3.0"]
    with pytest.raises(ValueError, match="has no floor"):
        floors("asyncssh<3\n")
