"""ops.testing of the health-manager ports: each unit's port ensured once and published in its
peer data, the leader's controller-ip-port-list on every unit, the binding host from the
neutron-openvswitch and ovsdb-subordinate relations, departures and their ports' deletion,
and the status while the port or o-hm0 is not ready: waiting, or blocked with the reason when
no subordinate names the host, the port stays DOWN or o-hm0 has no address.

Neutron is ``FakeHealthPorts`` (tests/unit/charm/fake_health_ports.py, the ``health_ports``
fixture of conftest.py); the same functions run against the lab's Neutron in
``tests/integration/test_health_ports.py``.
"""

from __future__ import annotations

import dataclasses
import json
import socket

import pytest
from charmed_octavia.cloud.networks import MissingResource
from charmed_octavia.cloud.outcomes import ConflictError
from ops import testing

import charm
from tests.unit.charm.states import (
    AMPHORA_RESOURCES,
    amqp,
    chassis,
    identity,
    pki_secret,
    pki_shared,
    shared_db,
)
from tests.unit.charm.states import subordinate as _subordinate
from tests.unit.charm_data import KEYSTONE_PASSWORD
from tests.unit.fake_machine import FakeMachine

CONF = "etc/octavia/octavia.conf"
# What the two other units published (their ports made on their own hooks).
OTHERS = {1: "fc00:1234:5678::b1", 2: "fc00:1234:5678::a2"}
OWN = "fc00:1234:5678::1"  # FakeHealthPorts' first port
SHARED = {
    "heartbeat-key": "k" * 32,
    "server-certs-key-passphrase": "p" * 32,
    "db-synced-version": "1:14.0.0-0ubuntu1",
    **AMPHORA_RESOURCES,
}
# The leader's amphora PKI, so that a non-leader renders too.
PKI = pki_secret()


def cluster(
    addresses: dict[int, str] | None = None, app_data: dict[str, str] | None = None
) -> testing.PeerRelation:
    """The peer relation of three units; ``addresses``: the others' published addresses."""
    found = OTHERS if addresses is None else addresses
    return testing.PeerRelation(
        "cluster",
        local_app_data={**SHARED, **pki_shared(PKI), **(app_data or {})},
        peers_data={n: {"hm-address": a} if a else {} for n, a in found.items()},
    )


def unit_state(peer: testing.PeerRelation, *, leader: bool = True, **kwargs) -> testing.State:
    """The unit with its chassis, unless ``relations`` says which subordinates it has."""
    extra = kwargs.pop("relations", [chassis()])
    relations = [identity(), shared_db(), amqp(), peer, *extra]
    return testing.State(leader=leader, relations=relations, secrets=[PKI], **kwargs)


def peer_of(state: testing.State) -> testing.PeerRelation:
    found = next(r for r in state.relations if r.endpoint == "cluster")
    assert isinstance(found, testing.PeerRelation)
    return found


def conf_value(machine: FakeMachine, key: str) -> str:
    for line in (machine.root / CONF).read_text().splitlines():
        if line.startswith(f"{key} = "):
            return line.split(" = ", 1)[1]
    raise AssertionError(f"{key} not in octavia.conf")


def listed(*addresses: str) -> str:
    return ", ".join(f"{a}:5555" for a in addresses)


# -- the port and the list ---------------------------------------------------------------


def test_the_leader_ensures_its_port_and_lists_every_units_address(ctx, machine, health_ports):
    # Act
    out = ctx.run(ctx.on.config_changed(), unit_state(cluster()))

    # Assert
    peer = peer_of(out)
    assert health_ports.ensured_units() == ["octavia/0"]
    mine = peer.local_unit_data
    assert mine["hm-address"] == OWN
    assert mine["hm-port-id"] == health_ports.ports["octavia/0"].id
    assert mine["hm-mac"] == health_ports.ports["octavia/0"].mac
    assert (json.loads(mine["hm-addresses"]), mine["hm-mtu"]) == ([OWN], "1442")
    assert json.loads(peer.local_app_data["controller-ip-port-list"]) == sorted(
        [OWN, *OTHERS.values()]
    )
    assert conf_value(machine, "controller_ip_port_list") == listed(
        *sorted([OWN, *OTHERS.values()])
    )
    assert conf_value(machine, "bind_ip") == OWN
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


def test_a_second_hook_reuses_the_port_and_changes_nothing(ctx, machine, health_ports):
    # Arrange
    first = ctx.run(ctx.on.config_changed(), unit_state(cluster()))
    machine.calls.clear()

    # Act
    second = ctx.run(ctx.on.update_status(), first)

    # Assert
    assert health_ports.ensured_units() == ["octavia/0", "octavia/0"]
    assert list(health_ports.ports) == ["octavia/0"]
    assert peer_of(second).local_unit_data == peer_of(first).local_unit_data
    assert peer_of(second).local_app_data == peer_of(first).local_app_data
    assert [c for c in machine.calls if c[:1] == ("systemctl",) and "restart" in c] == []
    # o-hm0 was read, and nothing about it changed.
    assert [c for c in machine.mutations() if c[1] in ("ovs-vsctl", "ip", "sysctl")] == []


# -- o-hm0 ---------------------------------------------------------------------------------


def test_the_chassis_gets_o_hm0_for_the_port_and_the_port_is_brought_up(
    ctx, machine, health_ports
):
    # Act
    out = ctx.run(ctx.on.config_changed(), unit_state(cluster()))

    # Assert
    port = health_ports.ports["octavia/0"]
    assert machine.link is not None and machine.ovs is not None
    assert (machine.link.mac, machine.link.mtu, machine.link.up) == (port.mac, 1442, True)
    assert [a for a, _ in machine.link.addresses] == [f"{OWN}/64"]
    assert machine.ovs.external_ids and machine.ovs.external_ids["iface-id"] == port.id
    assert ("toggle", port.id) in health_ports.calls and port.up
    assert peer_of(out).local_unit_data["hm-address"] == OWN
    assert (machine.root / "etc/systemd/network/99-charm-octavia-o-hm0.network").exists()


def test_without_a_chassis_the_unit_is_blocked_on_its_own_address(ctx, machine, health_ports):
    # Act
    out = ctx.run(ctx.on.config_changed(), unit_state(cluster(), relations=[]))

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        "Health-manager port: no ovsdb-subordinate or neutron-openvswitch relation "
        "(amphorae cannot reach this unit)"
    )
    # The port is made all the same, bound to the hostname, ready for the relation.
    assert health_ports.ports["octavia/0"].host == socket.gethostname()
    assert machine.link is None and machine.mutations_of("ovs-vsctl") == []
    assert peer_of(out).local_unit_data.get("hm-address", "") == ""
    assert conf_value(machine, "bind_ip") == "192.0.2.0"  # the peer binding ops.testing gives
    assert OWN not in conf_value(machine, "controller_ip_port_list")


def test_a_subordinate_that_names_no_host_blocks_with_its_name(ctx, machine, health_ports):
    # Arrange: neutron-openvswitch without use-fqdn-hint publishes no host.
    relations = [_subordinate("neutron-openvswitch", {})]

    # Act
    out = ctx.run(ctx.on.config_changed(), unit_state(cluster(), relations=relations))

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        "Health-manager port: the neutron-openvswitch relation names no host "
        "(amphorae cannot reach this unit)"
    )


def test_two_subordinates_that_name_no_host_are_both_told(ctx, machine, health_ports):
    # Arrange: ovn-chassis has not published its chassis name yet either.
    relations = [_subordinate("neutron-openvswitch", {}), _subordinate("ovsdb-subordinate", {})]

    # Act
    out = ctx.run(ctx.on.config_changed(), unit_state(cluster(), relations=relations))

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        "Health-manager port: neither the neutron-openvswitch nor the ovsdb-subordinate "
        "relation names a host (amphorae cannot reach this unit)"
    )


def test_the_chassis_joining_plugs_the_port_and_clears_the_block(ctx, machine, health_ports):
    # Arrange
    first = ctx.run(ctx.on.config_changed(), unit_state(cluster(), relations=[]))
    assert isinstance(first.unit_status, testing.BlockedStatus)
    joined = chassis()

    # Act
    out = ctx.run(
        ctx.on.relation_changed(joined, remote_unit=0),
        dataclasses.replace(first, relations=[*first.relations, joined]),
    )

    # Assert
    port = health_ports.ports["octavia/0"]
    assert list(health_ports.ports) == ["octavia/0"]  # the same port, rebound
    assert (port.host, port.up, port.status) == ("node0.maas", True, "ACTIVE")
    assert machine.ovs is not None and machine.ovs.external_ids["iface-id"] == port.id
    assert peer_of(out).local_unit_data["hm-address"] == OWN
    assert conf_value(machine, "bind_ip") == OWN
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


# -- the port's status in Neutron --------------------------------------------------------------


@pytest.fixture
def short_wait(monkeypatch):
    """The hook's wait for the port's binding, in hundredths of a second."""
    import health_port

    monkeypatch.setattr(health_port, "PORT_ACTIVE_TIMEOUT", 0.05)
    monkeypatch.setattr(health_port, "PORT_POLL_SECONDS", 0.01)


def test_a_port_its_chassis_binds_while_the_hook_waits_is_ready(
    ctx, machine, health_ports, short_wait, monkeypatch
):
    # Arrange: the chassis binds the port at the third look.
    import health_port

    monkeypatch.setattr(health_port, "PORT_ACTIVE_TIMEOUT", 5.0)
    health_ports.binds_after = 2

    # Act
    out = ctx.run(ctx.on.config_changed(), unit_state(cluster()))

    # Assert
    port = health_ports.ports["octavia/0"]
    assert health_ports.calls_of("status") == [port.id] * 3
    assert port.status == "ACTIVE"
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


def test_a_port_that_stays_down_blocks_until_its_chassis_binds_it(
    ctx, machine, health_ports, short_wait
):
    # Arrange: ovn-controller does not bind the port.
    health_ports.binds_after = None

    # Act
    first = ctx.run(ctx.on.config_changed(), unit_state(cluster()))
    again = ctx.run(ctx.on.update_status(), first)
    health_ports.ports["octavia/0"].status = "ACTIVE"  # the operator mended the chassis
    mended = ctx.run(ctx.on.update_status(), again)

    # Assert
    port = health_ports.ports["octavia/0"]
    blocked = testing.BlockedStatus(
        f"Health-manager port {port.id} is DOWN on node0.maas: the chassis there has not "
        "bound it (is its agent running under that name?)"
    )
    assert (first.unit_status, again.unit_status) == (blocked, blocked)
    # Toggled and waited for once; the later hooks only read the port's status.
    assert health_ports.calls_of("toggle") == [port.id]
    assert len(health_ports.calls_of("status")) > 1
    assert mended.unit_status == testing.ActiveStatus("Unit is ready")


def test_a_port_down_after_o_hm0_changed_is_toggled_again(ctx, machine, health_ports, short_wait):
    # Arrange: a port left DOWN, then o-hm0 lost its address.
    health_ports.binds_after = None
    first = ctx.run(ctx.on.config_changed(), unit_state(cluster()))
    assert machine.link is not None
    machine.link.addresses.clear()
    health_ports.binds_after = 0

    # Act
    out = ctx.run(ctx.on.update_status(), first)

    # Assert
    port = health_ports.ports["octavia/0"]
    assert health_ports.calls_of("toggle") == [port.id, port.id]
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


# -- o-hm0 without an address ------------------------------------------------------------------


def test_o_hm0_that_loses_its_address_blocks_after_the_wait(
    ctx, machine, health_ports, monkeypatch
):
    # Arrange: something on the machine takes o-hm0's address away again.
    from charmed_octavia.unit import ohm0

    monkeypatch.setattr(ohm0, "ADDRESS_TIMEOUT", 0.05)
    machine.address_lag = None

    # Act
    out = ctx.run(ctx.on.config_changed(), unit_state(cluster()))

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        f"o-hm0 lacks {OWN}/64 0.05 s after it was set: does another network manager configure it?"
    )
    assert peer_of(out).local_unit_data.get("hm-address", "") == ""


def test_a_port_without_a_fixed_ip_blocks(ctx, machine, health_ports):
    # Arrange: Neutron's port lost its address (its subnet was deleted, say).
    first = ctx.run(ctx.on.config_changed(), unit_state(cluster()))
    health_ports.ports["octavia/0"].address = ""

    # Act
    out = ctx.run(ctx.on.update_status(), first)

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        "o-hm0: the health manager port has no fixed IP"
    )
    assert peer_of(out).local_unit_data.get("hm-address", "") == ""


def test_an_o_hm0_that_cannot_be_made_waits_and_publishes_no_address(ctx, machine, health_ports):
    # Arrange: ovn-chassis has not made br-int yet.
    machine.bridges = set()

    # Act
    out = ctx.run(ctx.on.config_changed(), unit_state(cluster()))

    # Assert
    assert out.unit_status.name == "waiting"
    assert out.unit_status.message.startswith("Waiting for o-hm0: ")
    assert peer_of(out).local_unit_data.get("hm-address", "") == ""
    assert conf_value(machine, "bind_ip") != OWN


def test_a_non_leader_renders_the_leaders_list_with_its_own_bind_ip(ctx, machine, health_ports):
    # Arrange: the leader's list names the three units.
    stored = json.dumps(sorted([OWN, *OTHERS.values()]))
    peer = cluster(app_data={"controller-ip-port-list": stored})

    # Act
    out = ctx.run(ctx.on.config_changed(), unit_state(peer, leader=False))

    # Assert
    assert peer_of(out).local_unit_data["hm-address"] == OWN
    assert conf_value(machine, "bind_ip") == OWN
    assert conf_value(machine, "controller_ip_port_list") == listed(
        *sorted([OWN, *OTHERS.values()])
    )


def test_a_new_leader_adds_a_units_new_address_to_the_list(ctx, machine, health_ports):
    # Arrange: the old leader's list, before unit 2 had a port.
    stored = json.dumps(sorted([OWN, OTHERS[1]]))
    peer = cluster(app_data={"controller-ip-port-list": stored})

    # Act
    out = ctx.run(ctx.on.leader_elected(), unit_state(peer))

    # Assert
    assert json.loads(peer_of(out).local_app_data["controller-ip-port-list"]) == sorted(
        [OWN, *OTHERS.values()]
    )


def test_while_a_unit_has_no_address_the_stored_list_is_kept(ctx, machine, health_ports):
    # Arrange: switched from the existing charm: its list, unit 2 not yet published.
    stored = json.dumps(["fc00:1234:5678::aa", "fc00:1234:5678::bb", "fc00:1234:5678::cc"])
    peer = cluster({1: OTHERS[1], 2: ""}, app_data={"controller-ip-port-list": stored})

    # Act
    out = ctx.run(ctx.on.config_changed(), unit_state(peer))

    # Assert
    assert peer_of(out).local_app_data["controller-ip-port-list"] == stored
    assert conf_value(machine, "controller_ip_port_list") == listed(
        "fc00:1234:5678::aa", "fc00:1234:5678::bb", "fc00:1234:5678::cc"
    )


def test_the_options_win_over_the_port_and_the_list(ctx, machine, health_ports):
    # Arrange
    config = {
        "health-manager-bind-ip": "192.0.2.10",
        "controller-ip-port-list": "192.0.2.10:5555,192.0.2.11:5555",
    }

    # Act
    ctx.run(ctx.on.config_changed(), unit_state(cluster(), config=config))

    # Assert
    assert conf_value(machine, "bind_ip") == "192.0.2.10"
    assert conf_value(machine, "controller_ip_port_list") == "192.0.2.10:5555,192.0.2.11:5555"


def test_no_port_before_configure_resources_or_without_amphorae(ctx, machine, health_ports):
    # Arrange
    before = dict(SHARED)
    del before["amp-health-secgroup"]
    peer = testing.PeerRelation(
        "cluster", local_app_data={**before, **pki_shared(PKI)}, peers_data={1: {}}
    )

    # Act
    ctx.run(ctx.on.config_changed(), unit_state(peer))
    ctx.run(ctx.on.config_changed(), unit_state(cluster(), config={"enable-amphora": False}))

    # Assert
    assert health_ports.calls == []


# -- the binding host ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("relations", "host"),
    [
        ([_subordinate("neutron-openvswitch", {"host": "node1.maas"})], "node1.maas"),
        # charms.reactive publishes chassis-name JSON-encoded.
        ([_subordinate("ovsdb-subordinate", {"chassis-name": '"node2.maas"'})], "node2.maas"),
        # neutron-openvswitch without use-fqdn-hint publishes no host.
        ([_subordinate("neutron-openvswitch", {})], socket.gethostname()),
        ([], socket.gethostname()),
    ],
    ids=["neutron-openvswitch", "ovsdb-subordinate", "no-host-published", "neither"],
)
def test_the_port_is_bound_to_the_host_the_relations_name(
    ctx, machine, health_ports, relations, host
):
    # Act
    out = ctx.run(ctx.on.config_changed(), unit_state(cluster(), relations=relations))

    # Assert
    assert health_ports.ports["octavia/0"].host == host
    assert peer_of(out).local_unit_data["hm-host"] == host


def test_a_new_chassis_name_corrects_the_binding_host(ctx, machine, health_ports):
    # Arrange
    sub = _subordinate("ovsdb-subordinate", {"chassis-name": '"node2.maas"'})
    first = ctx.run(ctx.on.config_changed(), unit_state(cluster(), relations=[sub]))
    moved = dataclasses.replace(sub, remote_unit_data={"chassis-name": '"node3.maas"'})
    relations = [r for r in first.relations if r.endpoint != "ovsdb-subordinate"] + [moved]

    # Act
    out = ctx.run(
        ctx.on.relation_changed(moved, remote_unit=0),
        dataclasses.replace(first, relations=relations),
    )

    # Assert
    assert list(health_ports.ports) == ["octavia/0"]
    assert health_ports.ports["octavia/0"].host == "node3.maas"
    assert peer_of(out).local_unit_data["hm-host"] == "node3.maas"


# -- departures ----------------------------------------------------------------------------


def test_a_departing_unit_leaves_the_list_and_the_leader_deletes_its_port(
    ctx, machine, health_ports
):
    # Arrange: unit 2 is leaving (Juju no longer lists it in its departed hook).
    first = ctx.run(ctx.on.config_changed(), unit_state(cluster()))
    peer = peer_of(first)
    left = dataclasses.replace(peer, peers_data={1: {"hm-address": OTHERS[1]}})
    state = dataclasses.replace(
        first, relations=[*(r for r in first.relations if r is not peer), left]
    )

    # Act
    out = ctx.run(ctx.on.relation_departed(left, remote_unit=2, departing_unit=2), state)

    # Assert
    assert ("delete-stale", ["octavia/2"]) in health_ports.calls
    assert json.loads(peer_of(out).local_app_data["controller-ip-port-list"]) == sorted(
        [OWN, OTHERS[1]]
    )
    assert conf_value(machine, "controller_ip_port_list") == listed(*sorted([OWN, OTHERS[1]]))


def test_only_the_leader_deletes_the_ports_of_departed_units(ctx, machine, health_ports):
    # Arrange
    peer = cluster({1: OTHERS[1]})

    # Act
    ctx.run(
        ctx.on.relation_departed(peer, remote_unit=2, departing_unit=2),
        unit_state(peer, leader=False),
    )

    # Assert
    assert [c for c in health_ports.calls if c[0] == "delete-stale"] == []


def test_a_removed_unit_deletes_its_port_and_never_makes_it_again(machine, health_ports):
    # Arrange: unit 3 (ops.testing takes a departing unit numbered 0 for the remote one).
    ctx = testing.Context(charm.OctaviaCharm, unit_id=3)
    first = ctx.run(ctx.on.config_changed(), unit_state(cluster(), leader=False))
    peer = peer_of(first)

    # Act: Juju removes this unit: departed (it is the departing one), then stop.
    departed = ctx.run(ctx.on.relation_departed(peer, remote_unit=1, departing_unit=3), first)
    stopped = ctx.run(ctx.on.stop(), departed)
    ctx.run(ctx.on.update_status(), stopped)

    # Assert
    assert health_ports.ensured_units() == ["octavia/3"]
    assert ("delete", "octavia/3") in health_ports.calls
    assert health_ports.ports == {}


# -- status ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (
            ConflictError("port", "charm-octavia-octavia-0", ["2 are tagged"]),
            testing.BlockedStatus(
                "Health-manager port: port 'charm-octavia-octavia-0' already exists and "
                "differs: 2 are tagged"
            ),
        ),
        (
            MissingResource("the management network n1 is gone: run configure-resources"),
            testing.BlockedStatus(
                "Health-manager port: the management network n1 is gone: run configure-resources"
            ),
        ),
        (
            ConnectionError("Neutron is unreachable"),
            testing.WaitingStatus("Waiting for the health-manager port: Neutron is unreachable"),
        ),
    ],
    ids=["duplicate", "missing-network", "unreachable"],
)
def test_a_port_that_cannot_be_made_is_told_in_status(ctx, machine, health_ports, error, status):
    # Arrange
    health_ports.error = error

    # Act
    out = ctx.run(ctx.on.config_changed(), unit_state(cluster()))

    # Assert
    assert out.unit_status == status
    assert "hm-port-id" not in peer_of(out).local_unit_data


def test_neutrons_refusal_blocks_and_no_secret_reaches_the_log(ctx, machine, health_ports):
    # Arrange: an error that quotes the service password.
    from openstack import exceptions

    health_ports.error = exceptions.ForbiddenException(
        f"policy refuses binding:host_id for octavia/{KEYSTONE_PASSWORD}", http_status=403
    )

    # Act
    out = ctx.run(ctx.on.config_changed(), unit_state(cluster()))

    # Assert
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert out.unit_status.message.startswith("Health-manager port: ")
    told = "\n".join(line.message for line in ctx.juju_log) + str(out.unit_status)
    assert "policy refuses binding:host_id" in told
    assert KEYSTONE_PASSWORD not in told


def test_the_port_once_made_clears_the_waiting_status(ctx, machine, health_ports):
    # Arrange
    health_ports.error = ConnectionError("Neutron is unreachable")
    first = ctx.run(ctx.on.config_changed(), unit_state(cluster()))
    health_ports.error = None

    # Act
    out = ctx.run(ctx.on.update_status(), first)

    # Assert
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


def test_a_failed_deletion_on_removal_is_logged_and_the_hook_goes_on(ctx, machine, health_ports):
    # Arrange
    first = ctx.run(ctx.on.config_changed(), unit_state(cluster(), leader=False))
    health_ports.error = ConnectionError(f"Neutron is unreachable (password {KEYSTONE_PASSWORD})")

    # Act
    ctx.run(ctx.on.stop(), first)

    # Assert
    logs = "\n".join(line.message for line in ctx.juju_log)
    assert "deleting this unit's port: Neutron is unreachable" in logs
    assert KEYSTONE_PASSWORD not in logs
    assert list(health_ports.ports) == ["octavia/0"]
