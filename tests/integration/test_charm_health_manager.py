"""The charm's own hooks make the health manager's data path on the lab's chassis.

The charm's leader runs under ``ops.testing`` on the chassis (``charm_on_chassis``): its
configure-resources action makes lb-mgmt-net and the security groups in the lab's Neutron, and
its reconcile makes the unit's health-manager port, bound to the chassis, and plugs it into
o-hm0 on the chassis' real Open vSwitch, where ovn-controller binds it. Neutron then reports
the port ACTIVE, and the rendered octavia.conf binds the health manager to o-hm0's address.
Then, through the charm's hooks again: a second hook changes nothing, a lowered MTU on the
network is corrected on o-hm0, the leader deletes the port of a unit that left the peer
relation and drops it from the list, and the unit's own removal deletes its port.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from charmed_octavia.cloud import health_ports
from charmed_octavia.unit import health_manager, ohm0, resources

from tests.integration.charm_on_chassis import OHM0_PROGRAMS, UNIT, UnitOnChassis, charm_unit
from tests.integration.test_neutron import nb
from tests.integration.test_ohm0 import device, global_addresses
from tests.lab import procs
from tests.lab.chassis import Chassis
from tests.lab.control import Lab

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def unit(lab: Lab, chassis: Chassis, tmp_path_factory) -> Iterator[dict]:
    """install, configure-resources and update-status of the charm on the chassis' unit."""
    with charm_unit(lab, chassis, tmp_path_factory.mktemp("unit")) as made:
        made.machine.calls.clear()
        again = made.ctx.run(made.ctx.on.update_status(), made.configured)
        yield {
            "made": made,
            "machine": made.machine,
            "configured": made.configured,
            "again": again,
            "admin": made.admin,
        }


def test_the_units_port_comes_up_on_the_chassis_and_the_health_manager_binds_o_hm0(
    lab: Lab, chassis: Chassis, unit: dict
):
    # Arrange
    admin = unit["admin"]
    (port,) = admin.network.ports(tags=health_ports.unit_tag(UNIT))

    # Act
    procs.wait_for(
        "the health-manager port ACTIVE in Neutron",
        lambda: admin.network.get_port(port.id).status == "ACTIVE",
        timeout=60,
    )
    up = nb(lab, "lsp-get-up", port.id).strip()
    port = admin.network.get_port(port.id)

    # Assert
    assert (up, port.binding_host_id, port.binding_vif_type) == ("up", chassis.name, "ovs")
    assert port.device_owner == health_ports.DEVICE_OWNER and port.is_admin_state_up
    network = admin.network.get_network(port.network_id)
    assert network.name == "lb-mgmt-net"
    link = device(chassis)
    fixed = port.fixed_ips[0]["ip_address"]
    assert (link["address"], link["mtu"]) == (port.mac_address, network.mtu)
    assert global_addresses(link) == {f"{fixed}/64"}
    made: UnitOnChassis = unit["made"]
    assert made.conf("bind_ip") == fixed
    assert made.conf("controller_ip_port_list") == f"{fixed}:5555"
    assert unit["configured"].unit_status.name == "active"


def test_a_second_hook_changes_nothing_on_the_chassis(unit: dict):
    # Arrange
    machine = unit["machine"]

    # Act
    ran = [c[1:] for c in machine.calls if c[0] == "run" and c[1] in OHM0_PROGRAMS]

    # Assert
    assert ran, "update-status did not look at o-hm0"
    assert [c for c in ran if not any(c[: len(r)] == r for r in ohm0.READ_COMMANDS)] == []
    assert unit["again"].unit_status.name == "active"


def _peer(state):
    return next(r for r in state.relations if r.endpoint == "cluster")


def _with_peers(state, peers_data: dict):
    """``state`` whose peer relation has the other units ``peers_data``."""
    from dataclasses import replace

    peer = _peer(state)
    return replace(
        state, relations={*state.relations} - {peer} | {replace(peer, peers_data=peers_data)}
    )


def test_a_changed_network_mtu_is_corrected_on_o_hm0_by_the_next_hook(
    chassis: Chassis, unit: dict
):
    # Arrange: the operator lowers lb-mgmt-net's MTU in Neutron.
    made: UnitOnChassis = unit["made"]
    (port,) = made.admin.network.ports(tags=health_ports.unit_tag(UNIT))
    network = made.admin.network.get_network(port.network_id)
    mtu = network.mtu - 58
    made.admin.network.update_network(network, mtu=mtu)

    # Act
    after = made.ctx.run(made.ctx.on.update_status(), unit["again"])

    # Assert: o-hm0 follows, and the unit publishes the new MTU.
    assert device(chassis)["mtu"] == mtu
    assert _peer(after).local_unit_data[health_manager.MTU] == str(mtu)
    assert after.unit_status.name == "active"


def test_the_leader_deletes_the_port_of_a_unit_that_left(unit: dict):
    # Arrange: octavia/1 made its port, and its address is in the leader's list.
    from ops import testing

    made: UnitOnChassis = unit["made"]
    shared = _peer(unit["again"]).local_app_data
    other = health_ports.ensure_hm_port(
        made.admin,
        "octavia/1",
        "lab-other-host",
        shared[resources.BOOT_NETWORKS],
        shared[resources.HEALTH_SECGROUP],
    )
    state = _with_peers(unit["again"], {1: {health_manager.ADDRESS: "fd00::1"}})
    joined = made.ctx.run(made.ctx.on.relation_changed(_peer(state), remote_unit=1), state)

    # Act: Juju no longer lists octavia/1 in the relation-departed hook.
    gone = _with_peers(joined, {})
    left = made.ctx.run(
        made.ctx.on.relation_departed(_peer(gone), remote_unit=1, departing_unit=1), gone
    )

    # Assert: the list had both units, and keeps the leader's only; octavia/1's port is gone.
    (mine,) = made.admin.network.ports(tags=health_ports.unit_tag(UNIT))
    address = mine.fixed_ips[0]["ip_address"]
    listed = json.loads(_peer(joined).local_app_data[resources.CONTROLLER_IPS])
    assert sorted(listed) == sorted([address, "fd00::1"])
    assert json.loads(_peer(left).local_app_data[resources.CONTROLLER_IPS]) == [address]
    assert made.admin.network.find_port(other.id) is None
    assert isinstance(left.unit_status, testing.ActiveStatus)


def test_the_removed_unit_deletes_its_own_port(unit: dict):
    # Arrange
    made: UnitOnChassis = unit["made"]
    assert list(made.admin.network.ports(tags=health_ports.unit_tag(UNIT)))

    # Act
    made.ctx.run(made.ctx.on.stop(), unit["again"])

    # Assert
    assert list(made.admin.network.ports(tags=health_ports.unit_tag(UNIT))) == []
