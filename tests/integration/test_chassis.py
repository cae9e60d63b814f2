"""The lab's chassis itself: Open vSwitch's userspace datapath and ovn-controller come up
registered in the lab's OVN southbound database, and stop by their PIDs with their network
namespace, taking the chassis out of the southbound database."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.infrastructure import require
from tests.lab import procs
from tests.lab.chassis import PROCESSES, Chassis
from tests.lab.control import Lab
from tests.lab.services import ovn

pytestmark = pytest.mark.lab


def southbound(chassis: Chassis) -> str:
    """``ovn-sbctl show`` of the lab's southbound database."""
    return subprocess.run(
        [ovn.OVN_SBCTL, f"--db={chassis.southbound}", "--timeout=10", "show"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_the_chassis_registers_in_ovn_and_stops_with_its_namespace(lab: Lab):
    # Arrange
    require(None if os.geteuid() == 0 else "its network namespace needs root", "the lab chassis")
    chassis = Chassis(lab, name="lab-chassis-lifecycle")

    # Act
    chassis.start()
    try:
        pids = [lab.service_pid(name) for name in PROCESSES]
        namespace = Path(chassis.namespace)
        namespace_alive = namespace.exists()
        registered = southbound(chassis)
    finally:
        chassis.stop()

    # Assert
    assert all(pids) and namespace_alive
    assert "Chassis lab-chassis-lifecycle" in registered and "geneve" in registered
    assert not [pid for pid in pids if pid and procs.pid_alive(pid)]
    assert not namespace.exists()
    assert "lab-chassis-lifecycle" not in southbound(chassis)
    assert chassis.timings["start"] < 30
