"""Fixtures of the suites that run against the lab (real services on 127.0.0.1)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.infrastructure import require
from tests.lab.chassis import Chassis
from tests.lab.control import Lab
from tests.lab.host import host_prerequisites

LabFactory = Callable[..., Lab]


def lab_skip_reason() -> str | None:
    """Why the lab cannot run on this machine, or None when it can."""
    missing = host_prerequisites()
    if missing and os.geteuid() != 0:
        return (
            "the lab needs " + ", ".join(missing) + " and installing them needs root: "
            "run tests/setup-host.sh as root, then re-run"
        )
    return None


def start_lab(
    octavia_overrides: dict[str, dict[str, str]] | None = None,
    worker_pythonpath: Sequence[Path] = (),
    **kwargs,
) -> Lab:
    """Build a lab with Octavia overrides and bring it up (the caller calls ``down()``)."""
    require(lab_skip_reason(), "the lab")
    return Lab(
        octavia_overrides=octavia_overrides, worker_pythonpath=worker_pythonpath, **kwargs
    ).up()


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """One lab for the session, up before the first test that needs it, down at the end."""
    started = start_lab()
    try:
        yield started
    finally:
        started.down()


@pytest.fixture(scope="session")
def amphora_worker_lab() -> Iterator[Lab]:
    """One lab for the session whose controllers can load the lab amphora's drivers: a test
    points them at its own lab amphora with ``tests.lab.worker_drivers.overridden``."""
    from tests.lab.amphora import LabAmphora

    started = start_lab(worker_pythonpath=LabAmphora.worker_pythonpath())
    try:
        yield started
    finally:
        started.down()


@pytest.fixture(scope="session")
def lab_factory() -> Iterator[LabFactory]:
    """``lab_factory(octavia_overrides=..., worker_pythonpath=...)`` -> a lab that is up;
    every lab it made is stopped at the end of the session."""
    made: list[Lab] = []

    def factory(**kwargs) -> Lab:
        made.append(start_lab(**kwargs))
        return made[-1]

    try:
        yield factory
    finally:
        for each in made:
            each.down()


@pytest.fixture(scope="module")
def chassis(lab: Lab) -> Iterator[Chassis]:
    """The lab's OVN chassis (Open vSwitch's userspace datapath and ovn-controller, in a
    network namespace), up for one module, stopped at its end."""
    require(None if os.geteuid() == 0 else "its network namespace needs root", "the lab chassis")
    started = Chassis(lab).start()
    try:
        yield started
    finally:
        started.stop()
