"""The amphorae's management network ``lb-mgmt-net``: an IPv6 ULA subnet (SLAAC), an optional
IPv4 subnet, and a router (centralised where DVR is enabled), as the existing Octavia charm
makes them and tags them (``tags.TAG``).

``ensure_mgmt_network`` looks everything up before it creates anything: a conflict (two tagged
networks, an untagged namesake) raises ``ConflictError`` with nothing created.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import TYPE_CHECKING, Any

from charmed_octavia.cloud import tags
from charmed_octavia.cloud.outcomes import Ensured, InvalidParameter, shown

if TYPE_CHECKING:
    from openstack.connection import Connection

NETWORK = "lb-mgmt-net"
SUBNET = "lb-mgmt-subnet"  # the existing charm adds the IP version: lb-mgmt-subnetv6
ROUTER = "lb-mgmt"


class MissingResource(RuntimeError):
    """A resource the operator chose to make (create-mgmt-network=false) does not exist."""


@dataclasses.dataclass(frozen=True)
class MgmtNetworkSpec:
    create: bool = True
    # An IPv4 subnet beside the IPv6 one, for clouds whose amphorae need one; "" for none.
    ipv4_cidr: str = ""

    def __post_init__(self) -> None:
        if self.ipv4_cidr:
            check_ipv4_cidr(self.ipv4_cidr)


def check_ipv4_cidr(value: str, label: str = "IPv4 CIDR") -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise InvalidParameter(f"{label} {shown(value)} is not an IPv4 network") from None
    if net.version != 4 or net.prefixlen > 29:
        raise InvalidParameter(f"{label} {shown(value)} is not an IPv4 network of /29 or more")
    return value


def ula_cidr(network_id: str) -> str:
    """The existing charm's RFC 4193 /64, made from the last group of the network's UUID."""
    last = network_id.split("-")[4]
    return "fc00:" + ":".join(last[n : n + 4] for n in (0, 4, 8)) + "::/64"


def existing(conn: Connection) -> dict[str, Any]:
    """Everything already there, read-only; raises ConflictError on an ambiguous cloud."""
    net = conn.network
    network = tags.one_tagged(net.networks(tags=tags.TAG), "network", tags.TAG)
    if network is None:
        tags.refuse_untagged_namesake(net.networks(name=NETWORK), "network", NETWORK, tags.TAG)
    router = tags.one_tagged(net.routers(tags=tags.TAG), "router", tags.TAG)
    if router is None:
        tags.refuse_untagged_namesake(net.routers(name=ROUTER), "router", ROUTER, tags.TAG)
    subnets = []
    if network is not None:
        # Only this network's: the service user may see other subnets with the tag.
        subnets = list(net.subnets(network_id=network.id, tags=tags.TAG))
    return {"network": network, "router": router, "subnets": subnets}


def _view(kind: str, resource: Any, action: str, **attributes: Any) -> Ensured:
    return Ensured(kind, str(resource.id), resource.name or "", action, attributes)  # type: ignore[arg-type]


def ensure_mgmt_network(conn: Connection, spec: MgmtNetworkSpec) -> list[Ensured]:
    """The network, its subnets and the router, each created only when missing."""
    found = existing(conn)
    net = conn.network
    network = found["network"]
    if not spec.create:
        if network is None:
            raise MissingResource(
                f"no network tagged {tags.TAG}, and create-mgmt-network is false: create "
                f"the management network and tag it {tags.TAG}"
            )
        return [_view("network", network, "reused")] + [
            _view(f"subnet-ipv{s.ip_version}", s, "reused", cidr=s.cidr) for s in found["subnets"]
        ]
    results = []
    if network is None:
        network = net.create_network(name=NETWORK)
        tags.add_tag(conn, network, tags.TAG)
        results.append(_view("network", network, "created"))
    else:
        results.append(_view("network", network, "reused"))
    by_version = {s.ip_version: s for s in found["subnets"]}
    wanted = {6: ula_cidr(network.id)} | ({4: spec.ipv4_cidr} if spec.ipv4_cidr else {})
    new_subnets = []
    for version, cidr in wanted.items():
        subnet = by_version.get(version)
        if subnet is not None:
            results.append(_view(f"subnet-ipv{version}", subnet, "reused", cidr=subnet.cidr))
            continue
        attrs: dict[str, Any] = {
            "name": f"{SUBNET}v{version}",
            "ip_version": version,
            "cidr": cidr,
            "network_id": network.id,
        }
        if version == 6:
            attrs |= {"ipv6_address_mode": "slaac", "ipv6_ra_mode": "slaac"}
        subnet = net.create_subnet(**attrs)
        tags.add_tag(conn, subnet, tags.TAG)
        new_subnets.append(subnet)
        results.append(_view(f"subnet-ipv{version}", subnet, "created", cidr=subnet.cidr))
    results.append(_ensure_router(conn, found["router"], found["subnets"], new_subnets))
    return results


def _ensure_router(conn: Connection, router: Any, old: list[Any], new: list[Any]) -> Ensured:
    net = conn.network
    action = "reused"
    plug = new
    if router is None:
        body: dict[str, Any] = {"name": ROUTER}
        # "distributed" is an error without the DVR extension; with it, a centralised router
        # is what sends the IPv6 router advertisements SLAAC needs (LP #1843557).
        if any(net.extensions(alias="dvr")):
            body["distributed"] = False
        router = net.create_router(**body)
        tags.add_tag(conn, router, tags.TAG)
        action, plug = "created", [*old, *new]
    for subnet in plug:
        # The subnet positionally: openstacksdk renamed its keyword (subnet_id, then subnet).
        net.add_interface_to_router(router, subnet.id)
    return _view("router", router, action)
