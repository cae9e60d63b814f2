"""The API's endpoints on the unit's bindings or VIPs, and the ``ha`` relation to hacluster
(``charmed_octavia.unit.endpoints`` and ``hacluster``): what the charm's reconcile publishes
and what collect-status says of it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import databags
import ops
from charmed_octavia.unit import endpoints, hacluster

if TYPE_CHECKING:
    from charmed_octavia.unit.config import CharmConfig

logger = logging.getLogger(__name__)

HA = "ha"
RELATIONS = (HA, "ovsdb-cms")
PEER = "cluster"
DNS_HA_UNSUPPORTED = "dns-ha is not supported yet"
WAITING = "Waiting for hacluster to form the cluster"


class HighAvailability(ops.Object):
    """Endpoint hosts for the relations' data, and the unit's request on ``ha``."""

    def __init__(self, charm: ops.CharmBase) -> None:
        super().__init__(charm, "ha")
        self.charm = charm

    def _binding(self, name: str) -> endpoints.Binding:
        binding = self.model.get_binding(name)
        if binding is None:
            return endpoints.Binding("")
        network = binding.network
        interfaces = tuple(
            endpoints.Interface(i.name, str(i.address or ""), str(i.subnet or ""))
            for i in network.interfaces
        )
        address = network.ingress_address
        return endpoints.Binding(str(address) if address is not None else "", interfaces)

    def bindings(self) -> dict[str, endpoints.Binding]:
        """The three endpoints' bindings and the peer binding (its network counts for VIPs)."""
        return {name: self._binding(name) for name in (*endpoints.ENDPOINT_TYPES, PEER)}

    def endpoints(self, config: CharmConfig) -> endpoints.Endpoints:
        hostnames = {
            endpoints.PUBLIC: config.os_public_hostname,
            endpoints.INTERNAL: config.os_internal_hostname,
            endpoints.ADMIN: config.os_admin_hostname,
        }
        networks = {
            endpoints.PUBLIC: config.os_public_network,
            endpoints.INTERNAL: config.os_internal_network,
            endpoints.ADMIN: config.os_admin_network,
        }
        return endpoints.resolve(hostnames, config.vips(), self.bindings(), networks)

    def _remote_units(self) -> dict[str, dict[str, str]] | None:
        relation = self.model.get_relation(HA)
        if relation is None:
            return None
        return {u.name: dict(relation.data[u]) for u in relation.units}

    def clustered(self) -> bool:
        return hacluster.clustered(self._remote_units() or {})

    def pacemaker_services(self) -> tuple[str, ...]:
        """The services pacemaker starts and stops here (hacluster disabled them at boot):
        the charm does not enable them again."""
        return (hacluster.CLONED_SERVICE,) if self.clustered() else ()

    def reconcile(self, config: CharmConfig) -> None:
        """This unit's request on ``ha``, when related; unchanged while the VIPs are wrong."""
        relation = self.model.get_relation(HA)
        if relation is None or config.dns_ha:
            return
        vips = config.vips()
        bindings = self.bindings()
        if endpoints.stray_vips(vips, bindings):
            return
        interfaces = {}
        for vip in vips:
            found = endpoints.interface_for(vip, bindings)
            interfaces[vip] = found.name if found is not None else ""
        data = relation.data[self.charm.unit]
        wanted = hacluster.request(
            vips, interfaces, bind_iface=config.vip_iface, published=dict(data)
        )
        changed = databags.update(data, wanted)
        if changed:
            logger.info("ha: updated %s", ", ".join(changed))

    def status(self, config: CharmConfig) -> ops.StatusBase | None:
        if config.dns_ha:
            return ops.BlockedStatus(DNS_HA_UNSUPPORTED)
        problems = self.endpoints(config).problems
        if problems:
            return ops.BlockedStatus("; ".join(problems))
        units = self._remote_units()
        if units and not hacluster.clustered(units):
            return ops.WaitingStatus(WAITING)
        return None
