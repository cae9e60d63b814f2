"""What Octavia's amphorae need in the cloud, in one idempotent call: the management
network (``networks``), the two security groups (``security_groups``), the private amphora
flavor ``charm-octavia`` (``flavors``), the SSH keypair (``keypairs``) and the service
project's quotas (``quotas``).

Every lookup runs before the first creation: a conflict anywhere raises ``ConflictError``
(or ``MissingResource`` when the operator makes the resources) with nothing created.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from charmed_octavia.cloud import flavors, keypairs, networks, quotas, security_groups
from charmed_octavia.cloud.outcomes import Ensured

if TYPE_CHECKING:
    from openstack.connection import Connection

# The existing charm's private amphora flavor: 1 vCPU, 1 GiB, 8 GB.
AMPHORA_FLAVOR = flavors.NovaFlavorSpec(
    name="charm-octavia", ram=1024, disk=8, vcpus=1, public=False
)


@dataclasses.dataclass(frozen=True)
class ResourcesSpec:
    network: networks.MgmtNetworkSpec = dataclasses.field(default_factory=networks.MgmtNetworkSpec)
    # A flavor of the operator's: the charm makes none.
    custom_flavor_id: str = ""
    # The keypair amphorae get ("" for none), and its public key to upload when missing.
    keypair_name: str = ""
    public_key: str = ""
    set_quotas: bool = True


@dataclasses.dataclass(frozen=True)
class Configured:
    """The resources as they now are, and the ids octavia.conf names."""

    ensured: list[Ensured]
    boot_network: str = ""
    secgroup: str = ""
    health_secgroup: str = ""
    flavor: str = ""
    # The keypair's name when it exists, "" when it does not (or none is configured).
    keypair: str = ""


def check(conn: Connection, spec: ResourcesSpec) -> None:
    """Read-only: raise what ``configure`` would raise before it creates anything."""
    networks.existing(conn)
    for group in security_groups.mgmt_groups(bool(spec.network.ipv4_cidr)):
        security_groups.find_group(conn, group)
    if not spec.custom_flavor_id:
        flavors.find_nova_flavor(conn, AMPHORA_FLAVOR)
    if spec.keypair_name and spec.public_key:
        keypairs.check_keypair(conn, spec.keypair_name, spec.public_key)


def configure(conn: Connection, spec: ResourcesSpec) -> Configured:
    check(conn, spec)
    ensured = networks.ensure_mgmt_network(conn, spec.network)
    network = next(e for e in ensured if e.kind == "network")
    groups = {}
    for group in security_groups.mgmt_groups(bool(spec.network.ipv4_cidr)):
        found = security_groups.ensure_group(conn, group, create=spec.network.create)
        if found is None:
            raise networks.MissingResource(
                f"no security group tagged {group.tag}, and create-mgmt-network is false: "
                f"create {group.name} and tag it {group.tag}"
            )
        groups[group.kind] = found
        ensured.append(found)
    flavor_id = spec.custom_flavor_id
    if not flavor_id:
        flavor = flavors.ensure_nova_flavor(conn, AMPHORA_FLAVOR)
        ensured.append(flavor)
        flavor_id = flavor.id
    keypair = ""
    if spec.keypair_name:
        if spec.public_key:
            ensured.append(keypairs.ensure_keypair(conn, spec.keypair_name, spec.public_key))
            keypair = spec.keypair_name
        elif conn.compute.find_keypair(spec.keypair_name, ignore_missing=True) is not None:
            keypair = spec.keypair_name
    if spec.set_quotas:
        ensured.append(quotas.ensure_unlimited(conn))
    return Configured(
        ensured=ensured,
        boot_network=network.id,
        secgroup=groups["secgroup-mgmt"].id,
        health_secgroup=groups["secgroup-health"].id,
        flavor=flavor_id,
        keypair=keypair,
    )
