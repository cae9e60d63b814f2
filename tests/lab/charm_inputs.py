"""What the charm is given and what it does with it, for the lab: the accounts and unit
databags the provider charms (keystone, mysql-innodb-cluster with mysql-router, rabbitmq-server)
make for an Octavia unit, pointing at a lab; the options an operator sets; and the charm's
install hook and configure-resources action run under ``ops.testing`` on a ``FakeMachine``,
with the files it wrote.
"""

from __future__ import annotations

import base64
import dataclasses
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
    data = {"identity-service": identity, "shared-db": database, "amqp": amqp}
    if lab.ca_file is not None:
        # Keystone behind TLS sends its CA (base64 PEM) and https; vault has not answered yet.
        ca = base64.b64encode(lab.ca_file.read_bytes()).decode()
        identity |= {"ca_cert": ca} | {
            f"{side}_protocol": "https" for side in ("service", "auth", "internal")
        }
        data["certificates"] = dict(address)
    return data


def lab_vault(lab: Lab, unit_name: str, request: Mapping[str, str]) -> Databag:
    """The vault unit's databag once it answered ``request`` (the charm's databag on
    ``certificates``): a certificate for its common name and SANs from the TLS lab's CA,
    written as charm-vault writes it (``tests.unit.charm_data.vault_unit``)."""
    import json

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from tests.certificates import CertKey, signed_by
    from tests.unit.charm_data import vault_unit

    if lab.tls is None:
        raise ValueError("only the TLS lab has a CA to answer with")
    ca = CertKey(
        x509.load_pem_x509_certificate(lab.tls.ca_file.read_bytes()),
        serialization.load_pem_private_key(lab.tls.ca_key_file.read_bytes(), None),  # type: ignore[arg-type]
    )
    ((cn, wanted),) = json.loads(request["cert_requests"]).items()
    server = signed_by(
        ca, cn, days=30, backdate=datetime.timedelta(minutes=5), server_names=wanted["sans"]
    )
    issued = {"ca": ca.cert_pem, "chain": "", "cert": server.cert_pem, "key": server.key_pem()}
    return vault_unit(unit_name, cn, issued) | {
        "egress-subnets": "127.0.0.1/32",
        "ingress-address": "127.0.0.1",
        "private-address": "127.0.0.1",
    }


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


def unit_bundle(root: Path) -> Path:
    """STAND-IN for update-ca-certificates on the unit rooted at ``root``: its system bundle,
    this machine's with the CA files the charm wrote appended."""
    from charmed_octavia.unit.machine import CA_STORE_DIR, SYSTEM_CA_BUNDLE

    bundle = root / SYSTEM_CA_BUNDLE.lstrip("/")
    bundle.parent.mkdir(parents=True, exist_ok=True)
    added = sorted((root / CA_STORE_DIR.lstrip("/")).glob("*.crt"))
    bundle.write_text(Path(SYSTEM_CA_BUNDLE).read_text() + "".join(p.read_text() for p in added))
    return bundle


def loopback_networks() -> set:
    """Every endpoint and extra binding of the charm on 127.0.0.1: the addresses it puts in
    its certificate request and endpoints are those the lab's clients reach it at."""
    import yaml
    from ops import testing

    meta = yaml.safe_load((Path(__file__).resolve().parents[2] / "metadata.yaml").read_text())
    # ops.testing binds no container-scoped (subordinate) endpoint.
    names = [
        *meta.get("extra-bindings", {}),
        *(
            name
            for kind in ("requires", "provides", "peers")
            for name, spec in meta.get(kind, {}).items()
            if (spec or {}).get("scope") != "container"
        ),
    ]
    address = testing.BindAddress(
        [testing.Address("127.0.0.1", cidr="127.0.0.0/8")], interface_name="lo"
    )
    return {
        testing.Network(
            name,
            bind_addresses=[address],
            ingress_addresses=["127.0.0.1"],
            egress_subnets=["127.0.0.1/32"],
        )
        for name in names
    }


# Each provider's application name, as the bundles name them.
APPS = {
    "identity-service": "keystone",
    "shared-db": "mysql-router",
    "amqp": "rabbitmq-server",
    "certificates": "vault",
}


def render_with_charm(
    root: Path, data: Mapping[str, Databag], config: Databag, lab: Lab | None = None
) -> Rendered:
    """Run the charm's install hook under ``ops.testing`` (leader, the relations with one
    remote unit each holding ``data[relation]``, the peer relation, every binding on
    127.0.0.1) on a ``FakeMachine`` rooted at ``root`` (an Ubuntu jammy unit); with a
    ``certificates`` relation, the TLS ``lab``'s vault (``lab_vault``) answers the request the
    charm made and certificates-relation-changed runs; then the configure-resources action,
    which makes the amphorae's network, security groups, flavor and keypair in the lab's
    Neutron and Nova with the service credentials. Collect what it wrote and ran."""
    import charmhelpers.osplatform
    import pytest

    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text("NAME=Ubuntu\nUBUNTU_CODENAME=jammy\n")
    (root / "etc" / "lsb-release").write_text("DISTRIB_ID=Ubuntu\nDISTRIB_CODENAME=jammy\n")
    with pytest.MonkeyPatch.context() as patch:
        # As tests/conftest.py: charmhelpers raises at import on Debian; the unit is Ubuntu.
        patch.setattr(charmhelpers.osplatform, "get_platform", lambda: "ubuntu")
        from charmed_octavia.unit import machine as machine_mod
        from charmed_octavia.unit.machine import UPDATE_CA_CERTIFICATES
        from ops import testing

        import charm
        from tests.unit.fake_machine import FakeMachine

        machine = FakeMachine(root)
        patch.setattr(charm.OctaviaCharm, "workload_factory", lambda: machine)
        ctx = testing.Context(charm.OctaviaCharm)
        relations = [
            testing.Relation(name, remote_app_name=APPS[name], remote_units_data={0: databag})
            for name, databag in data.items()
        ]
        state = testing.State(
            leader=True,
            config=config,
            relations=[*relations, testing.PeerRelation("cluster")],
            networks=loopback_networks(),
        )
        installed = ctx.run(ctx.on.install(), state)
        certificates = [r for r in installed.relations if r.endpoint == "certificates"]
        if certificates:
            if lab is None:
                raise ValueError("a certificates relation needs the TLS lab to answer it")
            (asked,) = certificates
            answered = dataclasses.replace(
                asked,
                remote_units_data={
                    0: lab_vault(lab, "octavia/0", dict(asked.local_unit_data)),
                },
            )
            installed = ctx.run(
                ctx.on.relation_changed(answered, remote_unit=0),
                dataclasses.replace(
                    installed,
                    relations=[*(r for r in installed.relations if r is not asked), answered],
                ),
            )
        if any(c[1:] == UPDATE_CA_CERTIFICATES for c in machine.calls_of("run")):
            # The action runs in this process, where the unit's system bundle is not: it
            # reads one made as update-ca-certificates makes it (this machine's CAs and the
            # files the charm wrote). The unit's services get the real command's.
            patch.setattr(machine_mod, "SYSTEM_CA_BUNDLE", str(unit_bundle(root)))
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
