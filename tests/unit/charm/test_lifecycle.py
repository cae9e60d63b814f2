"""ops.testing of the operator's lifecycle: pause and resume through later hooks,
restart-services, the action-managed upgrade of two units across two origins (the leader
migrates once, the follower waits for it), and the series-upgrade hooks from Jammy to Noble."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from charmed_octavia.unit import lifecycle as lifecycle_mod
from charmed_octavia.unit import machine as machine_mod
from ops import testing

import charm
from tests.unit.charm.states import (
    amqp,
    full_state,
    identity,
    jammy_machine,
    peer,
    pki_secret,
    pki_shared,
    shared_db,
)
from tests.unit.fake_ohm0 import FakeOhm0Machine

SERVICES = list(machine_mod.SERVICES)
PAUSED = testing.MaintenanceStatus("Paused. Use 'resume' action to resume normal service.")
READY = testing.ActiveStatus("Unit is ready")
CLOUD_LIST = "etc/apt/sources.list.d/cloud-archive.list"
BOBCAT = "2:13.0.0-0ubuntu1~cloud0"
CARACAL = "2:14.0.0-0ubuntu1~cloud0"


def cluster(state: testing.State) -> testing.PeerRelation:
    found = next(r for r in state.relations if r.endpoint == "cluster")
    assert isinstance(found, testing.PeerRelation)
    return found


def with_config(state: testing.State, **config: str | bool) -> testing.State:
    return dataclasses.replace(state, config={**state.config, **config})


@pytest.fixture
def ready(ctx, machine) -> testing.State:
    """An installed, related, active leader."""
    out = ctx.run(ctx.on.install(), full_state())
    assert out.unit_status == READY
    machine.calls.clear()
    return out


# -- pause and resume ------------------------------------------------------------------------


def test_pause_stops_disables_and_masks_every_service(ctx, machine, ready):
    # Act
    out = ctx.run(ctx.on.action("pause"), ready)

    # Assert
    assert machine.active.isdisjoint(SERVICES)
    assert machine.enabled.isdisjoint(SERVICES)
    assert machine.masked >= set(SERVICES)
    assert out.unit_status == PAUSED
    assert ctx.action_results == {"outcome": "paused", "services": " ".join(SERVICES)}


@pytest.mark.parametrize(
    "change",
    [
        lambda ctx, s: ctx.run(ctx.on.update_status(), s),
        # A config change that would restart every service.
        lambda ctx, s: ctx.run(ctx.on.config_changed(), with_config(s, debug=True)),
        lambda ctx, s: ctx.run(ctx.on.upgrade_charm(), s),
    ],
    ids=["update-status", "config-changed", "upgrade-charm"],
)
def test_pause_survives_later_hooks(ctx, machine, ready, change):
    # Arrange
    paused = ctx.run(ctx.on.action("pause"), ready)
    machine.calls.clear()

    # Act
    out = change(ctx, paused)

    # Assert: files may change, services are neither started nor restarted.
    started = [c for c in machine.calls_of("systemctl") if c[1] in ("start", "restart")]
    assert started == []
    assert machine.active.isdisjoint(SERVICES)
    assert out.unit_status == PAUSED


def test_paused_config_change_renders_but_keeps_services_stopped(ctx, machine, ready):
    # Arrange
    paused = ctx.run(ctx.on.action("pause"), ready)

    # Act
    ctx.run(ctx.on.config_changed(), with_config(paused, debug=True))

    # Assert
    assert "debug = true" in (machine.root / "etc/octavia/octavia.conf").read_text()
    assert machine.active.isdisjoint(SERVICES)


def test_paused_package_upgrade_cannot_start_masked_services(ctx, machine, ready):
    # Arrange: a paused unit whose origin changes (the packages' postinst would start them).
    paused = ctx.run(ctx.on.action("pause"), ready)
    machine.candidate_version = CARACAL

    # Act
    out = ctx.run(
        ctx.on.config_changed(), with_config(paused, **{"openstack-origin": "cloud:jammy-caracal"})
    )

    # Assert
    assert machine.installed["octavia-worker"] == CARACAL
    assert machine.active.isdisjoint(SERVICES)
    assert out.unit_status == PAUSED


def test_a_service_started_behind_the_charms_back_is_reported(ctx, machine, ready):
    # Arrange
    paused = ctx.run(ctx.on.action("pause"), ready)
    machine.active.add("apache2")  # someone ran systemctl start by hand

    # Act: collect-status runs at the end of any event (here an action that changes nothing).
    out = ctx.run(ctx.on.action("restart-services", params={"deferred-only": True}), paused)

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        "Services should be paused but these services running: apache2"
    )


def test_resume_unmasks_enables_and_starts_the_services(ctx, machine, ready):
    # Arrange
    paused = ctx.run(ctx.on.action("pause"), ready)
    machine.calls.clear()

    # Act
    out = ctx.run(ctx.on.action("resume"), paused)

    # Assert
    assert machine.active >= set(SERVICES)
    assert machine.enabled >= set(SERVICES)
    assert machine.masked == {"octavia-api"}  # the standalone API stays masked
    assert out.unit_status == READY
    assert ctx.action_results == {"outcome": "resumed"}
    # And the next hook keeps them running, restarting nothing.
    machine.calls.clear()
    ctx.run(ctx.on.update_status(), out)
    assert machine.mutations() == []


def test_resume_of_a_unit_not_ready_says_services_start_later(ctx, machine):
    # Arrange: no relations yet, so nothing may run.
    state = testing.State(leader=True, relations=[peer()])
    paused = ctx.run(ctx.on.action("pause"), ctx.run(ctx.on.install(), state))

    # Act
    out = ctx.run(ctx.on.action("resume"), paused)

    # Assert
    assert ctx.action_results == {"outcome": "resumed; services start once the unit is ready"}
    assert machine.active.isdisjoint(SERVICES)
    assert isinstance(out.unit_status, testing.BlockedStatus)


# -- restart-services ------------------------------------------------------------------------


def test_restart_services_stops_then_starts_all(ctx, machine, ready):
    # Act
    ctx.run(ctx.on.action("restart-services"), ready)

    # Assert
    assert machine.calls_of("systemctl") == [
        *(("systemctl", "stop", s) for s in SERVICES),
        *(("systemctl", "start", s) for s in SERVICES),
    ]
    assert ctx.action_results == {"outcome": "restarted", "services": " ".join(SERVICES)}


def test_restart_services_restarts_only_the_named_ones(ctx, machine, ready):
    # Act
    ctx.run(
        ctx.on.action("restart-services", params={"services": "apache2 octavia-worker"}), ready
    )

    # Assert: in the charm's order.
    assert machine.calls_of("systemctl") == [
        ("systemctl", "stop", "octavia-worker"),
        ("systemctl", "stop", "apache2"),
        ("systemctl", "start", "octavia-worker"),
        ("systemctl", "start", "apache2"),
    ]


def test_restart_services_deferred_only_restarts_nothing_and_says_why(ctx, machine, ready):
    # Act
    ctx.run(ctx.on.action("restart-services", params={"deferred-only": True}), ready)

    # Assert
    assert machine.calls_of("systemctl") == []
    assert ctx.action_results == {"outcome": charm.lifecycle.NO_DEFERRED}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"services": "nova-api"}, "services: 'nova-api' names no service of this charm"),
        (
            {"services": "apache2", "deferred-only": True},
            "services and deferred-only are mutually exclusive",
        ),
    ],
)
def test_restart_services_refuses_bad_parameters_and_changes_nothing(
    ctx, machine, ready, params, message
):
    # Act
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action("restart-services", params=params), ready)

    # Assert
    assert failed.value.message.startswith(message)
    assert machine.calls_of("systemctl") == []


def test_restart_services_refuses_a_paused_unit(ctx, machine, ready):
    # Arrange
    paused = ctx.run(ctx.on.action("pause"), ready)
    machine.calls.clear()

    # Act
    with pytest.raises(testing.ActionFailed) as failed:
        ctx.run(ctx.on.action("restart-services"), paused)

    # Assert
    assert failed.value.message == "the unit is paused: run the resume action first"
    assert machine.calls_of("systemctl") == []


# -- openstack-upgrade -----------------------------------------------------------------------


class Unit:
    """One unit of a two-unit application: its machine and its last state."""

    def __init__(
        self, ctx: testing.Context, machine: FakeOhm0Machine, state: testing.State
    ) -> None:
        self.ctx, self.machine, self.state = ctx, machine, state

    def run(self, monkeypatch: pytest.MonkeyPatch, event: Any) -> testing.State:
        monkeypatch.setattr(charm.OctaviaCharm, "workload_factory", lambda: self.machine)
        self.state = self.ctx.run(event, self.state)
        return self.state

    def sees(self, other: Unit) -> None:
        """The peer application data as ``other`` (the leader) left it."""
        shared = dict(cluster(other.state).local_app_data)
        self.state = dataclasses.replace(
            self.state,
            relations=[
                r if r.endpoint != "cluster" else dataclasses.replace(r, local_app_data=shared)
                for r in self.state.relations
            ],
        )

    def db_migrations(self) -> int:
        return self.machine.charm_runs().count(("run", *machine_mod.DB_MANAGE))


HELD = testing.ActiveStatus("Unit is ready; caracal waits for the openstack-upgrade action")


@pytest.fixture
def two_units(ctx, tmp_path, monkeypatch) -> tuple[Unit, Unit]:
    """A leader and a follower on cloud:jammy-bobcat with action-managed-upgrade, active."""
    secret = pki_secret()
    shared = {
        "heartbeat-key": "k" * 32,
        "server-certs-key-passphrase": "p" * 32,
        **pki_shared(secret),
    }
    config = {"openstack-origin": "cloud:jammy-bobcat", "action-managed-upgrade": True}
    units = []
    for name, leader in (("leader", True), ("follower", False)):
        (tmp_path / name).mkdir()
        machine = jammy_machine(tmp_path / name)
        assert isinstance(machine, FakeOhm0Machine)
        machine.candidate_version = BOBCAT
        state = full_state(
            leader=leader,
            relations=[identity(), shared_db(), amqp(), peer(**shared)],
            secrets=[secret],
            config=config,
        )
        units.append(Unit(ctx, machine, state))
    leader, follower = units
    leader.run(monkeypatch, ctx.on.install())
    follower.sees(leader)
    follower.run(monkeypatch, ctx.on.install())
    assert (leader.state.unit_status, follower.state.unit_status) == (READY, READY)
    for unit in units:
        unit.machine.calls.clear()
        unit.machine.candidate_version = CARACAL  # what cloud:jammy-caracal serves
        unit.state = with_config(unit.state, **{"openstack-origin": "cloud:jammy-caracal"})
    return leader, follower


def test_action_managed_origin_change_upgrades_nothing_in_config_changed(
    ctx, monkeypatch, two_units
):
    # Act
    for unit in two_units:
        unit.run(monkeypatch, ctx.on.config_changed())

    # Assert
    for unit in two_units:
        assert unit.machine.mutations() == []
        assert "jammy-updates/bobcat" in (unit.machine.root / CLOUD_LIST).read_text()
        assert unit.machine.installed["octavia-worker"] == BOBCAT
        # Ready, and saying what waits for the operator.
        assert unit.state.unit_status == HELD


def test_two_units_upgrade_one_by_one_leader_migrates_once_follower_waits(
    ctx, monkeypatch, two_units
):
    leader, follower = two_units
    # Act 1: the follower first.
    follower.run(monkeypatch, ctx.on.action("openstack-upgrade"))

    # Assert 1: upgraded, but its services wait for the leader's migration.
    assert ctx.action_results is not None
    assert ctx.action_results["outcome"] == "success, upgrade completed"
    assert (ctx.action_results["from"], ctx.action_results["to"]) == ("bobcat", "caracal")
    assert "jammy-updates/caracal" in (follower.machine.root / CLOUD_LIST).read_text()
    assert ("apt-install", *machine_mod.PACKAGES) in follower.machine.calls
    assert follower.machine.installed["octavia-worker"] == CARACAL
    assert follower.db_migrations() == 0
    assert follower.machine.active.isdisjoint(SERVICES)
    waiting = testing.WaitingStatus("Waiting for the database schema of caracal")
    assert follower.state.unit_status == waiting
    # Later hooks keep it waiting.
    assert follower.run(monkeypatch, ctx.on.update_status()).unit_status == waiting
    assert follower.machine.active.isdisjoint(SERVICES)

    # Act 2: the leader.
    leader.run(monkeypatch, ctx.on.action("openstack-upgrade"))

    # Assert 2: migrated once, for caracal, and running it.
    assert leader.db_migrations() == 1
    assert cluster(leader.state).local_app_data["db-synced-version"] == CARACAL
    assert leader.machine.active >= set(SERVICES)
    assert leader.state.unit_status == READY

    # Act 3: the follower learns of it.
    follower.sees(leader)
    follower.run(monkeypatch, ctx.on.relation_changed(cluster(follower.state), remote_unit=1))

    # Assert 3
    assert follower.machine.active >= set(SERVICES)
    assert follower.state.unit_status == READY
    assert follower.db_migrations() == 0
    leader.run(monkeypatch, ctx.on.update_status())
    assert leader.db_migrations() == 1


def test_a_unit_not_yet_upgraded_keeps_running_on_the_newer_schema(ctx, monkeypatch, two_units):
    # Arrange
    leader, follower = two_units
    leader.run(monkeypatch, ctx.on.action("openstack-upgrade"))
    follower.sees(leader)

    # Act: the follower, still on bobcat, hears of the caracal schema.
    follower.run(monkeypatch, ctx.on.relation_changed(cluster(follower.state), remote_unit=1))

    # Assert
    assert follower.machine.installed["octavia-worker"] == BOBCAT
    assert follower.machine.active >= set(SERVICES)
    assert follower.state.unit_status == HELD


def test_openstack_upgrade_without_action_managed_upgrade_skips(ctx, machine, ready):
    # Act
    ctx.run(ctx.on.action("openstack-upgrade"), ready)

    # Assert
    assert ctx.action_results == {
        "outcome": "action-managed-upgrade config is False, skipped upgrade"
    }
    assert machine.mutations() == []


def test_openstack_upgrade_without_a_newer_release_says_so(ctx, machine, ready):
    # Act
    ctx.run(
        ctx.on.action("openstack-upgrade"), with_config(ready, **{"action-managed-upgrade": True})
    )

    # Assert
    assert ctx.action_results == {"outcome": "no upgrade available"}
    assert machine.mutations() == []


def test_package_upgrade_upgrades_within_the_release(ctx, machine, ready):
    # Arrange
    machine.candidate_version = "2:14.0.1-0ubuntu1"

    # Act
    out = ctx.run(ctx.on.action("package-upgrade"), ready)

    # Assert
    assert machine.calls_of("apt-update") == [("apt-update",)]
    assert machine.installed["octavia-worker"] == "2:14.0.1-0ubuntu1"
    assert ctx.action_results == {
        "outcome": "success, packages upgraded",
        "version": "2:14.0.1-0ubuntu1",
    }
    assert machine.calls_of("systemctl")[-4:] == [("systemctl", "restart", s) for s in SERVICES]
    assert out.unit_status == READY


def test_package_upgrade_skips_while_an_openstack_upgrade_is_held(ctx, monkeypatch, two_units):
    # Arrange
    leader, _ = two_units

    # Act
    leader.run(monkeypatch, ctx.on.action("package-upgrade"))

    # Assert
    assert ctx.action_results == {
        "outcome": "upgrade skipped because an openstack upgrade is available"
    }
    assert leader.machine.mutations() == []


# -- series upgrade --------------------------------------------------------------------------


def to_noble(root: Path) -> None:
    """What do-release-upgrade leaves: Noble's os-release and lsb-release."""
    (root / "etc/os-release").write_text(
        'NAME="Ubuntu"\nVERSION_CODENAME=noble\nUBUNTU_CODENAME=noble\n'
    )
    (root / "etc/lsb-release").write_text("DISTRIB_ID=Ubuntu\nDISTRIB_CODENAME=noble\n")


def test_pre_series_upgrade_pauses_and_later_hooks_change_nothing(ctx, machine):
    # Arrange
    ready = ctx.run(
        ctx.on.install(), full_state(config={"openstack-origin": "cloud:jammy-caracal"})
    )

    # Act
    out = ctx.run(ctx.on.pre_series_upgrade(), ready)

    # Assert
    assert machine.active.isdisjoint(SERVICES)
    assert machine.masked >= set(SERVICES)
    upgrading = testing.BlockedStatus(lifecycle_mod.SERIES_UPGRADING)
    assert out.unit_status == upgrading
    # do-release-upgrade runs: os-release says noble, the origin still names jammy.
    to_noble(machine.root)
    machine.calls.clear()
    for event in (ctx.on.update_status(), ctx.on.config_changed()):
        out = ctx.run(event, out)
        assert machine.mutations() == []
        assert out.unit_status == upgrading
    with pytest.raises(testing.ActionFailed, match="series upgrade"):
        ctx.run(ctx.on.action("resume"), out)


def test_post_series_upgrade_moves_a_jammy_caracal_origin_to_noble_distro_and_resumes(
    ctx, machine
):
    # Arrange
    state = full_state(config={"openstack-origin": "cloud:jammy-caracal"})
    out = ctx.run(ctx.on.pre_series_upgrade(), ctx.run(ctx.on.install(), state))
    to_noble(machine.root)
    machine.candidate_version = "2:14.0.1-0ubuntu1"  # Noble's own caracal
    machine.calls.clear()

    # Act
    out = ctx.run(ctx.on.post_series_upgrade(), out)

    # Assert: the Jammy pocket gone, every package reinstalled from Noble's archive.
    assert not (machine.root / CLOUD_LIST).exists()
    assert machine.calls_of("apt-update") == [("apt-update",)]
    assert ("apt-install", *machine_mod.PACKAGES) in machine.calls
    assert machine.installed["octavia-worker"] == "2:14.0.1-0ubuntu1"
    assert machine.active >= set(SERVICES)
    assert machine.masked == {"octavia-api"}
    assert out.unit_status == READY
    assert any(
        "cloud:jammy-caracal is for an older series: using distro of noble" in log.message
        for log in ctx.juju_log
    )
    # The next hook is the same as ever: nothing to do.
    machine.calls.clear()
    again = ctx.run(ctx.on.config_changed(), out)
    assert machine.mutations() == []
    assert again.unit_status == READY


def test_post_series_upgrade_with_an_origin_noble_lacks_blocks_and_keeps_it_stopped(ctx, machine):
    # Arrange: bobcat is not on Noble; the operator must pick a Noble origin.
    machine.candidate_version = BOBCAT
    state = full_state(config={"openstack-origin": "cloud:jammy-bobcat"})
    out = ctx.run(ctx.on.pre_series_upgrade(), ctx.run(ctx.on.install(), state))
    to_noble(machine.root)
    machine.calls.clear()

    # Act
    out = ctx.run(ctx.on.post_series_upgrade(), out)

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        "Invalid config: openstack-origin 'cloud:jammy-bobcat' is for jammy, but this unit runs "
        "noble"
    )
    assert machine.calls_of("apt-install") == []
    assert machine.active.isdisjoint(SERVICES)


def test_resume_under_pacemaker_leaves_apache2_disabled_for_it(ctx, machine):
    # Arrange: a clustered unit (hacluster disabled apache2 at boot), then paused.
    from tests.unit.charm.test_ha import V4, hacluster
    from tests.unit.charm.test_ha import state as ha_state

    out = ctx.run(ctx.on.install(), ha_state(hacluster(True), config={"vip": V4}))
    machine.enabled.discard("apache2")
    paused = ctx.run(ctx.on.action("pause"), out)
    assert machine.active.isdisjoint(SERVICES)

    # Act
    out = ctx.run(ctx.on.action("resume"), paused)

    # Assert
    assert machine.active >= set(SERVICES)
    assert "apache2" not in machine.enabled | machine.masked
    assert machine.enabled >= set(SERVICES) - {"apache2"}
    assert out.unit_status == READY
