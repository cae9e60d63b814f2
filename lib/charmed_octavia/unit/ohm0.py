"""o-hm0: the health manager's interface on the lb-mgmt network.

Amphorae send their heartbeats to the health manager over the lb-mgmt network, so the unit
plugs itself into it as the existing charm does: an Open vSwitch internal port ``o-hm0`` on
``br-int`` whose ``external-ids:iface-id`` is the unit's Neutron port, so that the chassis'
ovn-controller binds that port here, with the port's MAC address and the network's MTU.

Addresses are static: each is a fixed IP of the port with its subnet's prefix length. On a
SLAAC subnet Neutron's fixed IP is the EUI-64 address of the port's MAC on the subnet's
prefix, which is exactly what SLAAC would configure; assigning it statically needs no wait for
a router advertisement (the existing charm polls for up to 15 minutes), and the address is
added without duplicate address detection (Neutron owns the address, and a tentative address
cannot be bound by the health manager). Router advertisements are ignored on o-hm0
(``accept_ra=0``): the address does not need them, and a default route through the lb-mgmt
router must not take the unit's traffic.

``reconcile_ohm0`` reads the state first (``ovs-vsctl``, ``ip -j addr show``, ``sysctl``) and
runs only the commands that correct what is wrong; with everything right it changes nothing.
After a change it reads the device again until it shows every address (``ADDRESS_TIMEOUT``):
an address something else on the machine takes away is an ``Ohm0AddressError``.
The state persists across reboots: Open vSwitch keeps the port and its ``mtu_request`` in its
database; systemd-networkd's files (``NETWORK_FILE`` under the existing charm's name, so that a
switch from it replaces its DHCP configuration, and ``LINK_FILE`` with the MAC address, which
udev sets when the port is created) hold the rest. networkd reloads only when they change.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from charmed_octavia.cloud.waiting import Backoff, WaitTimeout, wait_for
from charmed_octavia.unit.machine import File, Workload, WorkloadError
from charmed_octavia.unit.render import environment

INTERFACE = "o-hm0"
BRIDGE = "br-int"
NETWORK_FILE = f"/etc/systemd/network/99-charm-octavia-{INTERFACE}.network"
LINK_FILE = f"/etc/systemd/network/99-charm-octavia-{INTERFACE}.link"
NETWORKD = "systemd-networkd"
ACCEPT_RA = f"net.ipv6.conf.{INTERFACE}.accept_ra"
# The smallest MTU IPv4 allows (RFC 791) and IPv6 needs (RFC 8200); the largest Linux takes.
MIN_MTU_IPV4 = 68
MIN_MTU_IPV6 = 1280
MAX_MTU = 65535

# How long o-hm0 may take to show its addresses after a change (systemd-networkd, reloaded,
# reconfigures the device on its own time), and how often it is read meanwhile.
ADDRESS_TIMEOUT = 10.0
ADDRESS_POLL = Backoff(initial=0.1, factor=2.0, maximum=1.0)

# How each command that only reads the state begins: anything else changes something.
READ_COMMANDS = (
    ("ovs-vsctl", "list-ifaces"),
    ("ovs-vsctl", "--format=json"),
    ("ip", "-j"),
    ("sysctl", "-n"),
)

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
# ip(8) reports a permanent (static) address with an infinite valid lifetime.
_FOREVER = 4294967295


class Ohm0Error(RuntimeError):
    """o-hm0 cannot be made right; the message is safe to show."""


class Ohm0AddressError(Ohm0Error):
    """o-hm0 does not carry the port's addresses once ``ADDRESS_TIMEOUT`` has passed after
    they were set: something on the machine takes them away, which no retry corrects."""


@dataclass(frozen=True)
class Ohm0Port:
    """What o-hm0 is made from: the unit's Neutron port on the lb-mgmt network.

    ``addresses``: each fixed IP with its subnet's prefix length (``fd00::5/64``), IPv6 first
    (``health_ports.prefixed_addresses``); the first is the health manager's ``bind_ip``.
    """

    port_id: str
    mac: str
    mtu: int
    addresses: tuple[str, ...]

    def __post_init__(self) -> None:
        try:
            uuid.UUID(self.port_id)
        except (ValueError, TypeError, AttributeError):
            raise ValueError(
                f"the health manager port id {self.port_id!r} is not a UUID"
            ) from None
        if not isinstance(self.mac, str) or not _MAC.match(self.mac):
            raise ValueError(
                f"the health manager port's MAC {self.mac!r} is not lowercase xx:..:xx"
            )
        if not self.addresses:
            raise ValueError("the health manager port has no fixed IP")
        interfaces = [_interface(a) for a in self.addresses]
        if len(set(interfaces)) != len(interfaces):
            raise ValueError("the health manager port lists a fixed IP twice")
        floor = MIN_MTU_IPV6 if any(i.version == 6 for i in interfaces) else MIN_MTU_IPV4
        if isinstance(self.mtu, bool) or not isinstance(self.mtu, int):
            raise ValueError(f"the lb-mgmt network's MTU {self.mtu!r} is not an integer")
        if not floor <= self.mtu <= MAX_MTU:
            raise ValueError(f"the lb-mgmt network's MTU {self.mtu} is not in {floor}..{MAX_MTU}")

    @classmethod
    def from_fixed_ips(
        cls,
        port_id: str,
        mac: str,
        mtu: int,
        fixed_ips: Sequence[Mapping[str, str]],
        subnet_cidrs: Mapping[str, str],
    ) -> Ohm0Port:
        """From Neutron's port (``fixed_ips``: ``subnet_id`` and ``ip_address`` each) and the
        CIDR of each of its subnets, the addresses as ``health_ports.prefixed_addresses``
        orders them (IPv6 first: the health manager's address)."""
        from charmed_octavia.cloud.health_ports import prefixed_addresses

        addresses = prefixed_addresses(fixed_ips, subnet_cidrs)
        return cls(port_id, str(mac).lower(), mtu, tuple(addresses))

    @property
    def bind_ip(self) -> str:
        """The address the health manager listens on (``[health_manager] bind_ip``)."""
        return str(_interface(self.addresses[0]).ip)

    def interfaces(self) -> tuple[ipaddress.IPv4Interface | ipaddress.IPv6Interface, ...]:
        return tuple(_interface(a) for a in self.addresses)

    def external_ids(self) -> dict[str, str]:
        """What ovn-controller binds the port by, as the existing charm sets them
        (``skip_cleanup``: neutron-ovs-cleanup leaves the port alone)."""
        return {
            "iface-id": self.port_id,
            "iface-status": "active",
            "attached-mac": self.mac,
            "skip_cleanup": "true",
        }


@dataclass(frozen=True)
class Ohm0Result:
    """What ``reconcile_ohm0`` changed (empty: nothing), and the health manager's bind_ip."""

    bind_ip: str
    changes: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.changes)


@dataclass(frozen=True)
class OvsInterface:
    """o-hm0 in Open vSwitch's database (``on_bridge``: a port of br-int)."""

    on_bridge: bool
    exists: bool
    type: str = ""
    external_ids: Mapping[str, str] | None = None
    mtu_request: int | None = None


@dataclass(frozen=True)
class Address:
    """An address on o-hm0 (global scope) and whether it is permanent."""

    interface: ipaddress.IPv4Interface | ipaddress.IPv6Interface
    permanent: bool


@dataclass(frozen=True)
class LinkState:
    """The o-hm0 device as ``ip -j addr show`` reports it."""

    mac: str
    mtu: int
    up: bool
    addresses: tuple[Address, ...]


def reconcile_ohm0(machine: Workload, port: Ohm0Port, templates_dir: Path) -> Ohm0Result:
    """Make o-hm0 as ``port`` says, changing only what is wrong; see the module docstring."""
    changes: list[str] = []
    ovs = read_ovs(machine)
    if ovs_wrong(ovs, port):
        machine.run(ovs_command(port))
        changes.append("ovs-port added" if not ovs.on_bridge else "ovs-port corrected")
    link = read_link(machine)
    if link is None:
        raise Ohm0Error(
            f"{INTERFACE} is in Open vSwitch but no such device exists: is ovs-vswitchd running?"
        )
    for command, change in link_commands(link, port):
        machine.run(command)
        changes.append(change)
    ipv6 = any(i.version == 6 for i in port.interfaces())
    if ipv6 and machine.run(["sysctl", "-n", ACCEPT_RA]).strip() != "0":
        machine.run(["sysctl", "-q", "-w", f"{ACCEPT_RA}=0"])
        changes.append("router advertisements ignored")
    changes.extend(persist(machine, port, templates_dir))
    if changes:
        await_addresses(machine, port)
    return Ohm0Result(bind_ip=port.bind_ip, changes=tuple(changes))


def missing_addresses(link: LinkState | None, port: Ohm0Port) -> list[str]:
    """The port's addresses that o-hm0 (None: absent) does not carry."""
    present = {a.interface for a in link.addresses} if link is not None else set()
    return [str(i) for i in port.interfaces() if i not in present]


def await_addresses(machine: Workload, port: Ohm0Port) -> None:
    """Once o-hm0 was changed: it carries every address of the port within
    ``ADDRESS_TIMEOUT``, else ``Ohm0AddressError``."""
    try:
        wait_for(
            f"the addresses of {INTERFACE}",
            lambda: missing_addresses(read_link(machine), port),
            state=", ".join,
            done=lambda missing: not missing,
            fault=lambda _missing: None,
            timeout=ADDRESS_TIMEOUT,
            backoff=ADDRESS_POLL,
        )
    except WaitTimeout as e:
        raise Ohm0AddressError(
            f"{INTERFACE} lacks {e.last} {ADDRESS_TIMEOUT:g} s after it was set: does "
            "another network manager configure it?"
        ) from None


def read_ovs(machine: Workload) -> OvsInterface:
    """o-hm0's record in Open vSwitch; a clear error when br-int does not exist."""
    try:
        ports = machine.run(["ovs-vsctl", "list-ifaces", BRIDGE]).split()
    except WorkloadError as e:
        raise Ohm0Error(
            f"Open vSwitch has no bridge {BRIDGE} (the unit needs a chassis of the cloud's SDN, "
            f"e.g. ovn-chassis): {e}"
        ) from e
    found = machine.run(
        [
            "ovs-vsctl",
            "--format=json",
            "--columns=type,external_ids,mtu_request",
            "find",
            "Interface",
            f"name={INTERFACE}",
        ]
    )
    table = _json(found, "ovs-vsctl find")
    rows = (table.get("data") if isinstance(table, dict) else None) or []
    if not rows:
        return OvsInterface(on_bridge=INTERFACE in ports, exists=False)
    kind, external_ids, mtu_request = rows[0]
    return OvsInterface(
        on_bridge=INTERFACE in ports,
        exists=True,
        type=kind,
        external_ids=_ovsdb_map(external_ids),
        mtu_request=mtu_request if isinstance(mtu_request, int) else None,
    )


def ovs_wrong(ovs: OvsInterface, port: Ohm0Port) -> bool:
    """Whether o-hm0's Open vSwitch record differs from what ``port`` needs."""
    ids = ovs.external_ids or {}
    return (
        not ovs.on_bridge
        or ovs.type != "internal"
        or any(ids.get(k) != v for k, v in port.external_ids().items())
        or ovs.mtu_request != port.mtu
    )


def ovs_command(port: Ohm0Port) -> list[str]:
    """One transaction that adds o-hm0 to br-int if it is not there and sets all it needs."""
    return [
        "ovs-vsctl",
        "--may-exist",
        "add-port",
        BRIDGE,
        INTERFACE,
        "--",
        "set",
        "Interface",
        INTERFACE,
        "type=internal",
        *(f"external-ids:{k}={v}" for k, v in port.external_ids().items()),
        f"mtu_request={port.mtu}",
    ]


def read_link(machine: Workload) -> LinkState | None:
    """The o-hm0 device, or None when it does not exist (every link is listed: asking for
    one that does not exist would be an error)."""
    links = _json(machine.run(["ip", "-j", "addr", "show"]), "ip -j addr show")
    for link in links if isinstance(links, list) else []:
        if link.get("ifname") != INTERFACE:
            continue
        addresses = tuple(
            Address(
                ipaddress.ip_interface(f"{a['local']}/{a['prefixlen']}"),
                permanent=a.get("valid_life_time", _FOREVER) == _FOREVER,
            )
            for a in link.get("addr_info", [])
            if a.get("scope") == "global" and a.get("family") in ("inet", "inet6")
        )
        return LinkState(
            mac=str(link.get("address", "")).lower(),
            mtu=int(link.get("mtu", 0)),
            up="UP" in link.get("flags", []),
            addresses=addresses,
        )
    return None


def link_commands(link: LinkState, port: Ohm0Port) -> list[tuple[list[str], str]]:
    """The ``ip`` commands that correct the device, each with what it changes."""
    dev = ["dev", INTERFACE]
    commands: list[tuple[list[str], str]] = []
    if link.mac != port.mac:
        commands.append((["ip", "link", "set", *dev, "address", port.mac], f"mac {port.mac}"))
    if link.mtu != port.mtu:
        commands.append((["ip", "link", "set", *dev, "mtu", str(port.mtu)], f"mtu {port.mtu}"))
    if not link.up:
        commands.append((["ip", "link", "set", *dev, "up"], "link up"))
    wanted = port.interfaces()
    permanent = {a.interface for a in link.addresses if a.permanent}
    # An address a router advertisement configured expires: it is replaced by a static one.
    for address in link.addresses:
        if address.interface not in wanted or not address.permanent:
            commands.append(
                (
                    ["ip", "addr", "del", str(address.interface), *dev],
                    f"address -{address.interface}",
                )
            )
    for interface in wanted:
        if interface not in permanent:
            nodad = ["nodad"] if interface.version == 6 else []
            commands.append(
                (["ip", "addr", "add", str(interface), *dev, *nodad], f"address +{interface}")
            )
    return commands


def networkd_files(port: Ohm0Port, templates_dir: Path) -> tuple[File, File]:
    """systemd-networkd's ``.network`` (addresses, MTU) and ``.link`` (MAC) for o-hm0."""
    env = environment(templates_dir)
    values = {
        "interface": INTERFACE,
        "port_id": port.port_id,
        "mac": port.mac,
        "mtu": port.mtu,
        "addresses": [str(i) for i in port.interfaces()],
    }
    return (
        File(
            NETWORK_FILE, env.get_template(f"{Path(NETWORK_FILE).name}.j2").render(values).encode()
        ),
        File(LINK_FILE, env.get_template(f"{Path(LINK_FILE).name}.j2").render(values).encode()),
    )


def persist(machine: Workload, port: Ohm0Port, templates_dir: Path) -> list[str]:
    """Write networkd's files; reload a running networkd when one changed."""
    changed = [f.path for f in networkd_files(port, templates_dir) if machine.write_file(f)]
    if changed and machine.service_active(NETWORKD):
        machine.run(["networkctl", "reload"])
    return [f"wrote {path}" for path in changed]


def _interface(address: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    try:
        interface = ipaddress.ip_interface(address)
    except ValueError:
        raise ValueError(f"the fixed IP {address!r} is not an address with a prefix") from None
    if "/" not in address:
        raise ValueError(f"the fixed IP {address!r} has no prefix length")
    if "%" in address:
        raise ValueError(f"the fixed IP {address!r} names a scope: it is not a port's address")
    return interface


def _json(text: str, what: str) -> dict | list:
    try:
        return json.loads(text or "{}")
    except ValueError:
        raise Ohm0Error(f"{what} printed no JSON") from None


def _ovsdb_map(value: object) -> dict[str, str]:
    """An OVSDB map as ``--format=json`` prints it: ``["map", [[key, value], ...]]``."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "map":
        return {str(k): str(v) for k, v in value[1]}
    return {}
