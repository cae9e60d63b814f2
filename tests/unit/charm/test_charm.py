"""ops.testing of the charm: events in, published data, files, services and status out."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path
from typing import Any

import pytest
from charmed_octavia.unit import machine as machine_mod
from ops import testing

import charm
from tests.unit.charm.states import (
    amqp,
    full_state,
    identity,
    peer,
    pki_secret,
    pki_shared,
    shared_db,
)
from tests.unit.charm_data import (
    DB_PASSWORD,
    KEYSTONE_PASSWORD,
    KEYSTONE_UNIT,
    MYSQL_ROUTER_UNIT,
    RABBIT_PASSWORD,
    tls_options,
)
from tests.unit.fake_machine import FakeMachine

CONF = "/etc/octavia/octavia.conf"
SITE = "/etc/apache2/sites-available/octavia-api.conf"
SERVICES = ["octavia-worker", "octavia-health-manager", "octavia-housekeeping", "apache2"]
ROLES = (
    "load-balancer_observer,load-balancer_global_observer,load-balancer_member,"
    "load-balancer_quota_admin,load-balancer_admin"
)


def read(machine: FakeMachine, path: str) -> str:
    return (machine.root / path.lstrip("/")).read_text()


def relation(state: testing.State, endpoint: str) -> Any:
    """The relation of ``endpoint`` (typed Any: Relation and PeerRelation differ)."""
    return next(r for r in state.relations if r.endpoint == endpoint)


def replace_relation(state: testing.State, new) -> testing.State:
    others = [r for r in state.relations if r.endpoint != new.endpoint]
    return dataclasses.replace(state, relations=[*others, new])


# -- install and origin ----------------------------------------------------------------------


def test_install_without_relations_installs_packages_and_blocks_on_missing_relations(ctx, machine):
    # Arrange
    state = testing.State(leader=True, relations=[peer()])

    # Act
    out = ctx.run(ctx.on.install(), state)

    # Assert
    assert machine.calls_of("apt-install") == [("apt-install", *machine_mod.PACKAGES)]
    assert machine.calls_of("apt-update") == []  # distro: the machine's own sources
    assert out.unit_status == testing.BlockedStatus(
        "Missing relations: identity-service, shared-db, amqp"
    )
    assert testing.MaintenanceStatus("Installing " + ", ".join(machine_mod.PACKAGES)) in (
        ctx.unit_status_history
    )
    # The packages start their services; without relations they must not run.
    assert machine.active.isdisjoint(SERVICES)
    assert not (machine.root / "etc/octavia/octavia.conf").exists()


def test_install_from_cloud_archive_adds_keyring_then_source_then_packages(ctx, machine):
    # Arrange
    state = testing.State(config={"openstack-origin": "cloud:jammy-caracal"})

    # Act
    ctx.run(ctx.on.install(), state)

    # Assert
    kinds = [c for c in machine.calls if c[0] in ("apt-install", "apt-update", "write")]
    assert kinds == [
        ("apt-install", "ubuntu-cloud-keyring"),
        ("write", "/etc/apt/sources.list.d/cloud-archive.list"),
        ("apt-update",),
        ("apt-install", *machine_mod.PACKAGES),
    ]
    source = read(machine, "/etc/apt/sources.list.d/cloud-archive.list")
    assert "deb http://ubuntu-cloud.archive.canonical.com/ubuntu jammy-updates/caracal main" in (
        source
    )


@pytest.mark.parametrize(
    ("origin", "reason"),
    [
        ("cloud:noble-dalmatian", "is for noble, but this unit runs jammy"),
        ("cloud:jammy-flamingo", "jammy has no Cloud Archive release 'flamingo'"),
        ("ppa:someone/octavia", "is not distro, distro-proposed or cloud:"),
    ],
)
def test_invalid_origin_blocks_and_changes_nothing(ctx, machine, origin, reason):
    # Arrange
    state = full_state(config={"openstack-origin": origin})

    # Act
    out = ctx.run(ctx.on.install(), state)

    # Assert
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert out.unit_status.message.startswith("Invalid config: ")
    assert reason in out.unit_status.message
    assert machine.mutations() == []


def test_invalid_config_renders_nothing_and_keeps_the_working_files(ctx, machine):
    # Arrange
    out = ctx.run(ctx.on.install(), full_state())
    before = read(machine, CONF)
    machine.calls.clear()
    bad = dataclasses.replace(out, config={"loadbalancer-topology": "TRIPLE"})

    # Act
    out = ctx.run(ctx.on.config_changed(), bad)

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        "Invalid config: loadbalancer-topology must be one of SINGLE, ACTIVE_STANDBY"
    )
    assert machine.mutations() == []
    assert read(machine, CONF) == before


def test_invalid_secret_option_is_not_quoted_in_status(ctx, machine):
    # Arrange
    secret = "not-base64-but-a-Secret!"
    state = full_state(config={"lb-mgmt-issuing-ca-private-key": secret})

    # Act
    out = ctx.run(ctx.on.config_changed(), state)

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        "Invalid config: lb-mgmt-issuing-ca-private-key is not base64-encoded PEM"
    )
    assert secret not in out.unit_status.message


# -- complete relations ----------------------------------------------------------------------


def test_complete_relations_render_publish_migrate_start_and_go_active(ctx, machine):
    # Arrange
    state = full_state()

    # Act
    out = ctx.run(ctx.on.install(), state)

    # Assert: status
    assert out.unit_status == testing.ActiveStatus("Unit is ready")
    # Published requests, exactly as the providers read them.
    address = "192.0.2.0"
    assert relation(out, "identity-service").local_unit_data == {
        "egress-subnets": address,
        "ingress-address": address,
        "private-address": address,
        "service": "octavia",
        "region": "RegionOne",
        "public_url": f"http://{address}:9876",
        "internal_url": f"http://{address}:9876",
        "admin_url": f"http://{address}:9876",
        "requested_roles": ROLES,
        "add_role_to_admin": ROLES,
    }
    db = relation(out, "shared-db").local_unit_data
    assert (db["database"], db["username"], db["hostname"]) == ("octavia", "octavia", address)
    mq = relation(out, "amqp").local_unit_data
    assert (mq["username"], mq["vhost"], mq["private-address"]) == (
        "octavia",
        "openstack",
        address,
    )
    # The rendered configuration.
    conf = read(machine, CONF)
    assert (
        "transport_url = rabbit://octavia:rmq-Secret%2Bpass@10.5.0.20:5672,"
        "octavia:rmq-Secret%2Bpass@10.5.0.21:5672/openstack"
    ) in conf
    assert "connection = mysql+pymysql://octavia:db-Secret%40pass@127.0.0.1:3306/octavia" in conf
    assert f"password = {KEYSTONE_PASSWORD}" in conf
    assert "auth_url = http://10.5.0.10:35357" in conf
    assert "www_authenticate_uri = http://10.5.0.10:5000" in conf
    assert "cert_manager = barbican_cert_manager" in conf
    assert "amp_ssh_key_name" not in conf  # none configured
    assert "amp_boot_network_list = 3e4d1c2b-aaaa-4bbb-8ccc-00000000000a" in conf
    assert "amp_active_retries = 180" in conf
    assert out.workload_version == machine.candidate_version
    assert machine.owners[CONF] == ("root", "octavia")
    assert stat.S_IMODE((machine.root / CONF.lstrip("/")).stat().st_mode) == 0o640
    assert "WSGIScriptAlias / /usr/bin/octavia-wsgi" in read(machine, SITE)
    assert "Listen 9876" in read(machine, SITE)
    assert (machine.root / "etc/apache2/sites-enabled/octavia-api.conf").is_symlink()
    # Database migrated once, by the leader, and the word given to the peers.
    assert machine.charm_runs() == [("run", *machine_mod.DB_MANAGE)]
    shared = relation(out, "cluster").local_app_data
    assert shared["db-synced-version"] == machine.candidate_version
    assert len(shared["heartbeat-key"]) == 32
    assert f"heartbeat_key = {shared['heartbeat-key']}" in conf
    # Services: the API under apache2, the packaged standalone API unit off.
    assert machine.active >= set(SERVICES)
    assert "octavia-api" not in machine.active | machine.enabled
    assert machine.masked == {"octavia-api"}
    assert machine.calls_of("systemctl")[:3] == [
        ("systemctl", "stop", "octavia-api"),
        ("systemctl", "disable", "octavia-api"),
        ("systemctl", "mask", "octavia-api"),
    ]


@pytest.mark.parametrize(
    "event",
    ["config_changed", "update_status", "upgrade_charm", "leader_elected", "install"],
)
def test_second_identical_event_installs_writes_and_restarts_nothing(ctx, machine, event):
    # Arrange
    out = ctx.run(ctx.on.install(), full_state())
    machine.calls.clear()

    # Act
    again = ctx.run(getattr(ctx.on, event)(), out)

    # Assert
    assert machine.mutations() == []
    assert again.unit_status == testing.ActiveStatus("Unit is ready")


def test_second_event_with_a_cloud_origin_adds_no_source_and_installs_nothing(ctx, machine):
    # Arrange
    state = full_state(config={"openstack-origin": "cloud:jammy-caracal/proposed"})
    out = ctx.run(ctx.on.install(), state)
    machine.calls.clear()

    # Act
    again = ctx.run(ctx.on.config_changed(), out)

    # Assert
    assert machine.mutations() == []
    assert again.unit_status == testing.ActiveStatus("Unit is ready")
    assert "jammy-proposed/caracal main" in read(
        machine, "/etc/apt/sources.list.d/cloud-archive.list"
    )


def test_going_back_to_distro_removes_the_cloud_archive_source(ctx, machine):
    # Arrange
    out = ctx.run(ctx.on.install(), full_state(config={"openstack-origin": "cloud:jammy-caracal"}))
    machine.calls.clear()

    # Act
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={}))

    # Assert
    assert ("remove", "/etc/apt/sources.list.d/cloud-archive.list") in machine.calls
    assert machine.calls_of("apt-update") == [("apt-update",)]
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


def test_second_identical_relation_changed_changes_nothing(ctx, machine):
    # Arrange
    out = ctx.run(ctx.on.install(), full_state())
    machine.calls.clear()

    # Act
    again = ctx.run(ctx.on.relation_changed(relation(out, "amqp")), out)

    # Assert
    assert machine.mutations() == []
    assert again.unit_status == testing.ActiveStatus("Unit is ready")


def test_config_change_restarts_only_the_services_reading_the_changed_file(ctx, machine):
    # Arrange
    out = ctx.run(ctx.on.install(), full_state())
    machine.calls.clear()

    # Act
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={"debug": True}))

    # Assert
    assert "debug = true" in read(machine, CONF)
    assert machine.calls_of("write") == [("write", CONF)]
    assert machine.calls_of("systemctl") == [("systemctl", "restart", s) for s in SERVICES]
    assert machine.calls_of("apt-install") == []
    assert machine.charm_runs() == []  # same packages: no migration


def test_amphora_tls_options_write_private_files_for_the_controller_services(ctx, machine):
    # Arrange
    out = ctx.run(ctx.on.install(), full_state())
    machine.calls.clear()

    # Act
    ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config=tls_options()))

    # Assert
    key = "/etc/octavia/certs/issuing_ca_key.pem"
    assert read(machine, key).startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert machine.owners[key] == ("root", "octavia")
    assert stat.S_IMODE((machine.root / key.lstrip("/")).stat().st_mode) == 0o440
    conf = read(machine, CONF)
    assert "ca_private_key = /etc/octavia/certs/issuing_ca_key.pem" in conf
    assert "ca_private_key_passphrase = issuing-Passphrase" in conf
    assert "client_cert = /etc/octavia/certs/controller_cert.pem" in conf


def test_removing_tls_options_switches_to_a_generated_pki(ctx, machine):
    # Arrange
    options = tls_options()
    out = ctx.run(ctx.on.install(), full_state(config=options))
    assert out.secrets == set()  # the operator's PKI: nothing generated
    machine.calls.clear()

    # Act
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={}))

    # Assert
    (secret,) = out.secrets
    key = "/etc/octavia/certs/issuing_ca_key.pem"
    assert ("write", key) in machine.calls
    assert read(machine, key) == secret.tracked_content["issuing-ca-key"]
    assert "ca_private_key = /etc/octavia/certs/issuing_ca_key.pem" in read(machine, CONF)


def test_os_hostnames_and_internal_endpoints(ctx, machine):
    # Arrange
    config = {
        "os-public-hostname": "octavia.example.com",
        "os-internal-hostname": "10.0.0.9",
        "use-internal-endpoints": True,
        "region": "RegionTwo",
    }

    # Act
    out = ctx.run(ctx.on.config_changed(), full_state(config=config))

    # Assert
    data = relation(out, "identity-service").local_unit_data
    assert data["public_url"] == "http://octavia.example.com:9876"
    assert data["internal_url"] == "http://10.0.0.9:9876"
    assert data["admin_url"] == "http://192.0.2.0:9876"
    assert data["region"] == "RegionTwo"
    conf = read(machine, CONF)
    assert "auth_url = http://10.5.0.11:5000" in conf  # keystone's internal endpoint
    assert "endpoint_type = internalURL" in conf
    assert "valid_interfaces = internal" in conf


# -- incomplete and broken relations ---------------------------------------------------------


def test_incomplete_identity_waits_and_stops_services(ctx, machine):
    # Arrange
    out = ctx.run(ctx.on.install(), full_state())
    partial = {k: v for k, v in KEYSTONE_UNIT.items() if k != "service_password"}
    state = replace_relation(out, identity(partial))
    machine.calls.clear()

    # Act
    out = ctx.run(ctx.on.relation_changed(relation(state, "identity-service")), state)

    # Assert
    assert out.unit_status == testing.WaitingStatus("Incomplete relations: identity-service")
    assert machine.calls_of("systemctl") == [("systemctl", "stop", s) for s in SERVICES]


def test_database_not_allowing_this_unit_waits(ctx, machine):
    # Arrange
    data = {**MYSQL_ROUTER_UNIT, "allowed_units": "octavia/1"}
    state = full_state(relations=[identity(), shared_db(data), amqp(), peer()])

    # Act
    out = ctx.run(ctx.on.relation_changed(relation(state, "shared-db")), state)

    # Assert
    assert out.unit_status == testing.WaitingStatus("Incomplete relations: shared-db")
    assert machine.charm_runs() == []
    assert not (machine.root / CONF.lstrip("/")).exists()


def test_database_cluster_series_upgrade_makes_it_unusable(ctx, machine):
    # Arrange
    data = {**MYSQL_ROUTER_UNIT, "cluster-series-upgrading": "True"}
    state = full_state(relations=[identity(), shared_db(data), amqp(), peer()])

    # Act
    out = ctx.run(ctx.on.relation_changed(relation(state, "shared-db")), state)

    # Assert
    assert out.unit_status == testing.WaitingStatus("Incomplete relations: shared-db")


def test_amqp_broken_stops_services_and_blocks(ctx, machine):
    # Arrange
    out = ctx.run(ctx.on.install(), full_state())
    machine.calls.clear()

    # Act
    out = ctx.run(ctx.on.relation_broken(relation(out, "amqp")), out)

    # Assert
    assert out.unit_status == testing.BlockedStatus("Missing relations: amqp")
    assert machine.calls_of("systemctl") == [("systemctl", "stop", s) for s in SERVICES]


def test_rabbitmq_unit_departing_leaves_it_out_of_the_transport_url(ctx, machine):
    # Arrange
    out = ctx.run(
        ctx.on.install(),
        full_state(
            relations=[
                identity(),
                shared_db(),
                amqp("10.5.0.20", "10.5.0.21", "10.5.0.22"),
                peer(),
            ]
        ),
    )
    assert "10.5.0.22:5672" in read(machine, CONF)
    old = relation(out, "amqp")
    remaining = dataclasses.replace(
        old, remote_units_data={k: v for k, v in old.remote_units_data.items() if k != 2}
    )
    state = replace_relation(out, remaining)
    machine.calls.clear()

    # Act
    out = ctx.run(ctx.on.relation_departed(remaining, remote_unit=2, departing_unit=2), state)

    # Assert
    conf = read(machine, CONF)
    assert "@10.5.0.20:5672,octavia:" in conf and "10.5.0.21:5672/openstack" in conf
    assert "10.5.0.22" not in conf
    assert machine.calls_of("systemctl") == [("systemctl", "restart", s) for s in SERVICES]


def test_rabbitmq_unit_without_password_is_not_in_the_transport_url(ctx, machine):
    # Arrange
    rel = amqp("10.5.0.20", "10.5.0.21")
    units = dict(rel.remote_units_data)
    units[1] = {k: v for k, v in units[1].items() if k != "password"}
    state = full_state(
        relations=[
            identity(),
            shared_db(),
            dataclasses.replace(rel, remote_units_data=units),
            peer(),
        ]
    )

    # Act
    ctx.run(ctx.on.relation_changed(relation(state, "amqp")), state)

    # Assert
    assert "transport_url = rabbit://octavia:rmq-Secret%2Bpass@10.5.0.20:5672/openstack" in read(
        machine, CONF
    )


# -- leadership and peers --------------------------------------------------------------------


def test_non_leader_waits_for_the_leaders_word_and_never_migrates(ctx, machine):
    # Arrange
    state = full_state(leader=False)

    # Act
    out = ctx.run(ctx.on.install(), state)

    # Assert
    assert out.unit_status == testing.WaitingStatus(
        "Waiting for the leader to set up the database"
    )
    assert machine.charm_runs() == []
    assert machine.active.isdisjoint(SERVICES)


def test_non_leader_starts_once_the_leader_has_migrated(ctx, machine):
    # Arrange
    secret = pki_secret()
    shared = {
        "heartbeat-key": "k" * 32,
        "server-certs-key-passphrase": "p" * 32,
        "db-synced-version": "2:14.0.0-0ubuntu1",
        **pki_shared(secret),
    }
    state = full_state(
        leader=False,
        relations=[identity(), shared_db(), amqp(), peer(**shared)],
        secrets=[secret],
    )

    # Act
    out = ctx.run(ctx.on.relation_changed(relation(state, "cluster"), remote_unit=1), state)

    # Assert
    assert out.unit_status == testing.ActiveStatus("Unit is ready")
    assert machine.charm_runs() == []
    assert "heartbeat_key = " + "k" * 32 in read(machine, CONF)


def test_new_leader_keeps_the_shared_keys_and_does_not_migrate_again(ctx, machine):
    # Arrange
    secret = pki_secret()
    shared = {
        "heartbeat-key": "k" * 32,
        "server-certs-key-passphrase": "p" * 32,
        "db-synced-version": machine.candidate_version,
        **pki_shared(secret),
    }
    machine.apt_install(machine_mod.PACKAGES)
    machine.calls.clear()
    state = full_state(
        leader=True,
        relations=[identity(), shared_db(), amqp(), peer(**shared)],
        secrets=[secret],
    )

    # Act
    out = ctx.run(ctx.on.leader_elected(), state)

    # Assert
    assert relation(out, "cluster").local_app_data.items() >= shared.items()
    assert machine.charm_runs() == []
    assert len(out.secrets) == 1  # the old leader's PKI, not a new one


def test_origin_change_upgrades_packages_migrates_and_restarts_everything(ctx, machine):
    # Arrange
    out = ctx.run(ctx.on.install(), full_state())
    machine.candidate_version = "2:14.0.2-0ubuntu1~cloud0"
    machine.calls.clear()
    state = dataclasses.replace(out, config={"openstack-origin": "cloud:jammy-caracal"})

    # Act
    out = ctx.run(ctx.on.config_changed(), state)

    # Assert
    assert ("apt-update",) in machine.calls
    assert ("apt-install", *machine_mod.PACKAGES) in machine.calls
    assert machine.charm_runs() == [("run", *machine_mod.DB_MANAGE)]
    assert relation(out, "cluster").local_app_data["db-synced-version"] == (
        "2:14.0.2-0ubuntu1~cloud0"
    )
    # The standalone octavia-api unit is masked: the upgraded package cannot start it again.
    assert machine.calls_of("systemctl") == [("systemctl", "restart", s) for s in SERVICES]
    assert "octavia-api" not in machine.active | machine.enabled


def test_failed_apt_update_is_retried_on_the_next_event(ctx, machine):
    # Arrange
    out = ctx.run(ctx.on.install(), full_state())
    machine.apt.apt_get_exit["update"] = 100
    state = dataclasses.replace(out, config={"openstack-origin": "cloud:jammy-caracal"})
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status == testing.BlockedStatus(
        "apt-get update failed with exit status 100 (retried; its output is in the unit's log)"
    )
    # charmhelpers retried it (fatal=True) before giving up.
    assert len(machine.calls_of("apt-update")) == 11
    del machine.apt.apt_get_exit["update"]
    machine.calls.clear()

    # Act
    out = ctx.run(ctx.on.update_status(), out)

    # Assert
    assert machine.calls_of("apt-update") == [("apt-update",)]
    assert ("apt-install", *machine_mod.PACKAGES) in machine.calls
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


def test_install_waits_out_a_held_dpkg_lock(ctx, machine):
    # Arrange: another process (unattended-upgrades) holds the lock for two attempts.
    machine.apt.lock_held_for = 2

    # Act
    out = ctx.run(ctx.on.install(), full_state())

    # Assert
    assert machine.calls_of("apt-install") == [("apt-install", *machine_mod.PACKAGES)] * 3
    assert machine.boundary.sleeps == [10, 10]
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


def test_update_status_starts_a_stopped_service_without_restarting_the_others(ctx, machine):
    # Arrange
    out = ctx.run(ctx.on.install(), full_state())
    machine.active.discard("octavia-worker")
    machine.calls.clear()

    # Act
    out = ctx.run(ctx.on.update_status(), out)

    # Assert
    assert machine.mutations() == [("systemctl", "start", "octavia-worker")]
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


# -- secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["plain", "url-quoted"])
def test_failure_messages_have_relation_passwords_redacted(ctx, machine, form):
    # Arrange: SQLAlchemy prints the URL as written, the password percent-quoted in it.
    from urllib.parse import quote

    shown = DB_PASSWORD if form == "plain" else quote(DB_PASSWORD, safe="")
    out = ctx.run(ctx.on.install(), full_state())
    machine.fail_commands["octavia-db-manage"] = (
        f"OperationalError: mysql+pymysql://octavia:{shown}@127.0.0.1/octavia"
    )
    machine.candidate_version = "2:14.0.2"
    state = dataclasses.replace(out, config={"openstack-origin": "cloud:jammy-caracal"})

    # Act
    out = ctx.run(ctx.on.config_changed(), state)

    # Assert
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "octavia:***@127.0.0.1" in out.unit_status.message
    logs = "\n".join(line.message for line in ctx.juju_log)
    for secret in (shown, DB_PASSWORD, KEYSTONE_PASSWORD, RABBIT_PASSWORD):
        assert secret not in logs
        assert secret not in out.unit_status.message


def test_no_secret_in_logs_or_status_through_a_full_lifecycle(ctx, machine):
    # Arrange
    state = full_state(config=tls_options())

    # Act
    out = ctx.run(ctx.on.install(), state)
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={"debug": True}))

    # Assert
    text = "\n".join(line.message for line in ctx.juju_log) + str(ctx.unit_status_history)
    for secret in (DB_PASSWORD, KEYSTONE_PASSWORD, RABBIT_PASSWORD, "issuing-Passphrase"):
        assert secret not in text
    for path in machine.owners:
        if path.startswith("/etc/octavia"):
            assert stat.S_IMODE((machine.root / path.lstrip("/")).stat().st_mode) & 0o007 == 0


# -- actions ---------------------------------------------------------------------------------


def test_action_without_a_handler_fails_with_a_clear_message(ctx, machine, monkeypatch):
    # Arrange
    import actions

    monkeypatch.setattr(actions, "HANDLERS", {})

    # Act
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action("cleanup-test-plan"), testing.State())

    # Assert
    assert failed.value.message == (
        "action 'cleanup-test-plan' is not implemented by this charm revision"
    )


def test_action_handler_gets_the_context(ctx, machine, monkeypatch):
    # Arrange
    import actions

    seen = {}

    def fake_handler(event, action_ctx):
        """A fake handler: records the context the charm builds."""
        seen["ctx"] = action_ctx
        event.set_results({"versions": dict(action_ctx.package_versions())})

    monkeypatch.setitem(actions.HANDLERS, "cleanup-test-plan", fake_handler)
    machine.installed["octavia-common"] = "2:14.0.0-0ubuntu1"
    state = testing.State(config={"amp-ssh-key-name": "my-key"})

    # Act
    ctx.run(ctx.on.action("cleanup-test-plan"), state)

    # Assert
    got = seen["ctx"]
    assert got.config.amp_ssh_key_name == "my-key"
    assert got.series == "jammy"
    assert got.config.openstack_origin == "distro"
    assert got.octavia_conf == machine.root / "etc/octavia/octavia.conf"
    assert got.ssh_dir == machine.root / "var/lib/charm-octavia/ssh"
    assert ctx.action_results == {"versions": {"octavia-common": "2:14.0.0-0ubuntu1"}}


def test_connect_without_identity_relation_names_what_is_missing(ctx, machine, monkeypatch):
    # Arrange
    import actions

    errors = []

    def fake_handler(event, action_ctx):
        """A fake handler: tries to connect and records the error."""
        try:
            action_ctx.connect()
        except RuntimeError as e:
            errors.append(str(e))

    monkeypatch.setitem(actions.HANDLERS, "cleanup-test-plan", fake_handler)
    partial = {k: v for k, v in KEYSTONE_UNIT.items() if k not in ("service_password",)}

    # Act
    ctx.run(ctx.on.action("cleanup-test-plan"), testing.State())
    ctx.run(
        ctx.on.action("cleanup-test-plan"),
        testing.State(relations=[identity(partial)]),
    )

    # Assert
    assert errors == [
        "no identity-service relation: relate octavia to keystone",
        "the identity-service relation is not complete: missing service_password",
    ]


def test_connect_uses_the_relation_credentials(ctx, machine, connect_calls):
    # Arrange
    state = testing.State(relations=[identity()], config={"use-internal-endpoints": True})

    # Act
    ctx.run(ctx.on.action("cleanup-test-plan"), state)

    # Assert
    assert connect_calls == [
        {
            "auth_url": "http://10.5.0.11:5000/v3",
            "username": "octavia",
            "password": KEYSTONE_PASSWORD,
            "project_name": "services",
            "user_domain_name": "service_domain",
            "project_domain_name": "service_domain",
            "region_name": "RegionOne",
            "interface": "internal",
            "verify": True,
        }
    ]
    assert ctx.action_results == {"conn": "connection"}


def test_every_action_in_actions_yaml_reaches_the_dispatch(ctx, machine, monkeypatch):
    # Arrange
    import actions
    import unit_actions
    import yaml

    names = sorted(yaml.safe_load((Path(charm.__file__).parents[1] / "actions.yaml").read_text()))
    import resource_actions

    monkeypatch.setattr(actions, "HANDLERS", {})
    monkeypatch.setattr(unit_actions, "HANDLERS", {})
    monkeypatch.setattr(resource_actions, "HANDLERS", {})
    import lifecycle

    monkeypatch.setattr(lifecycle, "HANDLERS", {})
    messages = []

    # Act
    for name in names:
        with pytest.raises(testing.ActionFailed) as failed:
            ctx.run(ctx.on.action(name), testing.State())
        messages.append(failed.value.message)

    # Assert
    assert len(names) == 16
    assert messages == [f"action {n!r} is not implemented by this charm revision" for n in names]
