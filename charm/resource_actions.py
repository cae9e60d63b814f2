"""configure-resources: an action of the unit (not an ``octavia-sru`` command). The leader
ensures the amphora resources with the service credentials, shares their ids through the peer
relation's application data, and renders them at once; the other units render them on the
peer relation's change. A keypair named without amp-ssh-pub-key gets the leader's own amphora
key, the one run-test-plan's SSH checks then log in with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import databags

if TYPE_CHECKING:
    import ops
    from charmed_octavia.unit.config import CharmConfig
    from charmed_octavia.unit.machine import Workload
    from openstack.connection import Connection

logger = logging.getLogger(__name__)


class UnitCharm(Protocol):
    """What a unit action uses of the charm (charm.OctaviaCharm)."""

    @property
    def unit(self) -> ops.Unit: ...
    @property
    def app(self) -> ops.Application: ...
    @property
    def model(self) -> ops.Model: ...
    def loaded_config(self) -> tuple[CharmConfig | None, str]: ...
    def connect(self, config: CharmConfig) -> Connection: ...
    def redact(self, text: str) -> str: ...
    def reconcile_now(self) -> str: ...
    def amphora_public_key(self) -> str: ...
    @property
    def workload(self) -> Workload: ...


def configure_resources(event: ops.ActionEvent, charm: UnitCharm) -> None:
    from charmed_octavia.cloud import catalog, mgmt_resources
    from charmed_octavia.cloud.outcomes import describe_error
    from charmed_octavia.unit import resources

    if not charm.unit.is_leader():
        event.fail("configure-resources runs on the leader: juju run octavia/leader ...")
        return
    peer = charm.model.get_relation("cluster")
    if peer is None:
        event.fail("the peer relation cluster is not there yet: retry once the unit is set up")
        return
    config, error = charm.loaded_config()
    if config is None:
        event.fail(f"configure-resources: invalid config: {error}")
        return
    unit_key = resources.wants_unit_key(config)
    try:
        spec = resources.spec(config, charm.amphora_public_key() if unit_key else "")
        conn = charm.connect(config)
        with catalog.naming(conn):
            configured = mgmt_resources.configure(conn, spec)
    except Exception as e:
        # A conflict or a missing resource has changed nothing (every lookup runs first).
        event.fail(f"configure-resources: {charm.redact(describe_error(e))}")
        return
    databags.update(peer.data[charm.app], resources.to_peer_data(configured))
    logger.info(
        "amphora resources: network %s, security groups %s and %s, flavor %s",
        configured.boot_network,
        configured.secgroup,
        configured.health_secgroup,
        configured.flavor,
    )
    charm.reconcile_now()
    results = resources.results(configured, config.amp_ssh_key_name)
    if configured.keypair:
        results["keypair-key"] = "this unit's amphora key" if unit_key else "amp-ssh-pub-key"
    event.set_results(results)


HANDLERS: dict[str, Callable[[ops.ActionEvent, UnitCharm], None]] = {
    "configure-resources": configure_resources,
}
