"""ops.testing of the API's TLS: Vault's certificates relation as charm-vault writes it, the
ssl_* options, keystone's CA; the site, the trust store, the endpoints, the clients' CA."""

from __future__ import annotations

import dataclasses
import json
import stat
from typing import Any

import pytest
from charmed_octavia.unit import machine as machine_mod
from ops import testing

from tests.certificates import pem_pair
from tests.unit.charm.states import full_state, identity
from tests.unit.charm_data import KEYSTONE_UNIT, b64, vault_issued, vault_unit
from tests.unit.fake_machine import FakeMachine

ADDRESS = "192.0.2.0"  # the unit's address in ops.testing
SITE = machine_mod.APACHE_SITE
CONF = machine_mod.OCTAVIA_CONF
VAULT_CA = f"{machine_mod.CA_STORE_DIR}/octavia-certificates-ca.crt"
VAULT_CHAIN = f"{machine_mod.CA_STORE_DIR}/octavia-certificates-chain.crt"
KEYSTONE_CA = f"{machine_mod.CA_STORE_DIR}/octavia-keystone-ca.crt"
UPDATE = ("run", *machine_mod.UPDATE_CA_CERTIFICATES)


@pytest.fixture(scope="module")
def issued() -> dict[str, str]:
    return vault_issued(ADDRESS)


def read(machine: FakeMachine, path: str) -> str:
    return (machine.root / path.lstrip("/")).read_text()


def exists(machine: FakeMachine, path: str) -> bool:
    return (machine.root / path.lstrip("/")).exists()


def relation(state: testing.State, endpoint: str) -> Any:
    return next(r for r in state.relations if r.endpoint == endpoint)


def certificates(data: dict[str, str] | None = None, **kwargs: Any) -> testing.Relation:
    return testing.Relation(
        "certificates",
        remote_app_name="vault",
        remote_units_data={0: data if data is not None else {"ingress-address": "10.5.0.40"}},
        **kwargs,
    )


def neutron_api() -> testing.Relation:
    return testing.Relation("neutron-api", remote_app_name="neutron-api")


def tls_state(cert_relation: testing.Relation, **kwargs: Any) -> testing.State:
    base = full_state(**kwargs)
    return dataclasses.replace(base, relations=[*base.relations, cert_relation, neutron_api()])


def test_request_as_cert_utils_writes_it_and_wait_for_vault(ctx, machine):
    # Act
    out = ctx.run(ctx.on.install(), tls_state(certificates()))

    # Assert
    sent = relation(out, "certificates").local_unit_data
    assert sent["unit_name"] == "octavia_0"
    assert json.loads(sent["cert_requests"]) == {ADDRESS: {"sans": [ADDRESS]}}
    assert out.unit_status == testing.WaitingStatus("Waiting for the certificate from vault")
    # Until Vault answers, the API is served, and published, as plain http.
    assert "SSLEngine" not in read(machine, SITE)
    urls = relation(out, "identity-service").local_unit_data
    assert urls["public_url"] == f"http://{ADDRESS}:9876"


def test_hostnames_are_the_common_name_and_sans(ctx, machine):
    # Arrange
    config = {"os-public-hostname": "octavia.example.com", "os-admin-hostname": "oct.admin"}

    # Act
    out = ctx.run(ctx.on.install(), tls_state(certificates(), config=config))

    # Assert
    requests = json.loads(relation(out, "certificates").local_unit_data["cert_requests"])
    assert requests == {
        "octavia.example.com": {"sans": [ADDRESS, "oct.admin", "octavia.example.com"]}
    }


def answered_state(issued: dict[str, str], *, legacy: bool = False, **kwargs: Any):
    sent = (
        {"common_name": ADDRESS, "sans": json.dumps([ADDRESS]), "unit_name": "octavia_0"}
        if legacy
        else {}
    )
    rel = certificates(
        vault_unit("octavia/0", ADDRESS, issued, legacy=legacy), local_unit_data=sent
    )
    return tls_state(rel, **kwargs)


@pytest.mark.parametrize("legacy", [False, True], ids=["processed_requests", "server.cert"])
def test_vault_answer_serves_https_trusts_the_ca_and_publishes_https(ctx, machine, issued, legacy):
    # Act
    out = ctx.run(ctx.on.install(), answered_state(issued, legacy=legacy))

    # Assert: served by apache with the certificate (chain after it) and its key.
    assert out.unit_status == testing.ActiveStatus("Unit is ready")
    site = read(machine, SITE)
    assert "SSLEngine on" in site
    assert f"SSLCertificateFile {machine_mod.API_CERT}" in site
    assert f"SSLCertificateKeyFile {machine_mod.API_KEY}" in site
    assert read(machine, machine_mod.API_CERT) == issued["cert"] + issued["chain"]
    assert read(machine, machine_mod.API_KEY) == issued["key"]
    for path, wanted in ((machine_mod.API_CERT, 0o644), (machine_mod.API_KEY, 0o640)):
        mode = stat.S_IMODE((machine.root / path.lstrip("/")).stat().st_mode)
        assert mode == wanted and machine.owners[path] == ("root", "root")
    for link, target in machine_mod.APACHE_SSL_MODULE_LINKS.items():
        assert (machine.root / link.lstrip("/")).readlink().as_posix() == target
    # The CA and its chain in the trust store, the bundle remade once.
    assert read(machine, VAULT_CA) == issued["ca"]
    assert read(machine, VAULT_CHAIN) == issued["chain"]
    assert machine.calls.count(UPDATE) == 1
    # https endpoints.
    urls = relation(out, "identity-service").local_unit_data
    for key in ("public_url", "internal_url", "admin_url"):
        assert urls[key] == f"https://{ADDRESS}:9876"
    base_url = relation(out, "neutron-api").local_unit_data["base_url"]
    assert json.loads(base_url) == f"https://{ADDRESS}:9876"
    # Every client verifies with the system bundle.
    conf = read(machine, CONF)
    bundle = machine_mod.SYSTEM_CA_BUNDLE
    assert conf.count(f"cafile = {bundle}\n") == 3
    assert conf.count(f"ca_certificates_file = {bundle}\n") == 5


def test_second_hook_changes_nothing(ctx, machine, issued):
    # Arrange
    out = ctx.run(ctx.on.install(), answered_state(issued))
    machine.calls.clear()

    # Act
    again = ctx.run(ctx.on.relation_changed(relation(out, "certificates")), out)

    # Assert
    assert machine.mutations() == []
    assert again.unit_status == testing.ActiveStatus("Unit is ready")


def test_renewed_certificate_from_the_same_ca_restarts_apache_alone(ctx, machine, issued):
    # Arrange
    out = ctx.run(ctx.on.install(), answered_state(issued))
    machine.calls.clear()
    renewed = {**vault_issued(ADDRESS), "ca": issued["ca"], "chain": issued["chain"]}
    rel = relation(out, "certificates")
    rel = dataclasses.replace(
        rel, remote_units_data={0: vault_unit("octavia/0", ADDRESS, renewed)}
    )
    others = [r for r in out.relations if r.endpoint != "certificates"]

    # Act
    ctx.run(ctx.on.relation_changed(rel), dataclasses.replace(out, relations=[*others, rel]))

    # Assert
    assert sorted(machine.calls_of("write")) == [
        ("write", machine_mod.API_CERT),
        ("write", machine_mod.API_KEY),
    ]
    assert UPDATE not in machine.calls
    assert machine.calls_of("systemctl") == [("systemctl", "restart", "apache2")]


def test_options_certificate_is_served_without_the_relation(ctx, machine, issued):
    # Arrange
    config = {
        "ssl_cert": b64(issued["cert"]),
        "ssl_key": b64(issued["key"]),
        "ssl_ca": b64(issued["ca"]),
    }

    # Act
    out = ctx.run(ctx.on.config_changed(), full_state(config=config))

    # Assert
    assert out.unit_status == testing.ActiveStatus("Unit is ready")
    assert "SSLEngine on" in read(machine, SITE)
    assert read(machine, f"{machine_mod.CA_STORE_DIR}/octavia-ssl-ca.crt") == issued["ca"]
    urls = relation(out, "identity-service").local_unit_data
    assert urls["public_url"] == f"https://{ADDRESS}:9876"


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"ssl_cert": "c2VydA=="}, "ssl_cert and ssl_key must be set together"),
        ({"ssl_ca": "%%%"}, "ssl_ca is not base64 of PEM"),
        ("mismatch", "ssl_cert and ssl_key: the private key does not match the certificate"),
    ],
)
def test_invalid_ssl_options_block_and_write_nothing(ctx, machine, issued, config, reason):
    # Arrange
    if config == "mismatch":
        config = {"ssl_cert": b64(issued["cert"]), "ssl_key": b64(pem_pair("other")[1])}

    # Act
    out = ctx.run(ctx.on.config_changed(), full_state(config=config))

    # Assert
    assert out.unit_status == testing.BlockedStatus(f"Invalid config: {reason}")
    assert machine.calls_of("write") == [] and UPDATE not in machine.calls
    assert not exists(machine, CONF) and not exists(machine, machine_mod.API_KEY)


def test_invalid_options_after_tls_keep_the_working_files(ctx, machine, issued):
    # Arrange
    out = ctx.run(ctx.on.install(), answered_state(issued))
    machine.calls.clear()

    # Act
    ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={"ssl_key": "a2V5"}))

    # Assert
    assert machine.mutations() == []
    assert read(machine, machine_mod.API_KEY) == issued["key"]


def test_keystone_ca_cert_is_trusted_by_every_client(ctx, machine, issued):
    # Arrange
    keystone = identity({**KEYSTONE_UNIT, "ca_cert": b64(issued["ca"])})
    base = full_state()
    others = [r for r in base.relations if r.endpoint != "identity-service"]
    state = dataclasses.replace(base, relations=[*others, keystone])

    # Act
    out = ctx.run(ctx.on.install(), state)

    # Assert
    assert out.unit_status == testing.ActiveStatus("Unit is ready")
    assert read(machine, KEYSTONE_CA) == issued["ca"]
    assert machine.calls.count(UPDATE) == 1
    assert f"cafile = {machine_mod.SYSTEM_CA_BUNDLE}" in read(machine, CONF)
    # The API itself stays plain http: there is no certificate for it.
    assert "SSLEngine" not in read(machine, SITE)


def test_removing_the_relation_goes_back_to_http_and_untrusts_its_ca(ctx, machine, issued):
    # Arrange
    out = ctx.run(ctx.on.install(), answered_state(issued))
    machine.calls.clear()
    others = [r for r in out.relations if r.endpoint != "certificates"]

    # Act
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, relations=others))

    # Assert
    assert not exists(machine, machine_mod.API_KEY) and not exists(machine, VAULT_CA)
    assert machine.calls.count(UPDATE) == 1
    assert "SSLEngine" not in read(machine, SITE)
    assert "cafile" not in read(machine, CONF)
    urls = relation(out, "identity-service").local_unit_data
    assert urls["public_url"] == f"http://{ADDRESS}:9876"


def test_actions_connections_verify_with_the_system_bundle_when_a_ca_is_installed(
    ctx, machine, connect_calls, issued
):
    # Arrange
    keystone = identity({**KEYSTONE_UNIT, "ca_cert": b64(issued["ca"])})

    # Act
    ctx.run(ctx.on.action("cleanup-test-plan"), testing.State(relations=[keystone]))

    # Assert
    assert [c["verify"] for c in connect_calls] == [machine_mod.SYSTEM_CA_BUNDLE]
