"""The API's TLS on the unit: the certificates relation's request and answer, the ssl_*
options, keystone's CA, and the system trust store every client of the charm reads."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import databags
import ops
from charmed_octavia.unit import api_tls, machine, reconcile
from charmed_octavia.unit.config import CharmConfig

logger = logging.getLogger(__name__)

CERTIFICATES = "certificates"
IDENTITY = "identity-service"
# The endpoints' bindings, as the OpenStack charms name them (extra-bindings when declared).
BINDINGS = ("public", "internal", "admin")


@dataclass(frozen=True)
class ApiTlsState:
    """What this hook found: the certificate to serve, the CAs to trust, what is missing."""

    certificate: api_tls.ApiCertificate | None = None
    cas: dict[str, str] = field(default_factory=dict)
    waiting: str = ""
    blocked: str = ""

    @property
    def scheme(self) -> str:
        return "https" if self.certificate is not None else "http"

    @property
    def trusts_installed_ca(self) -> bool:
        return any(self.cas.values())


class ApiCerts(ops.Object):
    """Requests the API's certificate, finds what to serve and installs the CAs."""

    def __init__(self, charm: ops.CharmBase) -> None:
        super().__init__(charm, CERTIFICATES)
        self.charm = charm

    # -- the request -----------------------------------------------------------------------

    def addresses(self, fallback: str) -> list[str]:
        """The public, internal and admin bindings' addresses, each ``fallback`` (the unit's
        address) when the charm has no such binding."""
        meta = self.charm.meta
        found = []
        for name in BINDINGS:
            address = ""
            if name in meta.extra_bindings or name in meta.relations:
                binding = self.model.get_binding(name)
                network = binding.network if binding is not None else None
                address = str(network.ingress_address) if network is not None else ""
            found.append(address or fallback)
        return found

    def publish_request(self, config: CharmConfig, unit_address: str) -> None:
        """This unit's certificate request on every certificates relation, when it differs."""
        relations = self.model.relations[CERTIFICATES]
        if not relations:
            return
        names = [
            n
            for n in (
                config.os_public_hostname,
                config.os_internal_hostname,
                config.os_admin_hostname,
            )
            if n
        ]
        # The VIPs too: behind hacluster, clients reach the API at them.
        names += list(config.vips())
        try:
            wanted = api_tls.certificate_request(
                self.charm.unit.name, self.addresses(unit_address), names
            )
        except ValueError as e:
            logger.warning("no certificate requested: %s", e)
            return
        for rel in relations:
            databags.update(rel.data[self.charm.unit], wanted)

    # -- what to serve and trust -----------------------------------------------------------

    def assess(self, config: CharmConfig) -> ApiTlsState:
        """The certificate (the options' first, then the relation's) and the CAs; no side
        effects. ``config`` is valid, so the options decode."""
        options = config.api_tls()
        cas = {"ssl_ca": options.ca}
        for rel in self.model.relations[IDENTITY]:
            keystone = api_tls.keystone_ca({u.name: dict(rel.data[u]) for u in rel.units})
            if keystone:
                cas["keystone"] = keystone
                break
        certificate, waiting, blocked = options.certificate, "", ""
        for rel in self.model.relations[CERTIFICATES]:
            app = rel.app.name if rel.app is not None else CERTIFICATES
            units = {u.name: dict(rel.data[u]) for u in rel.units}
            try:
                issued = api_tls.answer(units, self.charm.unit.name, rel.data[self.charm.unit])
            except api_tls.CertificateError as e:
                blocked = str(e)
                continue
            if issued is None:
                waiting = waiting or f"Waiting for the certificate from {app}"
                continue
            cas["certificates"] = issued.ca
            cas["chain"] = issued.chain
            if certificate is None:
                certificate = issued
            waiting = ""
            break
        if options.certificate is not None:
            # The options' certificate is served: nothing to wait for.
            waiting = blocked = ""
        return ApiTlsState(certificate=certificate, cas=cas, waiting=waiting, blocked=blocked)

    def sync_trust_store(self, state: ApiTlsState) -> set[str]:
        """The CA files as ``state`` says, update-ca-certificates run once if any changed;
        the paths that changed (the system bundle among them then)."""
        wl = self.charm.workload  # type: ignore[attr-defined]
        changed = reconcile.apply_files(wl, api_tls.trust_files(state.cas))
        if changed:
            try:
                wl.run(machine.UPDATE_CA_CERTIFICATES)
            except machine.WorkloadError:
                # Undone, so that the next hook finds them changed and runs it again.
                for path in changed:
                    wl.remove_file(path)
                raise
            changed.add(machine.SYSTEM_CA_BUNDLE)
            logger.info("trust store: updated %s", ", ".join(sorted(changed)))
        return changed

    def enable_mod_ssl(self, state: ApiTlsState) -> set[str]:
        """mod_ssl enabled (as a2enmod would) once there is a certificate; the links made.
        It is left enabled after TLS is turned off: the operator may use it elsewhere."""
        if state.certificate is None:
            return set()
        wl = self.charm.workload  # type: ignore[attr-defined]
        return {
            link
            for link, target in machine.APACHE_SSL_MODULE_LINKS.items()
            if wl.symlink(link, target)
        }

    def status(self, state: ApiTlsState) -> ops.StatusBase | None:
        if state.blocked:
            return ops.BlockedStatus(state.blocked[:200])
        if state.waiting:
            return ops.WaitingStatus(state.waiting)
        return None
