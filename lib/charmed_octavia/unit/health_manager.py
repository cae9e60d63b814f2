"""The health managers' addresses as the units share them: each unit's port (its id, MAC and
addresses) in its own peer unit data, and the leader's list of every unit's address in the
peer application data under the existing charm's key ``controller-ip-port-list`` (a JSON list
of addresses, as its leader setting holds them), which octavia.conf writes as
``[health_manager] controller_ip_port_list``.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping

from charmed_octavia.cloud.outcomes import Ensured
from charmed_octavia.unit.config import HEALTH_MANAGER_PORT
from charmed_octavia.unit.resources import CONTROLLER_IPS

# This unit's peer unit data.
PORT_ID = "hm-port-id"
MAC = "hm-mac"
ADDRESS = "hm-address"
ADDRESSES = "hm-addresses"
HOST = "hm-host"
MTU = "hm-mtu"
INTERFACES = "hm-interfaces"
UNIT_KEYS = (PORT_ID, MAC, ADDRESS, ADDRESSES, HOST, MTU, INTERFACES)


def unit_data(port: Ensured, plugged: bool) -> dict[str, str]:
    """What a unit publishes of its port: the address amphorae send heartbeats to is its
    first (IPv6 first) fixed IP, published only once o-hm0 carries it (``plugged``): the
    health manager binds to it, and the leader lists it, only then."""
    found = [str(a) for a in port.attributes.get("addresses", ())]
    mtu = port.attributes.get("mtu")
    return {
        PORT_ID: port.id,
        MAC: str(port.attributes.get("mac") or ""),
        ADDRESS: found[0] if found and plugged else "",
        INTERFACES: json.dumps([str(i) for i in port.attributes.get("interfaces", ())]),
        ADDRESSES: json.dumps(found),
        HOST: str(port.attributes.get("host") or ""),
        MTU: str(mtu) if mtu else "",
    }


def _address(value: object) -> str:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        return ""


def shared_addresses(shared: Mapping[str, str]) -> list[str]:
    """The addresses of the peer application data's list (entries that are not an address
    are left out: a bad one must not end octavia.conf's line)."""
    try:
        found = json.loads(shared.get(CONTROLLER_IPS) or "[]")
    except ValueError:
        return []
    if not isinstance(found, list):
        return []
    return [a for a in (_address(v) for v in found) if a]


def controller_ip_port_list(addresses: list[str]) -> str:
    """octavia.conf's value: ``<address>:5555`` each, without brackets for IPv6 (Octavia's
    health sender splits at the last colon; amphorae before Octavia 13 take no brackets)."""
    return ", ".join(f"{a}:{HEALTH_MANAGER_PORT}" for a in addresses)


def leader_list(published: Mapping[str, str], shared: Mapping[str, str]) -> str | None:
    """The JSON list the leader writes from every unit's published address (unit name ->
    address, "" while a unit has none), sorted; None when the stored one stays.

    While some unit has no address yet, a list already stored (the existing charm's, after a
    switch) is kept, so amphorae are not told of fewer health managers than there are."""
    found = [_address(a) for a in published.values()]
    addresses = sorted({a for a in found if a})
    stored = shared_addresses(shared)
    if not addresses or ("" in found and stored):
        return None
    return json.dumps(addresses) if addresses != sorted(stored) else None
