"""The amphorae's and the health managers' security groups, named, tagged and ruled as the
existing Octavia charm makes them: ``lb-mgmt-sec-grp`` (ICMPv6, TCP 22 and 9443 in; tag
``charm-octavia``) and ``lb-health-mgr-sec-grp`` (ICMPv6 and UDP 5555 in; tag
``charm-octavia-health``). A missing rule is added; other rules are left as they are.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from charmed_octavia.cloud import tags
from charmed_octavia.cloud.outcomes import Ensured

if TYPE_CHECKING:
    from openstack.connection import Connection

MGMT_SECGRP = "lb-mgmt-sec-grp"
HEALTH_SECGRP = "lb-health-mgr-sec-grp"
AGENT_PORT = 9443
HEALTH_PORT = 5555


# Neutron takes a protocol by any of its names or numbers and answers with the one it
# stores (ICMPv6 created as "icmpv6" reads back "ipv6-icmp"): rules compare by these.
_PROTOCOL_NAMES = {"icmpv6": "ipv6-icmp", "58": "ipv6-icmp", "1": "icmp", "6": "tcp", "17": "udp"}


def _protocol(name: str | None) -> str | None:
    return _PROTOCOL_NAMES.get(str(name).lower(), str(name).lower()) if name else name


@dataclasses.dataclass(frozen=True)
class Rule:
    protocol: str
    ethertype: str
    port: int | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "direction": "ingress",
            "protocol": self.protocol,
            "ethertype": self.ethertype,
        }
        if self.port is not None:
            body |= {"port_range_min": self.port, "port_range_max": self.port}
        return body

    def matches(self, rule: Any) -> bool:
        return (
            rule.direction == "ingress"
            and _protocol(rule.protocol) == _protocol(self.protocol)
            and rule.ether_type == self.ethertype
            and rule.port_range_min == self.port
            and rule.port_range_max == self.port
            and not rule.remote_ip_prefix
            and not rule.remote_group_id
        )


@dataclasses.dataclass(frozen=True)
class GroupSpec:
    kind: str
    name: str
    tag: str
    rules: tuple[Rule, ...]


def mgmt_groups(ipv4: bool = False) -> tuple[GroupSpec, GroupSpec]:
    """The two groups; ``ipv4``: the same rules for an IPv4 management subnet too."""
    families = ("IPv6", "IPv4") if ipv4 else ("IPv6",)
    icmp = {"IPv6": "icmpv6", "IPv4": "icmp"}
    mgmt = tuple(
        rule
        for family in families
        for rule in (
            Rule(icmp[family], family),
            Rule("tcp", family, 22),
            Rule("tcp", family, AGENT_PORT),
        )
    )
    health = tuple(
        rule
        for family in families
        for rule in (Rule(icmp[family], family), Rule("udp", family, HEALTH_PORT))
    )
    return (
        GroupSpec("secgroup-mgmt", MGMT_SECGRP, tags.TAG, mgmt),
        GroupSpec("secgroup-health", HEALTH_SECGRP, tags.HEALTH_TAG, health),
    )


def find_group(conn: Connection, spec: GroupSpec) -> Any | None:
    """The tagged group, None if there is none; ConflictError when ambiguous."""
    net = conn.network
    group = tags.one_tagged(net.security_groups(tags=spec.tag), "security group", spec.tag)
    if group is None:
        tags.refuse_untagged_namesake(
            net.security_groups(name=spec.name), "security group", spec.name, spec.tag
        )
    return group


def ensure_group(conn: Connection, spec: GroupSpec, *, create: bool = True) -> Ensured | None:
    """The group with every rule of ``spec``; None when it is missing and ``create`` is off."""
    net = conn.network
    group = find_group(conn, spec)
    action = "reused"
    if group is None:
        if not create:
            return None
        group = net.create_security_group(name=spec.name)
        tags.add_tag(conn, group, spec.tag)
        action = "created"
    existing = list(net.security_group_rules(security_group_id=group.id))
    added = 0
    if create:
        for rule in spec.rules:
            if not any(rule.matches(r) for r in existing):
                net.create_security_group_rule(security_group_id=group.id, **rule.body())
                added += 1
    return Ensured(spec.kind, str(group.id), group.name, action, {"rules-added": added})  # type: ignore[arg-type]
