"""use-policyd-override: the ``policyd-override`` resource's overrides in
/etc/octavia/policy.d (``charmed_octavia.unit.policy_overrides``), and the "PO: " or
"PO (broken): " prefix of the unit's status, as charmhelpers gives the existing charm.

The resource is read once per hook; the charm's reconcile writes the files with the other
rendered files, so that a change restarts the API (apache2, which reads policy.d) alone.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import ops
from charmed_octavia.unit import policy_overrides as po
from charmed_octavia.unit import reconcile
from charmed_octavia.unit.machine import POLICY_DIR, File

if TYPE_CHECKING:
    from charmed_octavia.unit.config import CharmConfig
    from charmed_octavia.unit.machine import Workload

logger = logging.getLogger(__name__)


class PolicyOverrides(ops.Object):
    def __init__(self, charm: ops.CharmBase, workload: Workload) -> None:
        super().__init__(charm, "policy-overrides")
        self.workload = workload
        self._wanted: po.Overrides | None = None

    def wanted(self, config: CharmConfig) -> po.Overrides:
        """The overrides the option and the attached resource ask for (read once a hook)."""
        if self._wanted is None or self._wanted.enabled != config.use_policyd_override:
            self._wanted = po.wanted(config.use_policyd_override, *self._resource(config))
            if self._wanted.problem:
                logger.warning("policy overrides not applied: %s", self._wanted.problem)
        return self._wanted

    def _resource(self, config: CharmConfig) -> tuple[bytes | None, str]:
        if not config.use_policyd_override:
            return None, ""
        try:
            path = self.model.resources.fetch(po.RESOURCE)
        except (ops.ModelError, NameError) as e:
            logger.info("%s not available: %s", po.RESOURCE, e)
            return None, "the resource is not attached"
        try:
            return path.read_bytes(), ""
        except OSError as e:
            return None, f"the resource cannot be read ({e.strerror})"

    def apply(self, config: CharmConfig) -> set[str]:
        """Bring policy.d to the overrides; {POLICY_DIR} when anything in it changed."""
        files, remove = po.changes(self.wanted(config), self.workload.list_files(POLICY_DIR))
        wanted: dict[str, File | None] = {**files, **dict.fromkeys(remove)}
        changed = reconcile.apply_files(self.workload, wanted)
        if changed:
            logger.info("policy overrides: %d file(s) in %s", len(files), POLICY_DIR)
        return {POLICY_DIR} if changed else set()

    def status(self, config: CharmConfig, ready: str) -> ops.StatusBase:
        """The ready status with the overrides' prefix; Blocked when they are broken."""
        overrides = self.wanted(config)
        if overrides.problem:
            return ops.BlockedStatus(f"{po.BROKEN_PREFIX}{overrides.problem}"[:200])
        return ops.ActiveStatus(f"{po.status_prefix(overrides)}{ready}")
