"""The unit's health-manager port in Neutron (``charmed_octavia.cloud.health_ports``) as the
charm keeps it: ensured on the unit's hooks once configure-resources has shared the management
network and the health managers' security group, bound to the host the neutron-openvswitch or
ovsdb-subordinate relation names (else this machine's hostname); its id, MAC and addresses in
the unit's peer data; every unit's address in the leader's ``controller-ip-port-list``.

A unit deletes its own port when it is removed (stop, remove), and does not make it again once
it is departing; the leader deletes the ports of units that left the peer relation. Cloud
failures are logged (redacted) and shown in status; they never fail a hook.

Without a subordinate that names the host (no Open vSwitch on the machine for the charm to
know of) the port is still made, bound to the hostname, so that it is ready when the relation
comes; the unit is blocked meanwhile, since no amphora can reach it.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, cast

import databags
import ops
from charmed_octavia.unit import health_manager, relations, resources

if TYPE_CHECKING:
    from charmed_octavia.cloud.outcomes import Ensured
    from charmed_octavia.unit.config import CharmConfig
    from openstack.connection import Connection
    from resource_actions import UnitCharm

logger = logging.getLogger(__name__)

PEER = "cluster"
RELATIONS = (relations.NEUTRON_OPENVSWITCH, relations.OVSDB_SUBORDINATE)
WAITING = "Waiting for the health-manager port"
WAITING_OHM0 = "Waiting for o-hm0"
NO_CHASSIS = "(amphorae cannot reach this unit)"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Neutron's status of a port its host's agent has bound.
ACTIVE = "ACTIVE"
# How long a hook waits, after bringing the port up, for its chassis to bind it, and how often
# it asks Neutron meanwhile (tests make both shorter).
PORT_ACTIVE_TIMEOUT = 20.0
PORT_POLL_SECONDS = 1.0


def _cloud():
    """The cloud functions (tests swap this module's attribute for a fake)."""
    from charmed_octavia.cloud import health_ports

    return health_ports


class HealthPort(ops.Object):
    """The port's lifecycle on this unit; ``reconcile`` and ``status`` are called by the
    charm's own reconcile and collect-status."""

    _stored = ops.StoredState()
    cloud = staticmethod(_cloud)

    def __init__(self, charm: ops.CharmBase) -> None:
        """Made before the charm observes its own events: a departure is known to this
        object before the charm's reconcile runs for it."""
        super().__init__(charm, "health-port")
        self.charm = cast("UnitCharm", charm)
        # The last failure ("" none), whether it needs the operator, and whether this unit
        # is leaving (then its port is not made again); o-hm0's failure and whether it needs
        # the operator; why the port is not ACTIVE once up ("" it is), and the port whose
        # toggle was waited for in vain (it is not toggled again on every hook).
        self._stored.set_default(
            error="",
            blocked=False,
            departing=False,
            ohm0_error="",
            ohm0_blocked=False,
            port_down="",
            toggled="",
        )
        # The unit departing in this hook, left out of the leader's list.
        self._departed = ""
        on = charm.on
        charm.framework.observe(on[PEER].relation_departed, self._on_peer_departed)
        for event in (on.stop, on.remove):
            charm.framework.observe(event, self._on_removed)

    # -- reconcile ---------------------------------------------------------------------------

    def reconcile(self, config: CharmConfig) -> None:
        """Ensure this unit's port and publish it; on the leader, the list of every unit's
        address. The port stays administratively down until the host's interface for it
        exists (``health_ports.toggle_hm_port`` then brings it up)."""
        peer = self.model.get_relation(PEER)
        if peer is None:
            return
        shared = peer.data[self.charm.app]
        network = shared.get(resources.BOOT_NETWORKS, "")
        health_secgroup = shared.get(resources.HEALTH_SECGROUP, "")
        if config.enable_amphora and network and health_secgroup and not self._stored.departing:
            self._ensure(config, peer.data[self.charm.unit], network, health_secgroup)
        if self.charm.unit.is_leader():
            self._publish_list(peer, shared)

    def _ensure(
        self,
        config: CharmConfig,
        mine: MutableMapping[str, str],
        network: str,
        health_secgroup: str,
    ) -> None:
        host = self.binding_host()
        cloud = self.cloud()
        conn = None
        try:
            conn = self.charm.connect(config)
            port = cloud.ensure_hm_port(
                conn, self.charm.unit.name, host.host, network, health_secgroup
            )
        except Exception as e:  # any cloud failure is shown in status, never a hook error
            self._failed(e, conn)
            return
        self._stored.error, self._stored.blocked = "", False
        plugged = self._plug(port, host, conn)
        wanted = health_manager.unit_data(port, plugged)
        databags.update(mine, wanted)
        corrected = port.attributes.get("corrected") or []
        if port.created or corrected:
            logger.info(
                "health-manager port %s %s (%s), bound to %s (from %s), address %s",
                port.id,
                "created" if port.created else f"corrected: {', '.join(corrected)}",
                port.name,
                host.host,
                host.source,
                wanted[health_manager.ADDRESS] or "none yet",
            )

    def _plug(self, port: Ensured, host: relations.BindingHost, conn: Connection) -> bool:
        """o-hm0 for the port, when a subordinate charm (ovn-chassis or neutron-openvswitch)
        runs Open vSwitch on this machine and named the host; then the port is brought up
        (``_bring_up``). Whether o-hm0 now carries the port."""
        from charmed_octavia.unit import ohm0
        from charmed_octavia.unit.machine import WorkloadError

        self._stored.port_down = ""
        if host.source == relations.HOSTNAME:
            self._stored.ohm0_error, self._stored.ohm0_blocked = "", False
            return False
        attrs = port.attributes
        try:
            wanted = ohm0.Ohm0Port(
                port.id,
                str(attrs.get("mac") or ""),
                attrs.get("mtu") or 0,
                tuple(str(i) for i in attrs.get("interfaces", ())),
            )
            done = ohm0.reconcile_ohm0(self.charm.workload, wanted, TEMPLATES)
        except (ValueError, ohm0.Ohm0Error, WorkloadError) as e:
            self._stored.ohm0_error = self.charm.redact(str(e))
            # A port Neutron gave no usable address (or MTU), or addresses the machine takes
            # away, need the operator; the rest (no br-int yet, say) comes right by itself.
            self._stored.ohm0_blocked = isinstance(e, (ValueError, ohm0.Ohm0AddressError))
            logger.warning("o-hm0: %s", self._stored.ohm0_error)
            return False
        self._stored.ohm0_error, self._stored.ohm0_blocked = "", False
        if done.changed:
            logger.info("o-hm0 for port %s: %s", port.id, ", ".join(done.changes))
        self._bring_up(port, host, conn, replugged=done.changed)
        return True

    def _bring_up(
        self, port: Ensured, host: relations.BindingHost, conn: Connection, replugged: bool
    ) -> None:
        """Once o-hm0 carries the port: toggled (``toggle_hm_port``: Neutron then rebuilds its
        binding) when it is down, and waited for until its chassis binds it (ACTIVE, within
        ``PORT_ACTIVE_TIMEOUT``). A port still DOWN after that is toggled again only once
        o-hm0 changed; other hooks read its status."""
        attrs = port.attributes
        status = str(attrs.get("status") or "")
        retry = status == "DOWN" and (replugged or self._stored.toggled != port.id)
        if not attrs.get("admin_state_up") or retry:
            try:
                self.cloud().toggle_hm_port(conn, port.id)
                status = self._await_active(conn, port.id)
            except Exception as e:  # retried on the next hook
                self._failed(e, conn)
                return
            self._stored.toggled = port.id
        if status == ACTIVE:
            self._stored.toggled = ""
            return
        self._stored.port_down = (
            f"Health-manager port {port.id} is {status or 'unknown'} on {host.host}: the "
            "chassis there has not bound it (is its agent running under that name?)"
        )
        logger.warning("%s", self._stored.port_down)

    def _await_active(self, conn: Connection, port_id: str) -> str:
        """The port's status once ACTIVE, or the last one seen when the wait ran out."""
        from charmed_octavia.cloud import waiting

        cloud = self.cloud()
        try:
            return waiting.wait_for(
                f"health-manager port {port_id}",
                lambda: cloud.hm_port_status(conn, port_id),
                state=str,
                done=lambda status: status == ACTIVE,
                fault=lambda _status: None,
                timeout=PORT_ACTIVE_TIMEOUT,
                backoff=waiting.Backoff(PORT_POLL_SECONDS, 1.0, PORT_POLL_SECONDS),
            )
        except waiting.WaitTimeout as e:
            return e.last

    def _describe(self, error: Exception, conn: object) -> str:
        """A cloud failure as the log and status tell it, naming the service the failed
        request went to (by the connection's catalog), without secrets."""
        from charmed_octavia.cloud import catalog
        from charmed_octavia.cloud.outcomes import describe_error

        return self.charm.redact(describe_error(error, catalog.endpoints(conn)))

    def _failed(self, error: Exception, conn: object) -> None:
        from charmed_octavia.cloud.networks import MissingResource
        from charmed_octavia.cloud.outcomes import ConflictError

        message = self._describe(error, conn)
        status = getattr(error, "status_code", None)
        # A conflict, a missing network or Neutron's refusal (4xx) needs the operator;
        # anything else (unreachable, 5xx) is retried on the next hook.
        refused = isinstance(status, int) and 400 <= status < 500
        self._stored.blocked = isinstance(error, (ConflictError, MissingResource)) or refused
        self._stored.error = message
        logger.warning("health-manager port: %s", message)

    def binding_host(self) -> relations.BindingHost:
        def units(name: str) -> dict[str, dict[str, str]] | None:
            rels = self.model.relations[name]
            return {u.name: dict(r.data[u]) for r in rels for u in r.units} if rels else None

        return relations.binding_host(
            units(relations.NEUTRON_OPENVSWITCH),
            units(relations.OVSDB_SUBORDINATE),
            socket.gethostname(),
        )

    def _publish_list(self, peer: ops.Relation, shared: MutableMapping[str, str]) -> None:
        unit = self.charm.unit
        published = {unit.name: peer.data[unit].get(health_manager.ADDRESS, "")}
        for other in peer.units:
            if other.name != self._departed:
                published[other.name] = peer.data[other].get(health_manager.ADDRESS, "")
        wanted = health_manager.leader_list(published, shared)
        if wanted is not None:
            shared[resources.CONTROLLER_IPS] = wanted
            logger.info("controller-ip-port-list: %s", wanted)

    # -- departures --------------------------------------------------------------------------

    def _on_peer_departed(self, event: ops.RelationDepartedEvent) -> None:
        departing = event.departing_unit
        if departing is None:
            return
        self._departed = departing.name
        if departing.name == self.charm.unit.name:
            # Juju removes this unit: its port is deleted on stop, and never made again.
            self._stored.departing = True
            return
        if not self.charm.unit.is_leader():
            return
        live = {self.charm.unit.name} | {u.name for u in event.relation.units} - {departing.name}
        self._with_cloud(
            "deleting the ports of departed units",
            lambda cloud, conn: cloud.delete_stale_hm_ports(conn, live, [departing.name]),
        )

    def _on_removed(self, _event: ops.EventBase) -> None:
        self._stored.departing = True
        self._with_cloud(
            "deleting this unit's port",
            lambda cloud, conn: cloud.delete_hm_port(conn, self.charm.unit.name),
        )

    def _with_cloud(self, doing: str, act) -> None:
        """Best effort: ``act(cloud, conn)``, its result or failure logged."""
        config, _ = self.charm.loaded_config()
        if config is None or not config.enable_amphora:
            return
        conn = None
        try:
            conn = self.charm.connect(config)
            done = act(self.cloud(), conn)
        except Exception as e:  # best effort: logged, the hook goes on
            logger.warning("%s: %s", doing, self._describe(e, conn))
            return
        logger.info("%s: %s", doing, done or "none")

    # -- status ------------------------------------------------------------------------------

    def status(self, config: CharmConfig) -> ops.StatusBase | None:
        """Waiting while the port or o-hm0 is not ready, blocked with the reason when it cannot
        be; None otherwise (and before configure-resources, whose own status says so)."""
        peer = self.model.get_relation(PEER)
        if peer is None or not config.enable_amphora:
            return None
        shared = peer.data[self.charm.app]
        if not (shared.get(resources.BOOT_NETWORKS) and shared.get(resources.HEALTH_SECGROUP)):
            return None
        error = self._stored.error
        if error and self._stored.blocked:
            return ops.BlockedStatus(f"Health-manager port: {error}"[:200])
        if self.binding_host().source == relations.HOSTNAME:
            return ops.BlockedStatus(f"Health-manager port: {self._no_host()} {NO_CHASSIS}")
        if not peer.data[self.charm.unit].get(health_manager.PORT_ID):
            return ops.WaitingStatus(f"{WAITING}: {error}"[:200] if error else WAITING)
        ohm0_error = self._stored.ohm0_error
        if ohm0_error and self._stored.ohm0_blocked:
            told = ohm0_error if ohm0_error.startswith("o-hm0") else f"o-hm0: {ohm0_error}"
            return ops.BlockedStatus(told[:200])
        if ohm0_error:
            return ops.WaitingStatus(f"{WAITING_OHM0}: {ohm0_error}"[:200])
        if self._stored.port_down:
            return ops.BlockedStatus(self._stored.port_down[:200])
        return None

    def _no_host(self) -> str:
        """Why no subordinate names the host the port is bound to."""
        related = [name for name in RELATIONS if self.model.relations[name]]
        if not related:
            return "no ovsdb-subordinate or neutron-openvswitch relation"
        if len(related) == 1:
            return f"the {related[0]} relation names no host"
        return f"neither the {' nor the '.join(related)} relation names a host"
