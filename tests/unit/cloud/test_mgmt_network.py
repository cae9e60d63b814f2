"""The management network's and security groups' ensure-functions against FakeNeutron (a fake
of Neutron on 127.0.0.1, served to a real openstacksdk connection: ``tests.unit.fake_neutron``):
created once, found by the existing charm's tags after, a conflict refused before anything is
created."""

from __future__ import annotations

import pytest
from charmed_octavia.cloud import mgmt_resources, networks, security_groups, tags
from charmed_octavia.cloud.outcomes import ConflictError

from tests.unit.fake_neutron import FakeNeutron, serving


def test_first_run_creates_the_network_ula_subnet_and_router_tagged():
    # Arrange
    fake = FakeNeutron(extensions=("dvr",))

    # Act
    with serving(fake) as conn:
        ensured = networks.ensure_mgmt_network(conn, networks.MgmtNetworkSpec())

    # Assert
    assert [(e.kind, e.name, e.action) for e in ensured] == [
        ("network", "lb-mgmt-net", "created"),
        ("subnet-ipv6", "lb-mgmt-subnetv6", "created"),
        ("router", "lb-mgmt", "created"),
    ]
    (net,) = fake.items["networks"]
    (subnet,) = fake.items["subnets"]
    (router,) = fake.items["routers"]
    assert subnet["cidr"] == networks.ula_cidr(net["id"])
    assert subnet["cidr"].startswith("fc00:") and subnet["cidr"].endswith("::/64")
    assert (subnet["ipv6_address_mode"], subnet["ipv6_ra_mode"]) == ("slaac", "slaac")
    assert router["distributed"] is False
    assert fake.router_interfaces == [(router["id"], subnet["id"])]
    for item in (net, subnet, router):
        assert item["tags"] == [tags.TAG]


def test_second_run_reuses_everything_and_changes_nothing():
    # Arrange
    fake = FakeNeutron()
    with serving(fake) as conn:
        networks.ensure_mgmt_network(conn, networks.MgmtNetworkSpec())
        fake.requests.clear()

        # Act
        ensured = networks.ensure_mgmt_network(conn, networks.MgmtNetworkSpec())

    # Assert
    assert {e.action for e in ensured} == {"reused"}
    assert fake.changes() == []


def test_what_the_existing_charm_made_is_adopted_and_an_ipv4_subnet_added_to_its_router():
    # Arrange
    fake = FakeNeutron()
    net = fake.add("networks", name="lb-mgmt-net", tags=[tags.TAG])
    fake.add("subnets", name="lb-mgmt-subnetv6", network_id=net["id"], tags=[tags.TAG])
    router = fake.add("routers", name="lb-mgmt", tags=[tags.TAG])

    # Act
    with serving(fake) as conn:
        ensured = networks.ensure_mgmt_network(
            conn, networks.MgmtNetworkSpec(ipv4_cidr="172.31.0.0/22")
        )

    # Assert
    assert [(e.kind, e.action) for e in ensured] == [
        ("network", "reused"),
        ("subnet-ipv6", "reused"),
        ("subnet-ipv4", "created"),
        ("router", "reused"),
    ]
    assert ensured[0].id == net["id"]
    assert len(fake.items["networks"]) == 1
    v4 = next(s for s in fake.items["subnets"] if s["ip_version"] == 4)
    assert (v4["cidr"], v4["name"]) == ("172.31.0.0/22", "lb-mgmt-subnetv4")
    assert fake.router_interfaces == [(router["id"], v4["id"])]


@pytest.mark.parametrize("conflict", ["two-tagged", "untagged-namesake"])
def test_a_conflict_is_refused_before_anything_is_created(conflict):
    # Arrange
    fake = FakeNeutron()
    if conflict == "two-tagged":
        fake.add("networks", name="a", tags=[tags.TAG])
        fake.add("networks", name="b", tags=[tags.TAG])
    else:
        fake.add("networks", name="lb-mgmt-net")

    # Act
    with serving(fake) as conn, pytest.raises(ConflictError) as raised:
        networks.ensure_mgmt_network(conn, networks.MgmtNetworkSpec())

    # Assert
    assert fake.changes() == []
    message = str(raised.value)
    if conflict == "two-tagged":
        assert "2 are tagged charm-octavia" in message
    else:
        assert "has that name but not the tag charm-octavia" in message


def test_without_create_mgmt_network_a_missing_network_is_an_error_and_nothing_is_made():
    # Arrange
    fake = FakeNeutron()

    # Act
    with serving(fake) as conn, pytest.raises(networks.MissingResource) as raised:
        networks.ensure_mgmt_network(conn, networks.MgmtNetworkSpec(create=False))

    # Assert
    assert "create-mgmt-network is false" in str(raised.value)
    assert fake.changes() == []


def test_security_groups_get_exactly_the_existing_charms_rules_once():
    # Arrange
    fake = FakeNeutron()
    mgmt, health = security_groups.mgmt_groups()

    # Act
    with serving(fake) as conn:
        first = [security_groups.ensure_group(conn, g) for g in (mgmt, health)]
        fake.requests.clear()
        second = [security_groups.ensure_group(conn, g) for g in (mgmt, health)]

    # Assert
    assert [(e.name, e.action) for e in first if e] == [
        ("lb-mgmt-sec-grp", "created"),
        ("lb-health-mgr-sec-grp", "created"),
    ]
    assert [e.action for e in second if e] == ["reused", "reused"]
    assert fake.changes() == []
    by_group = {
        g["name"]: sorted(
            (r["protocol"], r["ethertype"], r["port_range_min"])
            for r in fake.items["security-group-rules"]
            if r["security_group_id"] == g["id"]
        )
        for g in fake.items["security-groups"]
    }
    assert by_group == {
        "lb-mgmt-sec-grp": [("icmpv6", "IPv6", None), ("tcp", "IPv6", 22), ("tcp", "IPv6", 9443)],
        "lb-health-mgr-sec-grp": [("icmpv6", "IPv6", None), ("udp", "IPv6", 5555)],
    }
    tags_of = {g["name"]: g["tags"] for g in fake.items["security-groups"]}
    assert tags_of == {
        "lb-mgmt-sec-grp": [tags.TAG],
        "lb-health-mgr-sec-grp": [tags.HEALTH_TAG],
    }


def test_configure_finds_a_security_group_conflict_before_it_creates_the_network():
    # Arrange: the network is missing (it would be created) and the group's name is taken.
    fake = FakeNeutron()
    fake.add("security-groups", name="lb-mgmt-sec-grp")

    # Act
    with serving(fake) as conn, pytest.raises(ConflictError) as raised:
        mgmt_resources.configure(conn, mgmt_resources.ResourcesSpec())

    # Assert
    assert "security group 'lb-mgmt-sec-grp'" in str(raised.value)
    assert fake.changes() == []
    assert fake.items["networks"] == []
