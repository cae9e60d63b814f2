"""The lab amphora's place on the management network (lb-mgmt-net), when a test gives it one:
a network namespace holding the amphora's Neutron port (plugged on the lab's chassis, so OVN
carries its traffic) and that port's address.

Recorded in ``<root>/run/management.json`` by ``LabAmphora.attach_management`` and read by the
lab compute driver (``compute.py``) in the worker: the heartbeat sender of each Octavia amphora
it boots runs in that namespace, and the amphora's ``lb_network_ip`` is the port's address, as
Nova's addresses of an amphora's server on lb-mgmt-net make it. Without the file, the noop
driver's ``192.0.2.1`` stays, and the senders run in the worker's namespace. Standard library
only: the worker imports it.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path

_FILE = "run/management.json"


@dataclass(frozen=True)
class Management:
    netns: str  # as nsenter --net= takes it: /proc/<pid>/ns/net
    address: str  # the amphora port's fixed IP on lb-mgmt-net

    def command(self) -> list[str]:
        """The prefix that runs a program in the namespace."""
        return ["nsenter", f"--net={self.netns}", "--"]


def attach(root: Path, netns: str, address: str) -> Management:
    if not Path(netns).exists():
        raise ValueError(f"no network namespace at {netns}")
    made = Management(netns, str(ipaddress.ip_address(address)))
    path = root / _FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"netns": made.netns, "address": made.address}))
    return made


def detach(root: Path) -> None:
    (root / _FILE).unlink(missing_ok=True)


def read(root: Path) -> Management | None:
    try:
        data = json.loads((root / _FILE).read_text())
    except FileNotFoundError:
        return None
    return Management(str(data["netns"]), str(data["address"]))
