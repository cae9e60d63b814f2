"""The operator's lifecycle of the unit: the pause, resume, restart-services,
openstack-upgrade and package-upgrade actions, and the series-upgrade hooks, as the existing
charm's layers (charms.openstack over charmhelpers) provide them.

- Paused (the pause action, or pre-series-upgrade) the services stay stopped, disabled and
  masked through every later hook: the charm's reconcile still renders files and publishes
  relation data, but starts nothing (``run_services``). The flag is the unit's StoredState,
  as charmhelpers keeps ``unit-paused`` in the unit's own store.
- With ``action-managed-upgrade``, a new ``openstack-origin`` of a later OpenStack release is
  held (``holds_upgrade``) until openstack-upgrade runs on the unit. A unit whose code is newer
  than the database schema the leader last migrated keeps its services stopped until the
  leader has migrated the schema to its release.
- Between pre-series-upgrade and post-series-upgrade the reconcile does nothing at all (the
  machine is being upgraded: apt belongs to do-release-upgrade).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, cast

import ops
from charmed_octavia.unit import lifecycle, reconcile
from charmed_octavia.unit.machine import WorkloadError

if TYPE_CHECKING:
    from charmed_octavia.unit.config import CharmConfig
    from charmed_octavia.unit.machine import Workload
    from charmed_octavia.unit.origin import Origin

logger = logging.getLogger(__name__)

# charms.openstack's restart_services never defers a restart, nor does this charm.
NO_DEFERRED = (
    "no deferred restarts: this charm restarts a service as soon as a file it reads changes, "
    "it never defers one"
)


class LifecycleCharm(Protocol):
    """What the lifecycle needs of the charm (charm.OctaviaCharm)."""

    @property
    def unit(self) -> ops.Unit: ...
    @property
    def workload(self) -> Workload: ...
    @property
    def lifecycle(self) -> Lifecycle: ...
    def loaded_config(self) -> tuple[CharmConfig | None, str]: ...
    def current_origin(self) -> tuple[Origin | None, str]: ...
    def reconcile_now(self, *, refresh_packages: bool = False) -> str: ...


class Lifecycle(ops.Object):
    """The paused and series-upgrade states and what they hold back."""

    _stored = ops.StoredState()

    def __init__(self, charm: ops.CharmBase) -> None:
        super().__init__(charm, "lifecycle")
        self.charm = cast("LifecycleCharm", charm)
        self._stored.set_default(paused=False, series_upgrading=False)
        # Inside openstack-upgrade: the held release goes ahead.
        self._upgrading = False
        charm.framework.observe(charm.on.pre_series_upgrade, self._on_pre_series_upgrade)
        charm.framework.observe(charm.on.post_series_upgrade, self._on_post_series_upgrade)

    @property
    def paused(self) -> bool:
        return bool(self._stored.paused or self._stored.series_upgrading)

    @property
    def series_upgrading(self) -> bool:
        return bool(self._stored.series_upgrading)

    # -- what the reconcile asks -------------------------------------------------------------

    def holds_upgrade(self, config: CharmConfig, origin: Origin) -> bool:
        """Whether the origin's newer release waits for openstack-upgrade."""
        held = self._held(config, origin)
        if held:
            logger.info(
                "action-managed-upgrade: %s (%s) waits for the openstack-upgrade action",
                origin.release,
                origin.value,
            )
        return held

    def _held(self, config: CharmConfig, origin: Origin) -> bool:
        if self._upgrading or not config.action_managed_upgrade:
            return False
        installed = lifecycle.installed_version(self.charm.workload)
        return lifecycle.upgrade_available(installed, origin)

    def ready_message(self, ready: str, config: CharmConfig, origin: Origin | None) -> str:
        """The ready status' message, naming the release that waits for openstack-upgrade:
        with action-managed-upgrade, the operator's cue to run it unit by unit."""
        if origin is None or not self._held(config, origin):
            return ready
        return f"{ready}; {origin.release} waits for the openstack-upgrade action"

    def run_services(self, restart: Sequence[str], *, pacemaker: Sequence[str] = ()) -> None:
        """The services running (those in ``restart`` restarted), or kept paused.
        ``pacemaker``: those hacluster starts, left disabled (reconcile.run_services)."""
        wl = self.charm.workload
        if self.paused:
            lifecycle.pause(wl)
        else:
            reconcile.run_services(wl, restart, pacemaker=pacemaker)

    def status(self) -> ops.StatusBase | None:
        """The paused or series-upgrade status, which outranks every other (charmhelpers'
        ``_ows_check_if_paused``); None when neither."""
        if not self.paused:
            return None
        running = lifecycle.running(self.charm.workload)
        if running:
            return ops.BlockedStatus(
                f"Services should be paused but these services running: {', '.join(running)}"
            )
        if self.series_upgrading:
            return ops.BlockedStatus(lifecycle.SERIES_UPGRADING)
        return ops.MaintenanceStatus(lifecycle.PAUSED)

    def schema_status(self, synced: str) -> ops.StatusBase | None:
        """Waiting while the database schema is older than this unit's Octavia."""
        installed = lifecycle.installed_version(self.charm.workload)
        release = lifecycle.schema_wait(installed, synced) if synced else ""
        if not release:
            return None
        return ops.WaitingStatus(f"Waiting for the database schema of {release}")

    # -- series upgrade ----------------------------------------------------------------------

    def _on_pre_series_upgrade(self, _event: ops.PreSeriesUpgradeEvent) -> None:
        self._stored.series_upgrading = True
        lifecycle.pause(self.charm.workload)
        logger.info("series upgrade: services paused")

    def _on_post_series_upgrade(self, _event: ops.PostSeriesUpgradeEvent) -> None:
        # As charms.openstack's series_upgrade_complete: an earlier pause ends here too.
        self._stored.series_upgrading = False
        self._stored.paused = False
        lifecycle.resume(self.charm.workload)
        origin, _ = self.charm.current_origin()
        if origin is not None and origin.carried_from:
            logger.warning(
                "openstack-origin %s is for an older series: using %s of %s; set the option to %s",
                origin.carried_from,
                origin.value,
                origin.series,
                origin.value,
            )
        # The new series' sources, every package from them, the files, the services.
        error = self.charm.reconcile_now(refresh_packages=True)
        if error:
            logger.error("after the series upgrade: %s", error)

    # -- actions -----------------------------------------------------------------------------

    def pause(self, event: ops.ActionEvent) -> None:
        self._stored.paused = True
        if not self._on_machine(event, "pause", lifecycle.pause):
            return
        event.set_results({"outcome": "paused", "services": " ".join(lifecycle.SERVICES)})

    def resume(self, event: ops.ActionEvent) -> None:
        if self.series_upgrading:
            event.fail(
                "the machine is in a series upgrade: finish it with "
                "'juju upgrade-machine <machine> complete', which resumes the unit"
            )
            return
        self._stored.paused = False
        if not self._on_machine(event, "resume", lifecycle.resume):
            return
        error = self.charm.reconcile_now()
        if error:
            event.fail(f"Couldn't resume: {error}")
            return
        waiting = lifecycle.running(self.charm.workload) != list(lifecycle.SERVICES)
        outcome = "resumed; services start once the unit is ready" if waiting else "resumed"
        event.set_results({"outcome": outcome})

    def restart_services(self, event: ops.ActionEvent) -> None:
        params = event.params
        deferred_only = bool(params.get("deferred-only", False))
        names = str(params.get("services", ""))
        if deferred_only and names.strip():
            event.fail("services and deferred-only are mutually exclusive")
            return
        if deferred_only:
            event.set_results({"outcome": NO_DEFERRED})
            return
        try:
            services = lifecycle.chosen_services(names)
        except ValueError as e:
            event.fail(str(e))
            return
        if self.paused:
            event.fail("the unit is paused: run the resume action first")
            return
        try:
            lifecycle.restart(self.charm.workload, services)
        except WorkloadError as e:
            event.fail(f"restart failed: {e}")
            return
        event.set_results({"outcome": "restarted", "services": " ".join(services)})

    def openstack_upgrade(self, event: ops.ActionEvent) -> None:
        """charmhelpers' do_action_openstack_upgrade: its outcomes, in its words."""
        origin = self._origin(event)
        if origin is None:
            return
        config, _ = self.charm.loaded_config()
        assert config is not None  # the origin parsed from it
        if not config.action_managed_upgrade:
            event.set_results(
                {"outcome": "action-managed-upgrade config is False, skipped upgrade"}
            )
            return
        installed = lifecycle.installed_version(self.charm.workload)
        if not lifecycle.upgrade_available(installed, origin):
            event.set_results({"outcome": "no upgrade available"})
            return
        before = lifecycle.release_of(installed)
        self._upgrading = True
        try:
            error = self.charm.reconcile_now(refresh_packages=True)
        finally:
            self._upgrading = False
        if error:
            event.set_results({"outcome": "upgrade failed"})
            event.fail(f"openstack-upgrade to {origin.release}: {error}")
            return
        results = {
            "outcome": "success, upgrade completed",
            "from": before,
            "to": lifecycle.release_of(lifecycle.installed_version(self.charm.workload)),
        }
        if not self.charm.unit.is_leader():
            results["database"] = (
                "migrated by the leader; this unit's services start once the leader has "
                f"migrated the schema to {origin.release}"
            )
        event.set_results(results)

    def package_upgrade(self, event: ops.ActionEvent) -> None:
        """Every package upgraded within the installed OpenStack release."""
        origin = self._origin(event)
        if origin is None:
            return
        installed = lifecycle.installed_version(self.charm.workload)
        if lifecycle.upgrade_available(installed, origin):
            event.set_results(
                {"outcome": "upgrade skipped because an openstack upgrade is available"}
            )
            return
        error = self.charm.reconcile_now(refresh_packages=True)
        if error:
            event.fail(f"package-upgrade: {error}")
            return
        version = lifecycle.installed_version(self.charm.workload)
        event.set_results({"outcome": "success, packages upgraded", "version": version})

    def _on_machine(
        self, event: ops.ActionEvent, verb: str, step: Callable[[Workload], None]
    ) -> bool:
        """``step`` done on the machine, or the action failed saying why (charmhelpers'
        "Couldn't pause" / "Couldn't resume")."""
        try:
            step(self.charm.workload)
        except WorkloadError as e:
            event.fail(f"Couldn't {verb}: {e}")
            return False
        return True

    def _origin(self, event: ops.ActionEvent) -> Origin | None:
        origin, error = self.charm.current_origin()
        if origin is None:
            event.fail(error)
        return origin


def _handler(method: str) -> Callable[[ops.ActionEvent, LifecycleCharm], None]:
    def handler(event: ops.ActionEvent, charm: LifecycleCharm) -> None:
        getattr(charm.lifecycle, method)(event)

    return handler


HANDLERS: dict[str, Callable[[ops.ActionEvent, LifecycleCharm], None]] = {
    "pause": _handler("pause"),
    "resume": _handler("resume"),
    "restart-services": _handler("restart_services"),
    "openstack-upgrade": _handler("openstack_upgrade"),
    "package-upgrade": _handler("package_upgrade"),
}
