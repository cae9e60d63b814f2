"""ops.testing of configure-resources, the amphora readiness states, the neutron-api relation
and the migration from the existing charm's leader settings.

The cloud side of configure-resources is replaced by ``FakeResourceLibrary`` (no cloud in an
ops.testing run; the same library runs against a lab with Neutron in
``tests/integration/test_configure_resources.py``), and Juju's ``leader-get`` hook tool by
``FakeLeaderSettings``.
"""

from __future__ import annotations

import json

import leader_settings
import pytest
from charmed_octavia.cloud import mgmt_resources
from charmed_octavia.cloud.outcomes import ConflictError, Ensured
from ops import testing

import charm
from tests.unit.charm.states import (
    AMPHORA_RESOURCES,
    amqp,
    bare_peer,
    full_state,
    identity,
    pki_secret,
    pki_shared,
    shared_db,
)
from tests.unit.fake_machine import FakeMachine

CONF = "etc/octavia/octavia.conf"
NET, SG, HSG, FLAVOR = (
    "11111111-aaaa-4bbb-8ccc-000000000001",
    "22222222-aaaa-4bbb-8ccc-000000000002",
    "33333333-aaaa-4bbb-8ccc-000000000003",
    "44444444-aaaa-4bbb-8ccc-000000000004",
)
PUB_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyMaterialForTheUnitTests0000000 op@host"


class FakeResourceLibrary:
    """A fake of ``mgmt_resources.configure`` (no cloud in an ops.testing run): records each
    call's spec; creates on the first call and reuses after, or raises ``error``."""

    def __init__(self) -> None:
        self.specs: list[mgmt_resources.ResourcesSpec] = []
        self.error: Exception | None = None

    def configure(self, conn, spec: mgmt_resources.ResourcesSpec) -> mgmt_resources.Configured:
        self.specs.append(spec)
        if self.error is not None:
            raise self.error
        action = "created" if len(self.specs) == 1 else "reused"
        ensured = [
            Ensured("network", NET, "lb-mgmt-net", action),
            Ensured("subnet-ipv6", "sub6", "lb-mgmt-subnetv6", action),
            Ensured("router", "rtr", "lb-mgmt", action),
            Ensured("secgroup-mgmt", SG, "lb-mgmt-sec-grp", action),
            Ensured("secgroup-health", HSG, "lb-health-mgr-sec-grp", action),
            Ensured("nova-flavor", FLAVOR, "charm-octavia", action),
            Ensured("quotas", "p1", "service project", action),
        ]
        keypair = ""
        if spec.keypair_name and spec.public_key:
            ensured.append(Ensured("keypair", spec.keypair_name, spec.keypair_name, action))
            keypair = spec.keypair_name
        return mgmt_resources.Configured(ensured, NET, SG, HSG, FLAVOR, keypair)


class FakeLeaderSettings:
    """A fake of Juju's ``leader-get`` (no Juju in an ops.testing run): the settings given,
    and how often they were read."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.settings = settings or {}
        self.reads = 0

    def leader_get(self) -> dict[str, str]:
        self.reads += 1
        return dict(self.settings)


@pytest.fixture
def cloud(monkeypatch) -> FakeResourceLibrary:
    fake = FakeResourceLibrary()
    monkeypatch.setattr(mgmt_resources, "configure", fake.configure)
    monkeypatch.setattr(charm.OctaviaCharm, "connect", lambda self, config: "connection")
    return fake


@pytest.fixture
def settings(monkeypatch) -> FakeLeaderSettings:
    fake = FakeLeaderSettings()
    monkeypatch.setattr(leader_settings, "leader_get", fake.leader_get)
    return fake


def before_resources(**kwargs) -> testing.State:
    return full_state(relations=[identity(), shared_db(), amqp(), bare_peer()], **kwargs)


def peer_data(state: testing.State) -> dict[str, str]:
    rel = next(r for r in state.relations if r.endpoint == "cluster")
    return dict(rel.local_app_data)  # type: ignore[union-attr]


def conf(machine: FakeMachine) -> str:
    return (machine.root / CONF).read_text()


# -- readiness -------------------------------------------------------------------------------


def test_without_resources_the_unit_waits_for_configure_resources(ctx, machine, settings):
    # Act
    out = ctx.run(ctx.on.install(), before_resources())

    # Assert
    assert out.unit_status == testing.WaitingStatus("Run the configure-resources action")
    assert "amp_boot_network_list" not in conf(machine)
    assert out.workload_version == machine.candidate_version


def test_without_create_mgmt_network_the_unit_blocks_for_the_operators_resources(
    ctx, machine, settings
):
    # Act
    out = ctx.run(ctx.on.install(), before_resources(config={"create-mgmt-network": False}))

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        "Create the lb-mgmt network and security groups, then run configure-resources"
    )


def test_amphora_provider_off_needs_no_resources(ctx, machine, settings):
    # Act
    out = ctx.run(ctx.on.install(), before_resources(config={"enable-amphora": False}))

    # Assert
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "Keypair 'amp-key' (amp-ssh-key-name) is missing: set amp-ssh-pub-key"),
        (
            {"amp-ssh-pub-key": PUB_KEY},
            "Keypair 'amp-key' (amp-ssh-key-name) is missing: run configure-resources",
        ),
    ],
)
def test_missing_keypair_blocks_and_is_not_written(ctx, machine, settings, config, message):
    # Act
    out = ctx.run(ctx.on.install(), full_state(config={"amp-ssh-key-name": "amp-key", **config}))

    # Assert
    assert out.unit_status == testing.BlockedStatus(message)
    assert "amp_ssh_key_name" not in conf(machine)


def test_found_keypair_is_written_and_the_unit_is_ready(ctx, machine, settings):
    # Arrange
    peer = bare_peer(**AMPHORA_RESOURCES, **{"amp-ssh-keypair": "amp-key"})
    state = full_state(
        relations=[identity(), shared_db(), amqp(), peer], config={"amp-ssh-key-name": "amp-key"}
    )

    # Act
    out = ctx.run(ctx.on.install(), state)

    # Assert
    assert out.unit_status == testing.ActiveStatus("Unit is ready")
    text = conf(machine)
    assert "amp_ssh_key_name = amp-key" in text
    assert f"amp_flavor_id = {AMPHORA_RESOURCES['amp-flavor-id']}" in text
    assert f"amp_secgroup_list = {AMPHORA_RESOURCES['amp-secgroup-list']}" in text


def test_custom_amp_flavor_id_wins_over_the_shared_flavor(ctx, machine, settings):
    # Act
    ctx.run(ctx.on.install(), full_state(config={"custom-amp-flavor-id": "my-flavor"}))

    # Assert
    assert "amp_flavor_id = my-flavor" in conf(machine)


# -- configure-resources ---------------------------------------------------------------------


def test_configure_resources_on_a_non_leader_fails_and_changes_nothing(
    ctx, machine, settings, cloud
):
    # Arrange
    state = before_resources(leader=False)

    # Act
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action("configure-resources"), state)

    # Assert
    assert "runs on the leader" in failed.value.message
    assert cloud.specs == []


def test_configure_resources_shares_the_ids_renders_them_and_lists_what_it_made(
    ctx, machine, settings, cloud
):
    # Arrange
    out = ctx.run(ctx.on.install(), before_resources())
    machine.calls.clear()

    # Act
    out = ctx.run(ctx.on.action("configure-resources"), out)

    # Assert
    shared = peer_data(out)
    assert (shared["amp-boot-network-list"], shared["amp-secgroup-list"]) == (NET, SG)
    assert (shared["amp-health-secgroup"], shared["amp-flavor-id"]) == (HSG, FLAVOR)
    text = conf(machine)
    assert f"amp_boot_network_list = {NET}" in text
    assert f"amp_secgroup_list = {SG}" in text
    assert f"amp_flavor_id = {FLAVOR}" in text
    assert ("systemctl", "restart", "octavia-worker") in machine.calls
    results = ctx.action_results or {}
    assert results["network"] == f"created {NET} lb-mgmt-net"
    assert results["secgroup-health"] == f"created {HSG} lb-health-mgr-sec-grp"
    assert results["quotas"] == "set p1 service project"
    assert (results["created"], results["reused"]) == ("6", "0")
    assert out.unit_status == testing.ActiveStatus("Unit is ready")
    (spec,) = cloud.specs
    assert spec.network.create and spec.network.ipv4_cidr == ""
    assert spec.custom_flavor_id == "" and spec.keypair_name == ""


def test_configure_resources_again_reuses_and_rewrites_nothing(ctx, machine, settings, cloud):
    # Arrange
    out = ctx.run(ctx.on.install(), before_resources())
    out = ctx.run(ctx.on.action("configure-resources"), out)
    machine.calls.clear()

    # Act
    again = ctx.run(ctx.on.action("configure-resources"), out)

    # Assert
    assert machine.mutations() == []
    assert peer_data(again) == peer_data(out)
    results = ctx.action_results or {}
    assert (results["created"], results["reused"]) == ("0", "7")


def test_configure_resources_passes_the_options_and_records_the_keypair(
    ctx, machine, settings, cloud
):
    # Arrange
    import base64

    config = {
        "amp-ssh-key-name": "amp-key",
        "amp-ssh-pub-key": base64.b64encode(PUB_KEY.encode()).decode(),
        "custom-amp-flavor-id": "my-flavor",
        "create-mgmt-network": False,
        "mgmt-network-ipv4-cidr": "172.31.0.0/22",
    }
    out = ctx.run(ctx.on.install(), before_resources(config=config))

    # Act
    out = ctx.run(ctx.on.action("configure-resources"), out)

    # Assert
    (spec,) = cloud.specs
    assert (spec.network.create, spec.network.ipv4_cidr) == (False, "172.31.0.0/22")
    assert (spec.custom_flavor_id, spec.keypair_name, spec.public_key) == (
        "my-flavor",
        "amp-key",
        PUB_KEY,
    )
    assert peer_data(out)["amp-ssh-keypair"] == "amp-key"
    assert (ctx.action_results or {})["keypair-key"] == "amp-ssh-pub-key"
    assert "amp_ssh_key_name = amp-key" in conf(machine)
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


def test_a_keypair_named_without_a_public_key_gets_the_units_own_amphora_key(
    ctx, machine, settings, cloud
):
    # Arrange
    from charmed_octavia.amphora import ssh

    out = ctx.run(ctx.on.install(), before_resources(config={"amp-ssh-key-name": "amp-key"}))

    # Act
    out = ctx.run(ctx.on.action("configure-resources"), out)

    # Assert
    _, unit_key = ssh.ensure_keypair(machine.root / "var/lib/charm-octavia/ssh")
    (spec,) = cloud.specs
    assert (spec.keypair_name, spec.public_key) == ("amp-key", unit_key)
    results = ctx.action_results or {}
    assert results["keypair-key"] == "this unit's amphora key"
    assert "amp_ssh_key_name = amp-key" in conf(machine)
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


def test_configure_resources_conflict_fails_and_shares_nothing(ctx, machine, settings, cloud):
    # Arrange
    out = ctx.run(ctx.on.install(), before_resources())
    cloud.error = ConflictError("network", "lb-mgmt-net", ["it has no tag charm-octavia"])
    before = peer_data(out)

    # Act
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action("configure-resources"), out)

    # Assert
    assert failed.value.message == (
        "configure-resources: network 'lb-mgmt-net' already exists and differs: "
        "it has no tag charm-octavia"
    )
    assert peer_data(out) == before


def test_configure_resources_other_units_render_the_shared_ids(ctx, machine, settings):
    # Arrange: what the leader shared (resources and its amphora PKI), arriving on a follower.
    secret = pki_secret()
    shared = {
        **AMPHORA_RESOURCES,
        "heartbeat-key": "k" * 32,
        "server-certs-key-passphrase": "p" * 32,
        "db-synced-version": "2:14.0.0-0ubuntu1",
        **pki_shared(secret),
    }
    peer = bare_peer(**shared)
    state = full_state(
        leader=False, relations=[identity(), shared_db(), amqp(), peer], secrets=[secret]
    )

    # Act
    out = ctx.run(ctx.on.relation_changed(peer, remote_unit=1), state)

    # Assert
    assert out.unit_status == testing.ActiveStatus("Unit is ready")
    assert f"amp_boot_network_list = {AMPHORA_RESOURCES['amp-boot-network-list']}" in conf(machine)


# -- neutron-api -----------------------------------------------------------------------------


def test_neutron_api_gets_the_name_and_internal_url_json_encoded(ctx, machine, settings):
    # Arrange
    neutron = testing.Relation(
        "neutron-api",
        remote_app_name="neutron-api",
        remote_units_data={0: {"neutron-api-ready": "True"}},
    )
    state = full_state(
        relations=[*full_state().relations, neutron],
        config={"os-internal-hostname": "octavia.internal"},
    )

    # Act
    out = ctx.run(ctx.on.relation_changed(neutron, remote_unit=0), state)

    # Assert
    data = next(r for r in out.relations if r.endpoint == "neutron-api").local_unit_data
    assert json.loads(data["name"]) == "octavia"
    assert json.loads(data["base_url"]) == "http://octavia.internal:9876"


# -- migration from the existing charm -------------------------------------------------------

# The existing charm's leader settings, in its formats: a uuid4 heartbeat key, one network and
# one security group id, a flavor id, and a JSON list of the health managers' addresses.
EXISTING_SETTINGS = {
    "heartbeat-key": "0b7c1a52-6f1e-4f4e-9d55-3a5cfb6c7a11",
    "amp-boot-network-list": "aaaaaaaa-1111-4222-8333-444444444444",
    "amp-secgroup-list": "bbbbbbbb-1111-4222-8333-444444444444",
    "amp-flavor-id": "cccccccc-1111-4222-8333-444444444444",
    "controller-ip-port-list": '["fc00:1234:5678:9abc::10", "fc00:1234:5678:9abc::11"]',
}


def test_first_hook_after_the_switch_keeps_the_heartbeat_key_and_adopts_the_ids(
    ctx, machine, settings
):
    # Arrange: a key this charm generated already is replaced: the amphorae sign with the old.
    settings.settings = dict(EXISTING_SETTINGS)
    peer = bare_peer(**{"heartbeat-key": "generated-by-this-charm-0000000"})
    state = full_state(relations=[identity(), shared_db(), amqp(), peer])

    # Act
    out = ctx.run(ctx.on.upgrade_charm(), state)

    # Assert
    shared = peer_data(out)
    for key, value in EXISTING_SETTINGS.items():
        assert shared[key] == value
    text = conf(machine)
    assert f"heartbeat_key = {EXISTING_SETTINGS['heartbeat-key']}" in text
    assert f"amp_boot_network_list = {EXISTING_SETTINGS['amp-boot-network-list']}" in text
    assert f"amp_flavor_id = {EXISTING_SETTINGS['amp-flavor-id']}" in text
    assert out.unit_status == testing.ActiveStatus("Unit is ready")
    logs = "\n".join(line.message for line in ctx.juju_log)
    assert "amp-boot-network-list=aaaaaaaa-1111-4222-8333-444444444444" in logs
    assert EXISTING_SETTINGS["heartbeat-key"] not in logs


def test_migration_runs_once_and_keeps_ids_configure_resources_shared(ctx, machine, settings):
    # Arrange
    settings.settings = dict(EXISTING_SETTINGS)
    out = ctx.run(ctx.on.upgrade_charm(), full_state())

    # Act
    again = ctx.run(ctx.on.config_changed(), out)

    # Assert
    assert settings.reads == 1
    shared = peer_data(again)
    # configure-resources had shared its own ids: those stay.
    assert shared["amp-boot-network-list"] == AMPHORA_RESOURCES["amp-boot-network-list"]
    assert shared["heartbeat-key"] == EXISTING_SETTINGS["heartbeat-key"]


def test_a_malformed_health_manager_list_is_not_migrated(ctx, machine, settings):
    # Arrange
    settings.settings = {**EXISTING_SETTINGS, "controller-ip-port-list": "not json"}

    # Act
    out = ctx.run(ctx.on.upgrade_charm(), before_resources())

    # Assert
    assert "controller-ip-port-list" not in peer_data(out)


def test_a_fresh_deployment_generates_its_heartbeat_key(ctx, machine, settings):
    # Act
    out = ctx.run(ctx.on.install(), before_resources())

    # Assert
    shared = peer_data(out)
    assert len(shared["heartbeat-key"]) == 32
    assert shared["migrated-from-leader-settings"] == "true"
