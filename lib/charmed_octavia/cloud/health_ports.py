"""The health managers' Neutron ports on the management network: one per unit, named, tagged
and bound as the existing Octavia charm makes them (its ``api_crud.get_hm_port``).

A unit's port carries the tags ``charm-octavia`` and ``charm-octavia-<unit>`` (the unit's name
with ``-`` for ``/``, the existing charm's ``local_unit_name``), is named
``octavia-health-manager-<unit>-listen-port``, sits in the health managers' security group and
is bound (``binding:host_id``) to the host whose Open vSwitch plugs it. It is created
administratively down, as the existing charm creates it: the agent of the host must not bind
it before the host's interface for it exists; ``toggle_hm_port`` brings it up once it does.

``ensure_hm_port`` looks everything up before it changes anything: two ports with one unit's
tag are a ``ConflictError`` with nothing changed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from charmed_octavia.cloud import tags
from charmed_octavia.cloud.networks import MissingResource
from charmed_octavia.cloud.outcomes import Ensured

if TYPE_CHECKING:
    from openstack.connection import Connection

KIND = "health-manager-port"
# Neutron gives a port of this owner the rules that let IPv6 router advertisements through
# (the existing charm's choice, LP #1813931; its earlier revisions used the other two).
DEVICE_OWNER = "trunk:subport"
DEVICE_OWNERS = (DEVICE_OWNER, "neutron:LOADBALANCERV2", "Octavia:health-mgr")
_NAME_PREFIX, _NAME_SUFFIX = "octavia-health-manager-", "-listen-port"


def local_unit_name(unit_name: str) -> str:
    """``octavia/0`` as the existing charm writes it in tags and names: ``octavia-0``."""
    return unit_name.replace("/", "-")


def unit_tag(unit_name: str) -> str:
    return f"{tags.TAG}-{local_unit_name(unit_name)}"


def port_name(unit_name: str) -> str:
    return f"{_NAME_PREFIX}{local_unit_name(unit_name)}{_NAME_SUFFIX}"


def lookup_hm_port(conn: Connection, unit_name: str) -> Any | None:
    """The unit's port by its tag; None if it has none; two are a ConflictError."""
    tag = unit_tag(unit_name)
    return tags.one_tagged(conn.network.ports(tags=tag), "port", tag)


def addresses(port: Any) -> list[str]:
    """The port's fixed IPs, IPv6 first (the existing charm binds the health manager to the
    interface's IPv6 address when it has one), each family in Neutron's order."""
    ips = [str(ip["ip_address"]) for ip in port.fixed_ips or ()]
    return sorted(ips, key=lambda ip: ipaddress.ip_address(ip).version != 6)


def prefixed_addresses(
    fixed_ips: Sequence[Mapping[str, str]], subnet_cidrs: Mapping[str, str]
) -> list[str]:
    """Each fixed IP (``subnet_id`` and ``ip_address``, as Neutron lists them) with its
    subnet's prefix length (``fc00::5/64``), IPv6 first as in ``addresses``: what the unit's
    o-hm0 is given. A subnet without a CIDR, or one that is not a network, is a ValueError."""
    found = []
    for fixed in fixed_ips:
        address = str(fixed.get("ip_address", ""))
        cidr = subnet_cidrs.get(str(fixed.get("subnet_id", "")))
        if not cidr:
            raise ValueError(f"no CIDR for the subnet of fixed IP {address}")
        try:
            prefix = ipaddress.ip_network(cidr, strict=False).prefixlen
        except ValueError:
            raise ValueError(f"subnet CIDR {cidr!r} is not a network") from None
        found.append((address, prefix))
    found.sort(key=lambda item: ipaddress.ip_address(item[0]).version != 6)
    return [f"{address}/{prefix}" for address, prefix in found]


def interfaces(conn: Connection, port: Any) -> list[str]:
    """``prefixed_addresses`` of the port, its subnets' CIDRs from Neutron."""
    fixed_ips = list(port.fixed_ips or ())
    cidrs = {
        sid: str(conn.network.get_subnet(sid).cidr)
        for sid in {str(ip["subnet_id"]) for ip in fixed_ips}
    }
    return prefixed_addresses(fixed_ips, cidrs)


def _ensured(conn: Connection, port: Any, action: str, mtu: int | None, **extra: Any) -> Ensured:
    attributes = {
        "mac": port.mac_address,
        "addresses": addresses(port),
        "interfaces": interfaces(conn, port),
        "mtu": mtu,
        "host": port.binding_host_id,
        "admin_state_up": bool(port.is_admin_state_up),
        "status": port.status,
        **extra,
    }
    return Ensured(KIND, str(port.id), port.name or "", action, attributes)  # type: ignore[arg-type]


def _management_network(conn: Connection, network_id: str) -> Any:
    from openstack import exceptions

    try:
        return conn.network.get_network(network_id)
    except exceptions.NotFoundException:
        raise MissingResource(
            f"the management network {network_id} is gone: run configure-resources"
        ) from None


def ensure_hm_port(
    conn: Connection,
    unit_name: str,
    host_id: str,
    network_id: str,
    health_secgroup_id: str,
) -> Ensured:
    """The unit's port, created when missing, its binding host and owner corrected; the
    Ensured's attributes hold its MAC, addresses and the network's MTU."""
    network = _management_network(conn, network_id)
    port = lookup_hm_port(conn, unit_name)
    name = port_name(unit_name)
    net = conn.network
    if port is None:
        # A port created but not tagged (the hook ended in between) is this unit's own.
        port = next((p for p in net.ports(name=name, network_id=network_id) if not p.tags), None)
        if port is not None:
            tags.add_tag(conn, port, unit_tag(unit_name))
    if port is not None and port.network_id != network_id:
        # configure-resources made a new network: a port on the old one reaches no amphora.
        net.delete_port(port)
        return _create(conn, unit_name, host_id, network, health_secgroup_id, replaced=port.id)
    if port is None:
        return _create(conn, unit_name, host_id, network, health_secgroup_id)
    corrected = _correct(conn, port, host_id)
    if tags.TAG not in (port.tags or []):
        tags.add_tag(conn, port, tags.TAG)
    if corrected:
        port = net.get_port(port.id)
    return _ensured(conn, port, "reused", network.mtu, corrected=corrected)


def _create(
    conn: Connection,
    unit_name: str,
    host_id: str,
    network: Any,
    health_secgroup_id: str,
    replaced: str = "",
) -> Ensured:
    net = conn.network
    port = net.create_port(
        name=port_name(unit_name),
        network_id=network.id,
        device_owner=DEVICE_OWNER,
        security_group_ids=[health_secgroup_id],
        binding_host_id=host_id,
        is_admin_state_up=False,
    )
    # The unit's tag finds its own port; the charm's finds every unit's.
    tags.add_tag(conn, port, unit_tag(unit_name))
    tags.add_tag(conn, port, tags.TAG)
    extra = {"replaced": replaced} if replaced else {}
    return _ensured(conn, port, "created", network.mtu, **extra)


def _correct(conn: Connection, port: Any, host_id: str) -> list[str]:
    """What differed from the wanted port and was set, as the existing charm sets it: a new
    binding host takes the port down too, so that Neutron rebuilds its binding."""
    changes: dict[str, Any] = {}
    if port.binding_host_id != host_id:
        changes |= {"binding_host_id": host_id, "is_admin_state_up": False}
    if port.device_owner != DEVICE_OWNER:
        changes["device_owner"] = DEVICE_OWNER
    if changes:
        conn.network.update_port(port, **changes)
    names = {"binding_host_id": "binding host", "device_owner": "device owner"}
    return [names[k] for k in changes if k in names]


def toggle_hm_port(conn: Connection, port_id: str) -> bool:
    """Once the host has plugged the port: down and up again when it is down, its binding
    failed or Neutron reports it DOWN (the existing charm's reset: Neutron then rebuilds the
    port's binding). True when it was toggled."""
    net = conn.network
    port = net.get_port(port_id)
    healthy = port.binding_vif_type != "binding_failed" and port.status != "DOWN"
    if port.is_admin_state_up and healthy:
        return False
    net.update_port(port, is_admin_state_up=False)
    net.update_port(port, is_admin_state_up=True)
    return True


def hm_port_status(conn: Connection, port_id: str) -> str:
    """Neutron's status of the port (``ACTIVE`` once the host's agent has bound it)."""
    return str(conn.network.get_port(port_id).status or "")


def delete_hm_port(conn: Connection, unit_name: str) -> str:
    """Delete the unit's port; its id, or "" when it had none."""
    port = lookup_hm_port(conn, unit_name)
    if port is None:
        return ""
    conn.network.delete_port(port)
    return str(port.id)


def port_unit(port: Any) -> str:
    """The local unit name (``octavia-0``) a health-manager port belongs to, by its unit tag;
    "" for a port that is not one."""
    if (port.device_owner or "") not in DEVICE_OWNERS or tags.TAG not in (port.tags or []):
        return ""
    name = port.name or ""
    if not (name.startswith(_NAME_PREFIX) and name.endswith(_NAME_SUFFIX)):
        return ""
    unit = name[len(_NAME_PREFIX) : -len(_NAME_SUFFIX)]
    return unit if f"{tags.TAG}-{unit}" in (port.tags or []) else ""


def _application_and_number(local_name: str) -> tuple[str, int]:
    app, _, number = local_name.rpartition("-")
    return app, int(number) if number.isdigit() else -1


def stale_hm_ports(
    conn: Connection, live_units: Collection[str], departed: Collection[str] = ()
) -> list[Any]:
    """Health-manager ports of the application of ``live_units`` (Juju unit names) whose unit
    is not among them: those of ``departed``, and those of units that left before.

    Juju numbers an application's units upwards: a unit numbered above every one the caller
    knows may have joined where the caller has not seen it yet, so its port is kept."""
    live = {local_unit_name(u) for u in live_units}
    gone = {local_unit_name(u) for u in departed} - live
    apps = {_application_and_number(u)[0] for u in live | gone}
    newest = max((_application_and_number(u)[1] for u in live | gone), default=-1)
    stale = []
    for port in conn.network.ports(tags=tags.TAG):
        unit = port_unit(port)
        if not unit or unit in live:
            continue
        app, number = _application_and_number(unit)
        if unit in gone or (app in apps and 0 <= number < newest):
            stale.append(port)
    return stale


def delete_stale_hm_ports(
    conn: Connection, live_units: Collection[str], departed: Collection[str] = ()
) -> list[str]:
    """Delete ``stale_hm_ports``; the local unit names whose port was deleted."""
    deleted = []
    for port in stale_hm_ports(conn, live_units, departed):
        conn.network.delete_port(port)
        deleted.append(port_unit(port))
    return sorted(deleted)
