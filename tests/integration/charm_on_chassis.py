"""The charm's unit on the lab's chassis, as the lab suites run it: ``ops.testing`` with the
identity-service relation of the lab's octavia user and an ovsdb-subordinate relation naming
the chassis; install, then configure-resources (lb-mgmt-net and the security groups in the
lab's Neutron, the unit's health-manager port, o-hm0 on the chassis' Open vSwitch).

The unit's machine is ``ChassisUnitMachine``: o-hm0's commands (``ovs-vsctl``, ``ip``,
``sysctl``, ``networkctl``) run for real in the chassis' namespace; the packages, services and
Octavia's own programs are ``FakeMachine``'s (a named fake: they would act on this machine,
not a unit's).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openstack.connection
import pytest
from charmed_octavia.unit import ohm0

from tests.integration.plan_helpers import remove_charm_resources
from tests.lab import procs
from tests.lab.charm_inputs import operator_config, provider_data
from tests.lab.chassis import Chassis
from tests.lab.control import Lab
from tests.unit.fake_machine import FakeMachine

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


@dataclass
class UnitOnChassis:
    ctx: Any  # ops.testing.Context
    machine: ChassisUnitMachine
    configured: Any  # the ops.testing.State after configure-resources
    admin: openstack.connection.Connection

    def conf(self, key: str) -> str:
        """A value of the octavia.conf the charm rendered (the first line setting ``key``)."""
        text = (self.machine.root / "etc/octavia/octavia.conf").read_text()
        return next(line.split(" = ", 1)[1] for line in text.splitlines() if line.startswith(key))

    @property
    def octavia_conf(self) -> str:
        return (self.machine.root / "etc/octavia/octavia.conf").read_text()


def states(lab: Lab, chassis: Chassis):
    """The leader's state before install: the lab's relations, the chassis' subordinate."""
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


def _unit_root(root: Path) -> Path:
    (root / "etc").mkdir()
    (root / "etc" / "os-release").write_text("NAME=Ubuntu\nUBUNTU_CODENAME=jammy\n")
    (root / "etc" / "lsb-release").write_text("DISTRIB_ID=Ubuntu\nDISTRIB_CODENAME=jammy\n")
    return root


@contextlib.contextmanager
def charm_unit(lab: Lab, chassis: Chassis, root: Path) -> Iterator[UnitOnChassis]:
    """install and configure-resources of the charm's leader on the chassis (``root``: its
    files); on the way out, what configure-resources and the unit made in Neutron is removed."""
    import charmhelpers.osplatform
    from ops import testing

    machine = ChassisUnitMachine(_unit_root(root), chassis)
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
            installed = ctx.run(ctx.on.install(), states(lab, chassis))
            configured = ctx.run(ctx.on.action("configure-resources"), installed)
            yield UnitOnChassis(ctx, machine, configured, admin)
        finally:
            remove_charm_resources(admin)
