"""The hosts of the API's three endpoints, as the existing charms resolve them.

For each of public, internal and admin (charms.openstack's ``resolve_address``): the
``os-<type>-hostname`` option when set; else, when ``os-<type>-network`` is set, the VIP in
that network when ``vip`` is set, otherwise the unit's address in it; else, when ``vip`` is
set, the VIP in the network of that endpoint's binding (the extra bindings ``public``,
``internal``, ``admin``); else the binding's own address. A VIP list with no VIP in an
endpoint's network is an error (the existing charm fails the hook there); so is a VIP in none
of the unit's networks, which no unit could hold, and an ``os-<type>-network`` holding none of
the unit's addresses (charmhelpers would fall back to the unit's private address there, which
is not in the network the operator named).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from charmed_octavia.cloud.outcomes import shown
from charmed_octavia.unit import relations

PUBLIC, INTERNAL, ADMIN = "public", "internal", "admin"
ENDPOINT_TYPES = (PUBLIC, INTERNAL, ADMIN)
# At most one VIP per network a deployment can bind to; a few dozen is already absurd.
_MAX_VIPS = 16


@dataclass(frozen=True)
class Interface:
    """One address Juju reports for a binding: the device, the address and its subnet."""

    name: str
    address: str
    subnet: str  # CIDR; a single address (/32, /128) when Juju gave no cidr


@dataclass(frozen=True)
class Binding:
    """A binding's network as Juju reports it: the address others reach it on, and its
    interfaces' addresses."""

    address: str
    interfaces: tuple[Interface, ...] = ()


@dataclass(frozen=True)
class Endpoints:
    """The three endpoint hosts; ``problems`` says why some could not be resolved (then
    ``hosts`` lacks them)."""

    hosts: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    def urls(self, scheme: str = "http") -> dict[str, str]:
        """The endpoints' API URLs, by endpoint type."""
        return {kind: relations.api_url(host, scheme) for kind, host in self.hosts.items()}


def parse_vips(value: str) -> tuple[str, ...]:
    """The space-separated ``vip`` option as addresses (compressed form); ValueError names
    the bad item."""
    vips: list[str] = []
    for item in value.split():
        try:
            address = ipaddress.ip_address(item)
        except ValueError:
            raise ValueError(f"vip: {shown(item)} is not an IP address") from None
        if address.is_loopback or address.is_link_local or address.is_multicast:
            raise ValueError(f"vip: {item} cannot be a virtual IP of a service")
        if str(address) in vips:
            raise ValueError(f"vip: {item} is given twice")
        vips.append(str(address))
    if len(vips) > _MAX_VIPS:
        raise ValueError(f"vip: at most {_MAX_VIPS} addresses")
    return tuple(vips)


def parse_network(value: str, option: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """An ``os-<type>-network`` value as a network (None: unset); ValueError names
    ``option``. Host bits are allowed (192.168.0.5/24), as charmhelpers' netaddr takes them."""
    if not value:
        return None
    try:
        if "/" not in value:
            raise ValueError
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(
            f"{option}: {shown(value)} is not a network in CIDR form (e.g. 192.168.0.0/24)"
        ) from None


def address_in(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network,
    kind: str,
    bindings: Mapping[str, Binding],
) -> str | None:
    """The unit's first address in ``network``: the ``kind`` binding's first, then every
    other binding's (ingress and interface addresses)."""
    ordered = [bindings[kind]] if kind in bindings else []
    ordered += [b for name, b in bindings.items() if name != kind]
    for binding in ordered:
        for text in (binding.address, *(i.address for i in binding.interfaces)):
            try:
                if text and ipaddress.ip_address(text) in network:
                    return str(ipaddress.ip_address(text))
            except ValueError:
                continue
    return None


def _subnets(binding: Binding) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The binding's subnets, the one of its ingress address first (charmhelpers matches
    the VIP against the primary address's network)."""
    ordered = sorted(binding.interfaces, key=lambda i: i.address != binding.address)
    subnets = []
    for interface in ordered:
        try:
            subnets.append(ipaddress.ip_network(interface.subnet, strict=False))
        except ValueError:
            continue
    return subnets


def vip_in(binding: Binding, vips: Sequence[str]) -> str | None:
    """The first VIP in the binding's networks (its primary network's first)."""
    for subnet in _subnets(binding):
        for vip in vips:
            if ipaddress.ip_address(vip) in subnet:
                return vip
    return None


def interface_for(vip: str, bindings: Mapping[str, Binding]) -> Interface | None:
    """The unit's interface whose subnet holds ``vip`` (None: no network of the unit)."""
    address = ipaddress.ip_address(vip)
    for binding in bindings.values():
        for interface in binding.interfaces:
            try:
                if address in ipaddress.ip_network(interface.subnet, strict=False):
                    return interface
            except ValueError:
                continue
    return None


def _vip_in_network(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network, vips: Sequence[str]
) -> str | None:
    return next((vip for vip in vips if ipaddress.ip_address(vip) in network), None)


def stray_vips(vips: Sequence[str], bindings: Mapping[str, Binding]) -> list[str]:
    """The VIPs in none of ``bindings``' networks: pacemaker could not raise them here."""
    return [vip for vip in vips if interface_for(vip, bindings) is None]


def resolve(
    hostnames: Mapping[str, str],
    vips: Sequence[str],
    bindings: Mapping[str, Binding],
    networks: Mapping[str, str] | None = None,
) -> Endpoints:
    """Each endpoint type's host (see the module's docstring).

    ``hostnames``: ``os-<type>-hostname`` by endpoint type ("" unset); ``bindings``: by
    endpoint type, the binding's network (the unit's other bindings may be given too: they
    count for the VIPs' networks and for the unit's addresses); ``networks``:
    ``os-<type>-network`` by endpoint type ("" unset, already checked by the config)."""
    hosts: dict[str, str] = {}
    problems = [
        f"vip {vip} is not in any of the unit's networks" for vip in stray_vips(vips, bindings)
    ]
    for kind in ENDPOINT_TYPES:
        binding = bindings.get(kind, Binding(""))
        cidr = (networks or {}).get(kind, "")
        network = parse_network(cidr, f"os-{kind}-network")
        if hostnames.get(kind):
            hosts[kind] = hostnames[kind]
        elif network is not None:
            found = _vip_in_network(network, vips) if vips else address_in(network, kind, bindings)
            if found is None:
                what = "no vip" if vips else "none of the unit's addresses"
                problems.append(f"os-{kind}-network {cidr} holds {what}")
            else:
                hosts[kind] = found
        elif vips:
            vip = vip_in(binding, vips)
            if vip is None:
                problems.append(f"no vip in the {kind} binding's network")
            else:
                hosts[kind] = vip
        elif binding.address:
            hosts[kind] = binding.address
        else:
            problems.append(f"no address on the {kind} binding")
    return Endpoints(hosts, tuple(problems))
