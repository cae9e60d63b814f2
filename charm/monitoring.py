"""The nrpe-external-master relation: the Nagios checks of ``charmed_octavia.unit.nrpe``
written for the nrpe subordinate, and ``monitors`` in this unit's relation data.

Nothing is written until the nrpe charm has set up nagios-nrpe-server on the machine (its
``/etc/nagios/nrpe.d`` exists), as charmhelpers' NRPE does; nagios-nrpe-server is restarted
only when a check file changed, so update-status restarts nothing. The nagios user joins the
octavia group, which may read the amphora certificates, as the existing charm does.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol, cast

import databags
import ops
import yaml
from charmed_octavia.unit import nrpe, reconcile

if TYPE_CHECKING:
    from charmed_octavia.unit.config import CharmConfig
    from charmed_octavia.unit.machine import Workload

logger = logging.getLogger(__name__)

RELATION = "nrpe-external-master"


class MonitoringCharm(Protocol):
    """What the monitoring uses of the charm (charm.OctaviaCharm)."""

    @property
    def workload(self) -> Workload: ...
    def loaded_config(self) -> tuple[CharmConfig | None, str]: ...


class Monitoring(ops.Object):
    def __init__(self, charm: ops.CharmBase) -> None:
        super().__init__(charm, "monitoring")
        self.charm = charm
        rel = charm.on[RELATION]
        for event in (rel.relation_joined, rel.relation_changed, rel.relation_broken):
            charm.framework.observe(event, self._on_relation)

    def _on_relation(self, _event: ops.RelationEvent) -> None:
        self.update()

    def update(self) -> None:
        """The checks as the config and the unit's certificates say; idempotent."""
        config, _ = cast("MonitoringCharm", self.charm).loaded_config()
        wl = cast("MonitoringCharm", self.charm).workload
        if config is None or not nrpe.nrpe_ready(wl):
            return
        relations = [r for r in self.model.relations[RELATION] if r.active]
        remote = {k: v for r in relations for u in r.units for k, v in r.data[u].items()}
        unit = self.model.unit.name
        label = nrpe.nagios_unit_name(unit, remote.get("nagios_host_context", ""))
        hostname = nrpe.nagios_hostname(
            config.nagios_context, unit, remote.get("nagios_hostname", "")
        )
        servicegroups = config.nagios_servicegroups.strip() or config.nagios_context
        found = (
            nrpe.checks(
                label,
                nrpe.present_certificates(wl),
                crit_days=config.tls_crit_days,
                warn_days=config.tls_warn_days,
            )
            if relations
            else []
        )
        export = (wl.root / nrpe.EXPORT_DIR.lstrip("/")).is_dir()
        files = nrpe.desired_files(
            found, hostname=hostname, servicegroups=servicegroups, export=export
        )
        changed = reconcile.apply_files(wl, files)
        self._nagios_reads_certificates(wl)
        if any(path.startswith(nrpe.NRPE_DIR) for path in changed):
            logger.info("nagios checks: %s", ", ".join(c.shortname for c in found) or "none")
            wl.service("restart", nrpe.NRPE_SERVICE)
        wanted = {"monitors": yaml.safe_dump(nrpe.monitors(found)), "primary": "True"}
        for rel in relations:
            databags.update(rel.data[self.model.unit], wanted)

    def _nagios_reads_certificates(self, wl: Workload) -> None:
        members = nrpe.group_members(wl, nrpe.CERT_GROUP)
        if members is not None and "nagios" not in members and nrpe.user_exists(wl, "nagios"):
            # charmhelpers' add_user_to_group.
            wl.run(("gpasswd", "-a", "nagios", nrpe.CERT_GROUP))
