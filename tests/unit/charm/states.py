"""ops.testing states of a related unit, and the fake machine they run on (shared by suites)."""

from __future__ import annotations

from pathlib import Path

from ops import testing

from tests.unit.charm_data import KEYSTONE_UNIT, MYSQL_ROUTER_UNIT, rabbit_unit
from tests.unit.fake_machine import FakeMachine
from tests.unit.fake_ohm0 import FakeOhm0Machine


def jammy_machine(root: Path, kind: type[FakeMachine] = FakeOhm0Machine) -> FakeMachine:
    """A fake Ubuntu 22.04 unit machine (of ``kind``) under ``root``; by default one whose
    Open vSwitch has br-int (``FakeOhm0Machine``), as ovn-chassis leaves it."""
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc" / "os-release").write_text(
        'NAME="Ubuntu"\nVERSION_CODENAME=jammy\nUBUNTU_CODENAME=jammy\n'
    )
    # charmhelpers reads the series from lsb-release.
    (root / "etc" / "lsb-release").write_text("DISTRIB_ID=Ubuntu\nDISTRIB_CODENAME=jammy\n")
    return kind(root)


def identity(data=None) -> testing.Relation:
    return testing.Relation(
        "identity-service",
        remote_app_name="keystone",
        remote_units_data={0: KEYSTONE_UNIT if data is None else data},
    )


def shared_db(data=None) -> testing.Relation:
    return testing.Relation(
        "shared-db",
        remote_app_name="mysql-router",
        remote_units_data={0: MYSQL_ROUTER_UNIT if data is None else data},
    )


def amqp(*addresses: str) -> testing.Relation:
    addresses = addresses or ("10.5.0.20", "10.5.0.21")
    return testing.Relation(
        "amqp",
        remote_app_name="rabbitmq-server",
        remote_units_data={i: rabbit_unit(a) for i, a in enumerate(addresses)},
    )


# What configure-resources shares once it has run (ids as Neutron and Nova make them).
AMPHORA_RESOURCES = {
    "amp-boot-network-list": "3e4d1c2b-aaaa-4bbb-8ccc-00000000000a",
    "amp-secgroup-list": "5f6e7d8c-aaaa-4bbb-8ccc-00000000000b",
    "amp-health-secgroup": "5f6e7d8c-aaaa-4bbb-8ccc-00000000000c",
    "amp-flavor-id": "0b1c2d3e-aaaa-4bbb-8ccc-00000000000d",
}


def peer(**app_data: str) -> testing.PeerRelation:
    """The peer relation once configure-resources has run."""
    return bare_peer(**AMPHORA_RESOURCES, **app_data)


def bare_peer(**app_data: str) -> testing.PeerRelation:
    """The peer relation before configure-resources."""
    return testing.PeerRelation("cluster", local_app_data=app_data, peers_data={1: {}})


SUBORDINATES = ("ovsdb-subordinate", "neutron-openvswitch")


def subordinate(endpoint: str, data: dict[str, str]) -> testing.SubordinateRelation:
    """neutron-openvswitch or ovn-chassis (``ovsdb-subordinate``) on this unit's machine."""
    app = "neutron-openvswitch" if endpoint == "neutron-openvswitch" else "ovn-chassis"
    return testing.SubordinateRelation(endpoint, remote_app_name=app, remote_unit_data=data)


def chassis(name: str = "node0.maas") -> testing.SubordinateRelation:
    """ovn-chassis on this unit's machine, which names the chassis the health-manager port is
    bound to (charms.reactive publishes it JSON-encoded)."""
    return subordinate("ovsdb-subordinate", {"chassis-name": f'"{name}"'})


def full_state(*, chassis_related: bool = True, **kwargs) -> testing.State:
    """The leader with every relation complete: ovn-chassis' among them, unless
    ``chassis_related`` is false or ``relations`` names a subordinate already."""
    kwargs.setdefault("leader", True)
    relations = list(kwargs.pop("relations", [identity(), shared_db(), amqp(), peer()]))
    if chassis_related and not any(r.endpoint in SUBORDINATES for r in relations):
        relations.append(chassis())
    return testing.State(relations=relations, **kwargs)


_GENERATED: dict[str, str] = {}


def generated_pki() -> dict[str, str]:
    """One PKI made by the charm's own generator, shared by the tests (RSA 4096 is slow)."""
    from charmed_octavia.unit import amphora_pki

    if not _GENERATED:
        _GENERATED.update(amphora_pki.generate())
    return dict(_GENERATED)


def pki_secret(content: dict[str, str] | None = None) -> testing.Secret:
    """The leader's amphora PKI secret, as the application owns it."""
    return testing.Secret(
        tracked_content=content or generated_pki(), owner="app", label="amphora-pki"
    )


def pki_shared(secret: testing.Secret) -> dict[str, str]:
    """The peer application data that names ``secret`` (what the leader writes)."""
    import amphora_certs

    return {
        amphora_certs.SECRET_ID: secret.id,
        amphora_certs.CONTROLLER_SERIAL: amphora_certs.controller_serial(
            dict(secret.tracked_content)
        ),
    }
