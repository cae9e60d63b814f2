"""The lab's networks, made through Neutron's API as a cloud's admin makes them: the external
network the SRU plan's VIPs are on (``ext_net`` / ``ext_net_subnet``, the name the plan is
given) and Octavia's management network (``lab-amp-boot-net``, in ``amp_boot_network_list``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from tests.lab.services.neutron import PHYSNET

if TYPE_CHECKING:
    import openstack.connection

EXT_NET = "ext_net"
EXT_SUBNET = "ext_net_subnet"
# TEST-NET-2 (RFC 5737): what Octavia's noop network driver reports as a VIP.
EXT_CIDR = "198.51.100.0/24"
# Not named lb-mgmt-net: that name is configure-resources' own, and it refuses to adopt an
# untagged namesake (tests/integration/test_configure_resources.py creates the real one).
MGMT_NET = "lab-amp-boot-net"
MGMT_SUBNET = "lab-amp-boot-subnet"
MGMT_CIDR = "172.31.0.0/24"


@dataclass(frozen=True)
class LabNetworks:
    """The ids of the lab's networks and subnets."""

    ext_net_id: str
    ext_subnet_id: str
    mgmt_net_id: str
    mgmt_subnet_id: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def create_lab_networks(conn: openstack.connection.Connection) -> LabNetworks:
    """ext_net (flat, external, shared) with ext_net_subnet, and lab-amp-boot-net (the
    admin's tenant network) with its subnet."""
    # Shared as well as external: the lab's member puts load balancers' VIPs on it, and
    # Neutron shows an external network's subnets to other projects only when shared.
    ext = conn.network.create_network(
        name=EXT_NET,
        is_router_external=True,
        is_shared=True,
        provider_network_type="flat",
        provider_physical_network=PHYSNET,
    )
    ext_subnet = conn.network.create_subnet(
        name=EXT_SUBNET,
        network_id=ext.id,
        ip_version=4,
        cidr=EXT_CIDR,
        # The pool is the subnet's default (all but the gateway): neutron-lib 3.11 takes
        # allocation_pools through netaddr 1.x's IPAddress, which fails on a list.
        gateway_ip="198.51.100.254",
        is_dhcp_enabled=False,
    )
    mgmt = conn.network.create_network(name=MGMT_NET)
    mgmt_subnet = conn.network.create_subnet(
        name=MGMT_SUBNET, network_id=mgmt.id, ip_version=4, cidr=MGMT_CIDR
    )
    return LabNetworks(ext.id, ext_subnet.id, mgmt.id, mgmt_subnet.id)
