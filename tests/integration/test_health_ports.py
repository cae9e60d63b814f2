"""The health managers' ports against the lab's real Neutron (ML2/OVN): made once per unit as
the existing charm makes them, found again by the unit's tag, a new binding host corrected,
a duplicate refused with nothing changed, deleted, and the stale-port cleanup deleting only
the ports of departed units.

The lab binds no OVN chassis to its host: every port stays DOWN here, as expected.
"""

from __future__ import annotations

import ipaddress

import pytest
from charmed_octavia.cloud import health_ports, tags
from charmed_octavia.cloud.outcomes import ConflictError

from tests.integration.plan_helpers import neutron_connection

pytestmark = pytest.mark.lab

NETWORK = "hm-port-test-net"
CIDR = "fc00:5eed:1::/64"


@pytest.fixture
def conn(lab):
    return neutron_connection(lab)


@pytest.fixture
def mgmt(conn):
    """(network, health security group): a management network as configure-resources makes
    it (an IPv6 SLAAC subnet), deleted with every port on it after the test."""
    net = conn.network
    network = net.create_network(name=NETWORK)
    net.create_subnet(
        network_id=network.id,
        ip_version=6,
        cidr=CIDR,
        ipv6_address_mode="slaac",
        ipv6_ra_mode="slaac",
    )
    group = net.create_security_group(name="hm-port-test-sg")
    yield network, group
    for port in net.ports(network_id=network.id):
        net.delete_port(port)
    net.delete_network(network)
    net.delete_security_group(group)


def _ensure(conn, mgmt, unit: str, host: str = "lab-host-a"):
    network, group = mgmt
    return health_ports.ensure_hm_port(conn, unit, host, network.id, group.id)


def _tagged(conn, unit: str) -> list:
    return list(conn.network.ports(tags=health_ports.unit_tag(unit)))


def test_a_port_is_made_once_as_the_existing_charm_makes_it(conn, mgmt):
    # Arrange
    network, group = mgmt

    # Act
    first = _ensure(conn, mgmt, "octavia/0")
    second = _ensure(conn, mgmt, "octavia/0")

    # Assert
    assert (first.action, second.action, second.id) == ("created", "reused", first.id)
    (port,) = _tagged(conn, "octavia/0")
    assert port.name == "octavia-health-manager-octavia-0-listen-port"
    assert port.device_owner == "trunk:subport"
    assert port.security_group_ids == [group.id]
    assert port.binding_host_id == "lab-host-a"
    assert set(port.tags) == {"charm-octavia", "charm-octavia-octavia-0"}
    assert port.is_admin_state_up is False
    assert port.status == "DOWN"  # no chassis in the lab
    (address,) = second.attributes["addresses"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(CIDR)
    assert second.attributes["mac"] == port.mac_address
    assert second.attributes["mtu"] == conn.network.get_network(network.id).mtu


def test_a_new_binding_host_is_corrected_on_the_same_port(conn, mgmt):
    # Arrange
    made = _ensure(conn, mgmt, "octavia/0")

    # Act
    moved = _ensure(conn, mgmt, "octavia/0", host="lab-host-b")
    again = _ensure(conn, mgmt, "octavia/0", host="lab-host-b")

    # Assert
    assert (moved.id, moved.attributes["corrected"]) == (made.id, ["binding host"])
    assert again.attributes["corrected"] == []
    (port,) = _tagged(conn, "octavia/0")
    assert (port.binding_host_id, port.is_admin_state_up) == ("lab-host-b", False)
    assert moved.attributes["addresses"] == made.attributes["addresses"]


def test_a_port_left_untagged_is_adopted_not_duplicated(conn, mgmt):
    # Arrange: created, and the hook ended before it was tagged.
    network, group = mgmt
    half = conn.network.create_port(
        name=health_ports.port_name("octavia/1"),
        network_id=network.id,
        security_group_ids=[group.id],
    )

    # Act
    found = _ensure(conn, mgmt, "octavia/1")

    # Assert
    assert found.id == half.id
    assert len(list(conn.network.ports(network_id=network.id))) == 1
    (port,) = _tagged(conn, "octavia/1")
    assert (port.device_owner, port.binding_host_id) == ("trunk:subport", "lab-host-a")


def test_two_ports_with_a_units_tag_are_refused_and_nothing_changes(conn, mgmt):
    # Arrange
    network, _ = mgmt
    made = _ensure(conn, mgmt, "octavia/0")
    twin = conn.network.create_port(name="twin", network_id=network.id)
    conn.network.add_tag(twin, health_ports.unit_tag("octavia/0"))

    # Act
    with pytest.raises(ConflictError) as raised:
        _ensure(conn, mgmt, "octavia/0", host="lab-host-b")

    # Assert
    assert "2 are tagged charm-octavia-octavia-0" in str(raised.value)
    assert conn.network.get_port(made.id).binding_host_id == "lab-host-a"
    assert len(list(conn.network.ports(network_id=network.id))) == 2


def test_a_port_is_brought_up_once_plugged_and_deleted_with_its_unit(conn, mgmt):
    # Arrange
    made = _ensure(conn, mgmt, "octavia/0")

    # Act
    toggled = health_ports.toggle_hm_port(conn, made.id)
    up = conn.network.get_port(made.id).is_admin_state_up
    deleted = health_ports.delete_hm_port(conn, "octavia/0")
    again = health_ports.delete_hm_port(conn, "octavia/0")

    # Assert
    assert (toggled, up) == (True, True)
    assert (deleted, again) == (made.id, "")
    assert _tagged(conn, "octavia/0") == []


def test_the_cleanup_deletes_only_the_ports_of_departed_units(conn, mgmt):
    # Arrange: units 0 to 2 and 5 of octavia, and another application's unit 0.
    units = ["octavia/0", "octavia/1", "octavia/2", "octavia/5", "octavia-b/0"]
    made = {u: _ensure(conn, mgmt, u).id for u in units}
    network, _ = mgmt
    other = conn.network.create_port(name="not-a-health-port", network_id=network.id)
    conn.network.add_tag(other, tags.TAG)

    # Act: unit 2 departs; unit 1 left earlier; unit 5 joined unseen by the leader.
    stale = health_ports.stale_hm_ports(conn, ["octavia/0", "octavia/3"], ["octavia/2"])
    deleted = health_ports.delete_stale_hm_ports(conn, ["octavia/0", "octavia/3"], ["octavia/2"])

    # Assert
    assert sorted(p.id for p in stale) == sorted([made["octavia/1"], made["octavia/2"]])
    assert deleted == ["octavia-1", "octavia-2"]
    left = {p.id for p in conn.network.ports(network_id=network.id)}
    assert left == {made["octavia/0"], made["octavia/5"], made["octavia-b/0"], other.id}
