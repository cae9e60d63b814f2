"""What the charm is given and what it does with it, for the lab: the accounts and unit
databags the provider charms (keystone, mysql-innodb-cluster with mysql-router, rabbitmq-server)
make for an Octavia unit, pointing at a lab; the options an operator sets; and the charm's
install hook and configure-resources action run under ``ops.testing`` on a ``FakeMachine``,
with the files it wrote.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab.charm_unit import UnitFile
from tests.lab.control import Lab

Databag = dict[str, str]


@dataclass
class Rendered:
    """What the charm did on its (fake) machine in one hook."""

    status: str
    files: dict[str, UnitFile]
    links: dict[str, str]
    commands: list[list[str]]
    # The status after install, before configure-resources; that action's results.
    installed: str = ""
    resources: dict[str, str] = field(default_factory=dict)


# -- the providers' side ---------------------------------------------------------------------


def create_accounts(lab: Lab, db_password: str, amqp_password: str) -> None:
    """The database user and the broker user, as mysql-innodb-cluster and rabbitmq-server
    create them for the shared-db and amqp requests."""
    lab.database_admin(
        f"CREATE USER 'octavia'@'127.0.0.1' IDENTIFIED BY '{db_password}';"
        "GRANT ALL PRIVILEGES ON octavia.* TO 'octavia'@'127.0.0.1';"
    )
    lab.broker_admin("add_vhost", "openstack")
    lab.broker_admin("add_user", "octavia", input=amqp_password + "\n")
    lab.broker_admin("set_permissions", "-p", "openstack", "octavia", ".*", ".*", ".*")


def provider_data(
    lab: Lab, project_id: str, db_password: str, amqp_password: str
) -> dict[str, Databag]:
    """The keystone, mysql-router and rabbitmq-server units' databags, pointing at the lab."""
    keystone = str(lab.ports["keystone"])
    address = {
        "private-address": "127.0.0.1",
        "ingress-address": "127.0.0.1",
        "egress-subnets": "127.0.0.1/32",
    }
    identity = {
        **address,
        "api_version": "3",
        "ca_cert": "__null__",
        "region": "RegionOne",
        "service_type": "load-balancer",
        **{f"{side}_host": "127.0.0.1" for side in ("service", "auth", "internal")},
        **{f"{side}_port": keystone for side in ("service", "auth", "internal")},
        **{f"{side}_protocol": "http" for side in ("service", "auth", "internal")},
        # The user, password and project the lab made for octavia (in the default domain).
        "service_domain": "Default",
        "service_domain_id": "default",
        "service_tenant": "service",
        "service_tenant_id": project_id,
        "service_username": "octavia",
        "service_password": lab.passwords["octavia"],
    }
    database = {
        **address,
        "allowed_units": "octavia/0",
        "db_host": "127.0.0.1",
        "db_port": str(lab.ports["mysql"]),
        "password": db_password,
        "wait_timeout": "3600",
    }
    amqp = {**address, "hostname": "127.0.0.1", "password": amqp_password}
    return {"identity-service": identity, "shared-db": database, "amqp": amqp}


def operator_config(issuing_passphrase: str) -> dict[str, str]:
    """The charm's options as an operator sets them: the amphora CA material (the worker signs
    amphora certificates even with the noop drivers), base64 PEM."""
    from tests.certificates import lb_mgmt_options

    # Valid from five minutes back: the worker's and the amphora's clocks may differ; for
    # longer than the charm's expiry warning, so that the unit is plainly ready.
    return lb_mgmt_options(issuing_passphrase, days=60, backdate=datetime.timedelta(minutes=5))


# -- the charm -------------------------------------------------------------------------------

# The keypair configure-resources uploads for the octavia user (amp-ssh-key-name).
KEYPAIR = "charm-lab-amphora"


def amphora_config(public_key: str) -> Databag:
    """The options for the amphorae's cloud resources: the keypair's name and public key."""
    return {"amp-ssh-key-name": KEYPAIR, "amp-ssh-pub-key": public_key}


def render_with_charm(root: Path, data: Mapping[str, Databag], config: Databag) -> Rendered:
    """Run the charm's install hook under ``ops.testing`` (leader, the three relations with
    one remote unit each holding ``data[relation]``, the peer relation) on a ``FakeMachine``
    rooted at ``root`` (an Ubuntu jammy unit), then its configure-resources action, which
    makes the amphorae's network, security groups, flavor and keypair in the lab's Neutron
    and Nova with the service credentials; and collect what it wrote and ran."""
    import charmhelpers.osplatform
    import pytest

    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text("NAME=Ubuntu\nUBUNTU_CODENAME=jammy\n")
    (root / "etc" / "lsb-release").write_text("DISTRIB_ID=Ubuntu\nDISTRIB_CODENAME=jammy\n")
    with pytest.MonkeyPatch.context() as patch:
        # As tests/conftest.py: charmhelpers raises at import on Debian; the unit is Ubuntu.
        patch.setattr(charmhelpers.osplatform, "get_platform", lambda: "ubuntu")
        from ops import testing

        import charm
        from tests.unit.fake_machine import FakeMachine

        machine = FakeMachine(root)
        patch.setattr(charm.OctaviaCharm, "workload_factory", lambda: machine)
        ctx = testing.Context(charm.OctaviaCharm)
        apps = {"identity-service": "keystone", "shared-db": "mysql-router"}
        relations = [
            testing.Relation(
                name,
                remote_app_name=apps.get(name, "rabbitmq-server"),
                remote_units_data={0: databag},
            )
            for name, databag in data.items()
        ]
        state = testing.State(
            leader=True, config=config, relations=[*relations, testing.PeerRelation("cluster")]
        )
        installed = ctx.run(ctx.on.install(), state)
        out = ctx.run(ctx.on.action("configure-resources"), installed)
        results = dict(ctx.action_results or {})
    files = {}
    for path, (owner, group) in machine.owners.items():
        written = root / path.lstrip("/")
        mode = written.stat().st_mode & 0o7777
        files[path] = UnitFile(written.read_bytes(), mode, owner, group)
    return Rendered(
        status=f"{out.unit_status.name}: {out.unit_status.message}",
        files=files,
        links={c[1]: c[2] for c in machine.calls_of("symlink")},
        commands=[list(c[1:]) for c in machine.calls_of("run")],
        installed=f"{installed.unit_status.name}: {installed.unit_status.message}",
        resources=results,
    )
