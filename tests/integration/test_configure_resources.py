"""configure-resources' library against the lab's real Neutron and Nova: the management
network, security groups, amphora flavor, keypair and quotas made once, found by the existing
charm's tags after, and a conflict refused with nothing created."""

from __future__ import annotations

import ipaddress

import pytest
from charmed_octavia.cloud import mgmt_resources, networks, security_groups, tags
from charmed_octavia.cloud.outcomes import ConflictError

from tests.certificates import ssh_public_key
from tests.integration.plan_helpers import neutron_connection, remove_charm_resources

pytestmark = pytest.mark.lab


PUBLIC_KEY = ssh_public_key()


@pytest.fixture
def conn(lab):
    return neutron_connection(lab)


@pytest.fixture
def cleanup(conn):
    """Deletes, after the test, everything tagged as the charm tags it."""
    yield
    remove_charm_resources(conn, keypair="lab-amp-key")


def _spec() -> mgmt_resources.ResourcesSpec:
    return mgmt_resources.ResourcesSpec(keypair_name="lab-amp-key", public_key=PUBLIC_KEY)


def test_first_run_creates_everything_and_the_second_reuses_it(conn, cleanup):
    # Act
    first = mgmt_resources.configure(conn, _spec())
    second = mgmt_resources.configure(conn, _spec())

    # Assert
    assert {e.kind for e in first.ensured if e.created} >= {
        "network",
        "subnet-ipv6",
        "router",
        "secgroup-mgmt",
        "secgroup-health",
        "nova-flavor",
        "keypair",
    }
    assert [e for e in second.ensured if e.created and e.kind != "quotas"] == []
    assert (second.boot_network, second.secgroup, second.flavor) == (
        first.boot_network,
        first.secgroup,
        first.flavor,
    )
    subnet = next(conn.network.subnets(network_id=first.boot_network))
    # Neutron answers the CIDR compressed (…:17::/64 for the existing charm's …:0017::/64).
    assert ipaddress.ip_network(subnet.cidr) == ipaddress.ip_network(
        networks.ula_cidr(first.boot_network)
    )
    assert subnet.ipv6_address_mode == "slaac"
    flavor = conn.compute.get_flavor(first.flavor)
    assert (flavor.vcpus, flavor.ram, flavor.disk, flavor.is_public) == (1, 1024, 8, False)
    rules = list(conn.network.security_group_rules(security_group_id=first.health_secgroup))
    assert {(r.protocol, r.port_range_min) for r in rules if r.direction == "ingress"} == {
        ("ipv6-icmp", None),  # as Neutron stores ICMPv6
        ("udp", security_groups.HEALTH_PORT),
    }
    quota = conn.network.get_quota(conn.current_project_id)
    assert quota.ports == -1


def test_an_untagged_namesake_is_refused_and_nothing_is_created(conn, cleanup):
    # Arrange
    squatter = conn.network.create_network(name=networks.NETWORK)
    try:
        # Act
        with pytest.raises(ConflictError) as raised:
            mgmt_resources.configure(conn, _spec())

        # Assert
        assert "not the tag charm-octavia" in str(raised.value)
        assert list(conn.network.security_groups(tags=tags.TAG)) == []
        assert conn.compute.find_flavor("charm-octavia", ignore_missing=True) is None
    finally:
        conn.network.delete_network(squatter)


def _made_as_the_existing_charm_makes_them(conn) -> dict[str, str]:
    """The management resources as charm-octavia's ``api_crud`` creates them: each made by
    name, then tagged (ULA subnet from the network id, the router's interface on it, the
    groups' rules with ``icmpv6`` as it asks for them). Their ids, by kind."""
    net = conn.network
    network = net.create_network(name=networks.NETWORK)
    net.add_tag(network, tags.TAG)
    subnet = net.create_subnet(
        name="lb-mgmt-subnetv6",
        ip_version=6,
        ipv6_address_mode="slaac",
        ipv6_ra_mode="slaac",
        cidr=networks.ula_cidr(network.id),
        network_id=network.id,
    )
    net.add_tag(subnet, tags.TAG)
    router = net.create_router(name="lb-mgmt")
    net.add_tag(router, tags.TAG)
    net.add_interface_to_router(router, subnet.id)
    groups = {}
    for kind, name, tag, rules in (
        ("secgroup-mgmt", "lb-mgmt-sec-grp", tags.TAG, [("tcp", 22), ("tcp", 9443)]),
        ("secgroup-health", "lb-health-mgr-sec-grp", tags.HEALTH_TAG, [("udp", 5555)]),
    ):
        group = net.create_security_group(name=name)
        net.add_tag(group, tag)
        for protocol, port in [("icmpv6", None), *rules]:
            ports = {} if port is None else {"port_range_min": port, "port_range_max": port}
            net.create_security_group_rule(
                security_group_id=group.id,
                direction="ingress",
                ethertype="IPv6",
                protocol=protocol,
                **ports,
            )
        groups[kind] = group.id
    flavor = conn.compute.create_flavor(
        name="charm-octavia", ram=1024, disk=8, vcpus=1, is_public=False
    )
    return {
        "network": network.id,
        "subnet-ipv6": subnet.id,
        "router": router.id,
        **groups,
        "nova-flavor": flavor.id,
    }


def _counts(conn) -> tuple[int, ...]:
    net = conn.network
    return (
        len(list(net.networks(tags=tags.TAG))),
        len(list(net.subnets(tags=tags.TAG))),
        len(list(net.routers(tags=tags.TAG))),
        len(list(net.security_groups(tags=tags.TAG))),
        len(list(net.security_groups(tags=tags.HEALTH_TAG))),
        *(
            sum(len(g.security_group_rules) for g in net.security_groups(name=name))
            for name in ("lb-mgmt-sec-grp", "lb-health-mgr-sec-grp")
        ),
        len([f for f in conn.compute.flavors(is_public=None) if f.name == "charm-octavia"]),
    )


def test_what_the_existing_charm_made_is_adopted_and_nothing_is_duplicated(conn, cleanup):
    # Arrange
    made = _made_as_the_existing_charm_makes_them(conn)
    before = _counts(conn)

    # Act
    configured = mgmt_resources.configure(conn, mgmt_resources.ResourcesSpec())

    # Assert
    adopted = {e.kind: e for e in configured.ensured if e.kind in made}
    assert {kind: (e.id, e.created) for kind, e in adopted.items()} == {
        kind: (made[kind], False) for kind in made
    }
    assert _counts(conn) == before
    assert (configured.boot_network, configured.secgroup, configured.health_secgroup) == (
        made["network"],
        made["secgroup-mgmt"],
        made["secgroup-health"],
    )
    assert configured.flavor == made["nova-flavor"]
