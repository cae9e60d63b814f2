"""FakeHealthPorts: a fake of ``charmed_octavia.cloud.health_ports`` for ops.testing (no
Neutron in an ops.testing run; the same functions run against the lab's Neutron in
``tests/integration/test_health_ports.py``). Ports are kept in memory by unit, every call is
recorded, and ``error`` makes the next calls raise. A port brought up turns ACTIVE (its chassis
binds it) once ``binds_after`` polls of its status have seen it DOWN (None: it stays DOWN)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

import pytest
from charmed_octavia.cloud.outcomes import Ensured

NETWORK_MTU = 1442


@dataclasses.dataclass
class FakePort:
    unit: str
    id: str
    mac: str
    address: str
    host: str
    network: str
    secgroup: str
    # Made down, as the existing charm makes it; up once the unit has plugged it.
    up: bool = False
    # Neutron's status: ACTIVE once the host's chassis has bound the port.
    status: str = "DOWN"


class FakeHealthPorts:
    """The ports by Juju unit name, and the calls made (name, unit or units)."""

    def __init__(self) -> None:
        self.ports: dict[str, FakePort] = {}
        self.calls: list[tuple[str, Any]] = []
        self.error: Exception | None = None
        self.binds_after: int | None = 0
        self._made = 0
        # Port id -> polls left before its chassis binds it (None: never).
        self._binding: dict[str, int | None] = {}

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def ensure_hm_port(self, conn, unit_name, host_id, network_id, health_secgroup_id):
        self.calls.append(("ensure", unit_name))
        self._check()
        port = self.ports.get(unit_name)
        action, corrected = "reused", []
        if port is None:
            self._made += 1
            n = self._made
            port = FakePort(
                unit_name,
                f"00000000-0000-4000-8000-{n:012d}",
                f"fa:16:3e:00:00:{n:02x}",
                f"fc00:1234:5678::{n:x}",
                host_id,
                network_id,
                health_secgroup_id,
            )
            self.ports[unit_name] = port
            action = "created"
        elif port.host != host_id:
            # As Neutron's port is corrected: down, so that its binding is rebuilt.
            port.host, corrected = host_id, ["binding host"]
            port.up, port.status = False, "DOWN"
        attributes = {
            "mac": port.mac,
            "addresses": [port.address] if port.address else [],
            "interfaces": [f"{port.address}/64"] if port.address else [],
            "mtu": NETWORK_MTU,
            "admin_state_up": port.up,
            "status": port.status,
            "host": port.host,
            "corrected": corrected,
        }
        name = f"octavia-health-manager-{unit_name.replace('/', '-')}-listen-port"
        return Ensured("health-manager-port", port.id, name, action, attributes)  # type: ignore[arg-type]

    def toggle_hm_port(self, conn, port_id):
        self.calls.append(("toggle", port_id))
        self._check()
        port = self._port(port_id)
        toggled = not port.up or port.status == "DOWN"
        port.up = True
        if toggled:
            port.status = "DOWN"
            self._binding[port_id] = self.binds_after
        return toggled

    def hm_port_status(self, conn, port_id):
        self.calls.append(("status", port_id))
        self._check()
        port = self._port(port_id)
        left = self._binding.get(port_id)
        if port.up and port.status == "DOWN" and left is not None:
            if left <= 0:
                port.status = "ACTIVE"
            else:
                self._binding[port_id] = left - 1
        return port.status

    def _port(self, port_id: str) -> FakePort:
        return next(p for p in self.ports.values() if p.id == port_id)

    def delete_hm_port(self, conn, unit_name):
        self.calls.append(("delete", unit_name))
        self._check()
        port = self.ports.pop(unit_name, None)
        return port.id if port else ""

    def delete_stale_hm_ports(
        self, conn, live_units: Collection[str], departed: Collection[str] = ()
    ) -> list[str]:
        self.calls.append(("delete-stale", sorted(departed)))
        self._check()
        gone = sorted(u for u in self.ports if u not in live_units and u in departed)
        for unit in gone:
            del self.ports[unit]
        return [u.replace("/", "-") for u in gone]

    def calls_of(self, name: str) -> list[Any]:
        return [arg for call, arg in self.calls if call == name]

    def ensured_units(self) -> list[str]:
        return [unit for call, unit in self.calls if call == "ensure"]


def use_fake_health_ports(patch: pytest.MonkeyPatch) -> FakeHealthPorts:
    """Through ``patch``: the charm's health-port cloud functions are a new fake's, and its
    connection one that is never used (the peer data of a related unit in these suites names
    the management network, so every hook ensures the unit's port)."""
    import health_port

    import charm

    fake = FakeHealthPorts()
    patch.setattr(health_port.HealthPort, "cloud", staticmethod(lambda: fake))
    patch.setattr(charm.OctaviaCharm, "connect", lambda self, config: "connection")
    return fake
