"""The charm's own hooks make the health manager's data path on the lab's chassis.

The charm runs under ``ops.testing`` with the identity-service relation of the lab's octavia
user and an ovsdb-subordinate relation naming the lab's chassis: its configure-resources
action makes lb-mgmt-net and the security groups in the lab's Neutron, and its reconcile
makes the unit's health-manager port, bound to the chassis, and plugs it into o-hm0 on the
chassis' real Open vSwitch, where ovn-controller binds it. Neutron then reports the port
ACTIVE, and the rendered octavia.conf binds the health manager to o-hm0's address.

The unit's machine is ``ChassisUnitMachine``: o-hm0's commands (``ovs-vsctl``, ``ip``,
``sysctl``, ``networkctl``) run for real in the chassis' namespace; the packages, services
and Octavia's own programs are ``FakeMachine``'s (a named fake: they would act on this
machine, not a unit's).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from charmed_octavia.cloud import health_ports
from charmed_octavia.unit import ohm0

from tests.integration.plan_helpers import remove_charm_resources
from tests.integration.test_neutron import nb
from tests.integration.test_ohm0 import device, global_addresses
from tests.lab import procs
from tests.lab.charm_inputs import operator_config, provider_data
from tests.lab.chassis import Chassis
from tests.lab.control import Lab
from tests.unit.fake_machine import FakeMachine

pytestmark = pytest.mark.lab

OHM0_PROGRAMS = ("ovs-vsctl", "ip", "sysctl", "networkctl")
UNIT = "octavia/0"


class ChassisUnitMachine(FakeMachine):
    """A fake unit machine (``FakeMachine``) whose o-hm0 commands run on the lab's chassis."""

    def __init__(self, root: Path, chassis: Chassis) -> None:
        super().__init__(root)
        self.chassis = chassis

    def run(self, command: Sequence[str]) -> str:
        if command[0] not in OHM0_PROGRAMS:
            return super().run(command)
        self.calls.append(("run", *command))
        return self.chassis.run(command)

    def service_active(self, name: str) -> bool:
        # No systemd-networkd in the chassis' namespace (no systemd as PID 1 here).
        return False if name == ohm0.NETWORKD else super().service_active(name)


def _states(lab: Lab, chassis: Chassis):
    from ops import testing

    admin = lab.connect(lab.admin_cloud)
    project = admin.get_project("service")
    assert project is not None, "the lab has no service project"
    data = provider_data(lab, project.id, "db-password", "amqp-password")
    apps = {"identity-service": "keystone", "shared-db": "mysql-router"}
    relations = [
        testing.Relation(
            name, remote_app_name=apps.get(name, "rabbitmq-server"), remote_units_data={0: bag}
        )
        for name, bag in data.items()
    ]
    subordinate = testing.SubordinateRelation(
        "ovsdb-subordinate",
        remote_app_name="ovn-chassis",
        remote_unit_data={"chassis-name": f'"{chassis.name}"'},
    )
    return testing.State(
        leader=True,
        config=operator_config(secrets.token_urlsafe(18)),
        relations=[*relations, subordinate, testing.PeerRelation("cluster")],
    )


@pytest.fixture(scope="module")
def unit(lab: Lab, chassis: Chassis, tmp_path_factory) -> Iterator[dict]:
    """install, configure-resources and update-status of the charm on the chassis' unit."""
    import charmhelpers.osplatform
    from ops import testing

    root = tmp_path_factory.mktemp("unit")
    (root / "etc").mkdir()
    (root / "etc" / "os-release").write_text("NAME=Ubuntu\nUBUNTU_CODENAME=jammy\n")
    (root / "etc" / "lsb-release").write_text("DISTRIB_ID=Ubuntu\nDISTRIB_CODENAME=jammy\n")
    machine = ChassisUnitMachine(root, chassis)
    admin = lab.connect(lab.admin_cloud)
    # Neutron binds a port to a host only once it knows that host's OVN controller agent.
    procs.wait_for(
        "Neutron knows the chassis' agent",
        lambda: any(a.is_alive for a in admin.network.agents(host=chassis.name)),
        timeout=60,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(charmhelpers.osplatform, "get_platform", lambda: "ubuntu")
        import charm

        patch.setattr(charm.OctaviaCharm, "workload_factory", lambda: machine)
        ctx = testing.Context(charm.OctaviaCharm)
        try:
            installed = ctx.run(ctx.on.install(), _states(lab, chassis))
            configured = ctx.run(ctx.on.action("configure-resources"), installed)
            machine.calls.clear()
            again = ctx.run(ctx.on.update_status(), configured)
            yield {
                "ctx": ctx,
                "machine": machine,
                "configured": configured,
                "again": again,
                "admin": admin,
            }
        finally:
            remove_charm_resources(admin)


def _conf(machine: FakeMachine, key: str) -> str:
    text = (machine.root / "etc/octavia/octavia.conf").read_text()
    return next(line.split(" = ", 1)[1] for line in text.splitlines() if line.startswith(key))


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
    machine = unit["machine"]
    assert _conf(machine, "bind_ip") == fixed
    assert _conf(machine, "controller_ip_port_list") == f"{fixed}:5555"
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
