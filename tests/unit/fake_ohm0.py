"""A fake unit machine for o-hm0's commands in the unit suite: Open vSwitch, ip(8) and sysctl
in memory.

``FakeOhm0Machine`` is a fake: the unit suite runs without root, network namespaces or Open
vSwitch. It answers the commands ``charmed_octavia.unit.ohm0`` runs (``ovs-vsctl list-ifaces``,
``find``, ``--may-exist add-port ... -- set Interface``; ``ip -j addr show``, ``ip link set``,
``ip addr add|del``; ``sysctl -n|-w``; ``networkctl reload``) from a model of one bridge and
its ``o-hm0``, as Open vSwitch and Linux do: a new internal port is a device that is down, has
a random MAC address and takes ``mtu_request`` as its MTU. The same module runs against a real
Open vSwitch and ovn-controller in ``tests/integration/test_ohm0.py``.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from charmed_octavia.unit import machine as unit_machine
from charmed_octavia.unit import ohm0

from tests.unit.fake_machine import FakeMachine

FOREVER = 4294967295
# The programs o-hm0's reconcile runs.
OHM0_PROGRAMS = ("ovs-vsctl", "ip", "sysctl", "networkctl")


@dataclass
class FakeLink:
    mac: str = "1e:4e:69:f9:1c:7f"
    mtu: int = 1500
    up: bool = False
    # (address/prefix, permanent)
    addresses: list[tuple[str, bool]] = field(default_factory=list)


@dataclass
class FakeOvsInterface:
    type: str = "internal"
    external_ids: dict[str, str] = field(default_factory=dict)
    mtu_request: int | None = None
    on_bridge: bool = True


class FakeOhm0Machine(FakeMachine):
    """A unit whose ``br-int`` exists and whose o-hm0 is as ``ovs``/``link`` say (None: absent)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.bridges = {"br-int"}
        self.ovs: FakeOvsInterface | None = None
        self.link: FakeLink | None = None
        self.accept_ra = "1"
        # How many reads of the device an added address takes to show (None: it never does,
        # as when something else on the machine takes it away again).
        self.address_lag: int | None = 0
        self._pending: list[list] = []

    def clone(self, root: Path) -> FakeOhm0Machine:
        """The same machine under ``root``, its Open vSwitch and o-hm0 alike."""
        twin = super().clone(root)
        assert isinstance(twin, FakeOhm0Machine)
        twin.bridges = set(self.bridges)
        twin.ovs, twin.link = copy.deepcopy(self.ovs), copy.deepcopy(self.link)
        twin.accept_ra, twin.address_lag = self.accept_ra, self.address_lag
        return twin

    def charm_runs(self) -> list[tuple[str, ...]]:
        """The commands run besides o-hm0's (``OHM0_PROGRAMS``)."""
        return [c for c in self.calls_of("run") if c[1] not in OHM0_PROGRAMS]

    def mutations(self) -> list[tuple[str, ...]]:
        """The commands run that change something (every call but the reads)."""
        return [
            c
            for c in self.calls
            if c[0] != "run" or not any(tuple(c[1 : 1 + len(r)]) == r for r in ohm0.READ_COMMANDS)
        ]

    def mutations_of(self, program: str) -> list[tuple[str, ...]]:
        return [c for c in self.mutations() if c[0] == "run" and c[1] == program]

    def run(self, command: Sequence[str]) -> str:
        name, args = command[0], list(command[1:])
        if name not in OHM0_PROGRAMS:
            return super().run(command)  # the charm's other commands, as FakeMachine runs them
        super().run(command)
        if name == "ovs-vsctl":
            return self._vsctl(args)
        if name == "ip":
            return self._ip(args)
        if name == "sysctl":
            if args[0] == "-n":
                return self.accept_ra + "\n"
            self.accept_ra = args[-1].rpartition("=")[2]
            return ""
        if name == "networkctl":
            return ""
        raise unit_machine.WorkloadError(f"FakeOhm0Machine does not run {command[0]}")

    def _vsctl(self, args: list[str]) -> str:
        if args[0] == "list-ifaces":
            if args[1] not in self.bridges:
                raise unit_machine.WorkloadError(f"ovs-vsctl: no bridge named {args[1]}")
            return "o-hm0\n" if self.ovs and self.ovs.on_bridge else ""
        if args[0] == "--format=json":
            if self.ovs is None:
                return json.dumps({"data": [], "headings": ["type", "external_ids"]})
            ids = ["map", sorted(self.ovs.external_ids.items())]
            mtu = self.ovs.mtu_request if self.ovs.mtu_request is not None else ["set", []]
            return json.dumps({"data": [[self.ovs.type, ids, mtu]], "headings": []})
        assert args[:4] == ["--may-exist", "add-port", "br-int", "o-hm0"], args
        self.ovs = self.ovs or FakeOvsInterface(type="")
        self.ovs.on_bridge = True
        for setting in args[8:]:
            key, _, value = setting.partition("=")
            if key.startswith("external-ids:"):
                self.ovs.external_ids[key.partition(":")[2]] = value
            elif key == "type":
                self.ovs.type = value
            elif key == "mtu_request":
                self.ovs.mtu_request = int(value)
        self.link = self.link or FakeLink()
        if self.ovs.mtu_request:
            self.link.mtu = self.ovs.mtu_request
        return ""

    def _ip(self, args: list[str]) -> str:
        if args[0] == "-j":
            self._settle()
            return json.dumps([self._link_json()] if self.link else [])
        assert self.link is not None
        if args[:2] == ["link", "set"]:
            what = args[4:]
            if what[0] == "address":
                self.link.mac = what[1]
            elif what[0] == "mtu":
                self.link.mtu = int(what[1])
            elif what[0] == "up":
                self.link.up = True
            return ""
        verb, address = args[1], args[2]
        if verb == "add" and self.address_lag == 0:
            self.link.addresses.append((address, True))
        elif verb == "add":
            self._pending.append([address, self.address_lag])
        else:
            self.link.addresses = [a for a in self.link.addresses if a[0] != address]
        return ""

    def _settle(self) -> None:
        """One read of the device: the added addresses whose lag has passed show."""
        for pending in list(self._pending):
            if pending[1] is None:
                continue
            pending[1] -= 1
            if pending[1] <= 0 and self.link is not None:
                self.link.addresses.append((pending[0], True))
                self._pending.remove(pending)

    def _link_json(self) -> dict:
        assert self.link is not None
        info = []
        for address, permanent in self.link.addresses:
            interface = ipaddress.ip_interface(address)
            info.append(
                {
                    "family": "inet" if interface.version == 4 else "inet6",
                    "local": str(interface.ip),
                    "prefixlen": interface.network.prefixlen,
                    "scope": "global",
                    "valid_life_time": FOREVER if permanent else 86400,
                }
            )
        info.append({"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"})
        flags = ["BROADCAST", "MULTICAST", *(["UP", "LOWER_UP"] if self.link.up else [])]
        return {
            "ifname": "o-hm0",
            "flags": flags,
            "mtu": self.link.mtu,
            "address": self.link.mac,
            "addr_info": info,
        }
