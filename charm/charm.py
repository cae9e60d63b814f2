#!/usr/bin/env python3
"""Juju charm for OpenStack Octavia: thin glue between Juju events and charmed_octavia.

Every event but the actions runs one idempotent reconcile: apt sources and packages, the
relations' requests, the rendered files, the database schema (leader), the services. Status
is computed from the same facts in collect-status.
"""

from __future__ import annotations

import datetime
import logging
import secrets
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

# The packed charm has lib/ and charm/ beside each other; tests put both on sys.path.
_HERE = Path(__file__).resolve().parent
for _p in (_HERE, _HERE.parent / "lib"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import actions  # noqa: E402
import amphora_certs  # noqa: E402
import api_certs  # noqa: E402
import databags  # noqa: E402
import ha  # noqa: E402
import health_port  # noqa: E402
import leader_settings  # noqa: E402
import lifecycle  # noqa: E402
import monitoring  # noqa: E402
import ops  # noqa: E402
import policy_overrides  # noqa: E402
import resource_actions  # noqa: E402
import unit_actions  # noqa: E402
from action_context import STATE_DIR, ActionContext  # noqa: E402
from charmed_octavia.cloud.outcomes import redact  # noqa: E402
from charmed_octavia.unit import (  # noqa: E402
    health_manager,
    machine,
    pki,
    reconcile,
    relations,
    resources,
)
from charmed_octavia.unit import lifecycle as lifecycle_mod  # noqa: E402
from charmed_octavia.unit import origin as origin_mod  # noqa: E402
from charmed_octavia.unit.config import CharmConfig  # noqa: E402

if TYPE_CHECKING:
    from api_certs import ApiTlsState
    from charmed_octavia.unit.render import RenderInput
    from openstack.connection import Connection

logger = logging.getLogger(__name__)

TEMPLATES = _HERE.parent / "templates"

IDENTITY, DATABASE, AMQP, PEER = "identity-service", "shared-db", "amqp", "cluster"
NEUTRON = "neutron-api"
# Peer application data the leader writes for every unit.
HEARTBEAT_KEY = "heartbeat-key"
CERTS_PASSPHRASE = "server-certs-key-passphrase"  # noqa: S105 - a databag key
DB_SYNCED = "db-synced-version"


@dataclass
class Assessment:
    """What the charm found out about its unit; collect-status turns it into a status."""

    config: CharmConfig | None = None
    config_error: str = ""
    origin: origin_mod.Origin | None = None
    missing_relations: list[str] = field(default_factory=list)
    incomplete: dict[str, str] = field(default_factory=dict)
    identity: relations.IdentityCredentials | None = None
    database: relations.DatabaseCredentials | None = None
    amqp: relations.AmqpCredentials | None = None


class OctaviaCharm(ops.CharmBase):
    """Deploys the Octavia services and runs the SRU test plan actions."""

    # Tests swap the machine for a fake one (apt and systemctl act on the real machine).
    workload_factory: ClassVar = machine.Machine

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self.workload: machine.Workload = type(self).workload_factory()
        self._stored.set_default(apt_pending=False)
        self._error = ""
        # The generated amphora PKI's content, read once per hook (see _generated_pki).
        self._pki_content: dict[str, str] | None = None
        # Before the charm's own observers: it learns of a departure first.
        self.health_port = health_port.HealthPort(self)
        self.ha = ha.HighAvailability(self)
        self.api_certs = api_certs.ApiCerts(self)
        self.lifecycle = lifecycle.Lifecycle(self)
        self.monitoring = monitoring.Monitoring(self)
        self.policy_overrides = policy_overrides.PolicyOverrides(self, self.workload)
        on = self.on
        for event in (
            on.install,
            on.config_changed,
            on.upgrade_charm,
            on.update_status,
            on.leader_elected,
            on.start,
        ):
            framework.observe(event, self._on_event)
        for name in (
            IDENTITY,
            DATABASE,
            AMQP,
            PEER,
            NEUTRON,
            api_certs.CERTIFICATES,
            *health_port.RELATIONS,
            *ha.RELATIONS,
        ):
            rel = on[name]
            for event in (
                rel.relation_joined,
                rel.relation_changed,
                rel.relation_departed,
                rel.relation_broken,
            ):
                framework.observe(event, self._on_event)
        framework.observe(on.collect_unit_status, self._on_collect_status)
        # ops names action events "<name with underscores>_action"; keep the real names.
        self._action_names = {f"{a.replace('-', '_')}_action": a for a in self.meta.actions}
        for action in self.meta.actions:
            framework.observe(on[action].action, self._on_action)

    # -- reconcile ---------------------------------------------------------------------------

    def _on_event(self, _event: ops.EventBase | None = None) -> None:
        if self.lifecycle.series_upgrading:
            return  # the machine is being upgraded; post-series-upgrade takes it from there
        try:
            self._reconcile()
            self.monitoring.update()
        except machine.WorkloadError as e:
            # Shown in status and retried on the next event (update-status at the latest).
            self._error = self._redact(str(e))
            logger.error("reconcile failed: %s", self._error)

    def _maintenance(self, message: str) -> None:
        self.unit.status = ops.MaintenanceStatus(message)

    def _reconcile(self) -> None:
        found = self.assess()
        if found.config is None or found.origin is None:
            logger.warning("not configuring: %s", found.config_error)
            return
        wl = self.workload
        held = self.lifecycle.holds_upgrade(found.config, found.origin)
        if not held and reconcile.sync_apt_sources(wl, found.origin, self._maintenance):
            # Kept until the install succeeds, so a failed update is retried.
            self._stored.apt_pending = True
        packages_changed = reconcile.install_packages(
            wl,
            found.origin,
            from_new_sources=self._stored.apt_pending and not held,
            status=self._maintenance,
        )
        self._stored.apt_pending = self._stored.apt_pending and held
        reconcile.keep_masked(wl)
        self._migrate_leader_settings()
        self._share_leader_values()
        if self.unit.is_leader() and not amphora_certs.operator_owned(found.config):
            shared = self.peer_app_data()
            if shared is not None:
                amphora_certs.generate(self.app, shared)
        self.api_certs.publish_request(found.config, self._address(PEER))
        tls = self.api_certs.assess(found.config)
        trust_changed = self.api_certs.sync_trust_store(tls)
        self._publish_to_neutron(found.config, tls.scheme)
        self._publish(found.config, tls.scheme)
        self.ha.reconcile(found.config)
        if found.identity is not None:
            self.health_port.reconcile(found.config)
        inputs = self._render_input(found, tls)
        if inputs is None:
            reconcile.stop_services(wl)
            return
        from charmed_octavia.unit import render

        changed = reconcile.apply_files(wl, render.desired_files(inputs, TEMPLATES))
        changed |= self.policy_overrides.apply(found.config)
        changed |= trust_changed | self.api_certs.enable_mod_ssl(tls)
        if wl.symlink(machine.APACHE_SITE_LINK, machine.APACHE_SITE_LINK_TARGET):
            changed.add(machine.APACHE_SITE_LINK)
        if changed:
            logger.info("updated %s", ", ".join(sorted(changed)))
        if not self._migrate_database():
            reconcile.stop_services(wl)
            return
        restart = reconcile.changed_services(changed, machine.READERS)
        if packages_changed:
            # New code on disk: every service must load it.
            restart = list(machine.SERVICES)
        self.lifecycle.run_services(restart, pacemaker=self.ha.pacemaker_services())

    def _migrate_leader_settings(self) -> None:
        """Once, on the leader: adopt the existing charm's heartbeat key and resource ids."""
        peer = self.model.get_relation(PEER)
        if peer is None or not self.unit.is_leader():
            return
        data = peer.data[self.app]
        if data.get(resources.MIGRATED):
            return
        migrated = resources.migrate(leader_settings.leader_get(), data)
        for key, value in migrated.items():
            data[key] = value
        data[resources.MIGRATED] = "true"
        logger.info("from the leader settings: %s", resources.migration_summary(migrated))

    def _publish_to_neutron(self, config: CharmConfig, scheme: str) -> None:
        """The API's internal URL for neutron-api, JSON-encoded as the reactive interface."""
        url = self.ha.endpoints(config).urls(scheme).get("internal")
        if url is None:
            return  # no host for the internal endpoint: status says why
        for rel in self.model.relations[NEUTRON]:
            databags.update(rel.data[self.unit], relations.load_balancer_info(url))

    def _share_leader_values(self) -> None:
        peer = self.model.get_relation(PEER)
        if peer is None or not self.unit.is_leader():
            return
        data = peer.data[self.app]
        for key in (HEARTBEAT_KEY, CERTS_PASSPHRASE):
            if not data.get(key):
                # Octavia requires exactly 32 characters for the passphrase.
                data[key] = "".join(
                    secrets.choice(string.ascii_letters + string.digits) for _ in range(32)
                )

    def _publish(self, config: CharmConfig, scheme: str) -> None:
        """Write this unit's requests on every relation that exists, when they differ."""
        urls = self.ha.endpoints(config).urls(scheme)
        for name in (IDENTITY, DATABASE, AMQP):
            for rel in self.model.relations[name]:
                address = self._address(rel)
                if name == IDENTITY:
                    if len(urls) < 3:
                        continue  # an endpoint without a host: status says why
                    wanted = relations.identity_request(
                        region=config.region,
                        public_url=urls["public"],
                        internal_url=urls["internal"],
                        admin_url=urls["admin"],
                    )
                elif name == DATABASE:
                    wanted = relations.database_request(address)
                else:
                    wanted = relations.amqp_request(address)
                databags.update(rel.data[self.unit], wanted)

    def _address(self, relation: ops.Relation | str) -> str:
        binding = self.model.get_binding(relation)
        address = binding.network.ingress_address if binding is not None else None
        return str(address) if address is not None else ""

    def _render_input(self, found: Assessment, api: ApiTlsState) -> RenderInput | None:
        if found.missing_relations or found.incomplete:
            return None
        peer = self.model.get_relation(PEER)
        if peer is None:
            return None
        shared = peer.data[self.app]
        if not shared.get(HEARTBEAT_KEY) or not shared.get(CERTS_PASSPHRASE):
            return None
        assert found.config and found.identity and found.database and found.amqp
        tls = amphora_certs.material(found.config, self._generated_pki())
        if tls is None:
            return None
        from charmed_octavia.unit.render import RenderInput

        return RenderInput(
            config=found.config,
            identity=found.identity,
            database=found.database,
            amqp=found.amqp,
            heartbeat_key=shared[HEARTBEAT_KEY],
            server_certs_key_passphrase=shared[CERTS_PASSPHRASE],
            unit_address=self._address(PEER),
            tls=tls,
            shared=dict(shared),
            hm_address=peer.data[self.unit].get(health_manager.ADDRESS, ""),
            api_certificate=api.certificate,
            trusts_installed_ca=api.trusts_installed_ca,
            cpus=self.workload.cpu_count(),
        )

    # -- amphora PKI -------------------------------------------------------------------------

    def peer_app_data(self) -> ops.RelationDataContent | None:
        peer = self.model.get_relation(PEER)
        return peer.data[self.app] if peer is not None else None

    def _generated_pki(self) -> dict[str, str] | None:
        if self._pki_content is None:
            shared = self.peer_app_data()
            if shared is not None:
                self._pki_content = amphora_certs.content(self.model, shared)
        return self._pki_content

    def apply_amphora_pki(self, content: dict[str, str]) -> None:
        """Render ``content`` now (a rotation: the secret's new revision is not readable in
        the hook that sets it)."""
        self._pki_content = content
        self._on_event()

    def _migrate_database(self) -> bool:
        """Bring the schema to the installed Octavia (leader); True once it is there."""
        peer = self.model.get_relation(PEER)
        if peer is None:
            return False
        shared = peer.data[self.app]
        if not self.unit.is_leader():
            # Not before the leader has migrated the schema to this unit's release.
            synced = shared.get(DB_SYNCED, "")
            return bool(synced) and not lifecycle_mod.schema_wait(self._octavia_version(), synced)
        version = self._octavia_version()
        if shared.get(DB_SYNCED) == version:
            return True
        self._maintenance("Migrating the Octavia database")
        self.workload.run(machine.DB_MANAGE)
        shared[DB_SYNCED] = version
        logger.info("database schema at head for octavia %s", version)
        return True

    def _octavia_version(self) -> str:
        # The schema follows the Octavia code installed; any of its packages tells its version.
        return lifecycle_mod.installed_version(self.workload) or "unknown"

    # -- facts and status --------------------------------------------------------------------

    def _load_config(self) -> tuple[CharmConfig | None, str]:
        """The config, or None and the status message saying what is wrong."""
        try:
            return self.load_config(CharmConfig), ""
        except pki.PKIError as e:
            return None, f"Amphora certificates: {e}"
        except ValueError as e:
            return None, f"Invalid config: {e}"

    def assess(self) -> Assessment:
        """Config, origin and relation facts; no side effects."""
        found = Assessment()
        found.config, found.config_error = self._load_config()
        if found.config is None:
            return found
        try:
            found.origin = origin_mod.parse_origin(
                found.config.openstack_origin, machine.series(self.workload)
            )
        except ValueError as e:
            found.config = None
            found.config_error = f"Invalid config: {e}"
            return found
        unit = self.unit.name
        for name in (IDENTITY, DATABASE, AMQP):
            units = self._remote_units(name)
            if units is None:
                found.missing_relations.append(name)
            elif name == IDENTITY:
                found.identity = relations.parse_identity(units)
                if found.identity is None:
                    missing = relations.missing_identity_keys(units)
                    found.incomplete[name] = f"missing {', '.join(missing)}"
            elif name == DATABASE:
                found.database = relations.parse_database(units, unit)
                if found.database is None:
                    found.incomplete[name] = relations.database_wait_reason(units, unit) or ""
            else:
                found.amqp = relations.parse_amqp(units)
                if found.amqp is None:
                    found.incomplete[name] = (
                        "no rabbitmq unit has set password and private-address"
                    )
        return found

    def _remote_units(self, name: str) -> dict[str, dict[str, str]] | None:
        """Every remote unit's databag on the relations named ``name``; None: no relation."""
        rels = self.model.relations[name]
        if not rels:
            return None
        return {u.name: dict(r.data[u]) for r in rels for u in r.units}

    def _on_collect_status(self, event: ops.CollectStatusEvent) -> None:
        held = self.lifecycle.status()
        if held is not None:
            event.add_status(held)  # paused: nothing else matters until resumed
            return
        found = self.assess()
        if found.config is None:
            event.add_status(ops.BlockedStatus(found.config_error))
            return
        if self._error:
            event.add_status(ops.BlockedStatus(self._error[:200]))
        missing_packages = self.workload.missing_packages(machine.PACKAGES)
        if missing_packages or self._stored.apt_pending:
            event.add_status(ops.MaintenanceStatus("Installing packages"))
        if found.missing_relations:
            event.add_status(
                ops.BlockedStatus(f"Missing relations: {', '.join(found.missing_relations)}")
            )
        if found.incomplete:
            event.add_status(
                ops.WaitingStatus(f"Incomplete relations: {', '.join(sorted(found.incomplete))}")
            )
        peer = self.model.get_relation(PEER)
        shared = peer.data[self.app] if peer is not None else {}
        if not shared.get(HEARTBEAT_KEY) or not shared.get(DB_SYNCED):
            event.add_status(ops.WaitingStatus("Waiting for the leader to set up the database"))
        schema = self.lifecycle.schema_status(shared.get(DB_SYNCED, ""))
        if schema is not None:
            event.add_status(schema)
        tls = amphora_certs.material(found.config, self._generated_pki())
        pki_status, ready = amphora_certs.status(tls, datetime.datetime.now(datetime.timezone.utc))
        if pki_status is not None:
            event.add_status(pki_status)
        if not missing_packages:
            down = [s for s in machine.SERVICES if not self.workload.service_active(s)]
            if down:
                event.add_status(ops.WaitingStatus(f"Services not running: {', '.join(down)}"))
            self.unit.set_workload_version(self._octavia_version())
        # What amphorae need in the cloud (resources.readiness), beside the amphora
        # certificates' own states above.
        amphora = resources.readiness(found.config, shared)
        if amphora is not None:
            kind, message = amphora
            status = ops.BlockedStatus if kind == "blocked" else ops.WaitingStatus
            event.add_status(status(message))
        ha_status = self.ha.status(found.config)
        if ha_status is not None:
            event.add_status(ha_status)
        tls_status = self.api_certs.status(self.api_certs.assess(found.config))
        if tls_status is not None:
            event.add_status(tls_status)
        port_status = self.health_port.status(found.config)
        if port_status is not None:
            event.add_status(port_status)
        ready = self.lifecycle.ready_message(ready, found.config, found.origin)
        event.add_status(self.policy_overrides.status(found.config, ready))

    def _redact(self, text: str) -> str:
        """``text`` without any secret the relations, the config or the peer data hold."""
        found = self.assess()
        values = []
        if found.identity:
            values.append(found.identity.password)
        if found.database:
            values.append(found.database.password)
        if found.amqp:
            values.extend(s.password for s in found.amqp.servers)
        if found.config and found.config.lb_mgmt_issuing_ca_key_passphrase:
            values.append(found.config.lb_mgmt_issuing_ca_key_passphrase)
        peer = self.model.get_relation(PEER)
        if peer is not None:
            shared = peer.data[self.app]
            values.extend(shared.get(key, "") for key in (HEARTBEAT_KEY, CERTS_PASSPHRASE))
        values.extend(amphora_certs.secret_values(found.config, self._generated_pki()))
        return redact(text, values)

    # -- actions -----------------------------------------------------------------------------

    def _on_action(self, event: ops.ActionEvent) -> None:
        name = self._action_names[event.handle.kind]
        resource_handler = resource_actions.HANDLERS.get(name) or lifecycle.HANDLERS.get(name)
        if resource_handler is not None:
            resource_handler(event, self)
            return
        handler = actions.HANDLERS.get(name)
        unit_handler = unit_actions.HANDLERS.get(name)
        if handler is None and unit_handler is None:
            event.fail(f"action {name!r} is not implemented by this charm revision")
            return
        config, error = self._load_config()
        if config is None:
            event.fail(f"{name}: {error}")
            return
        if unit_handler is not None:
            unit_handler(event, self, config)
        else:
            assert handler is not None
            handler(event, self.action_context(config))

    # -- for the unit's own actions (resource_actions) ----------------------------------------

    def loaded_config(self) -> tuple[CharmConfig | None, str]:
        return self._load_config()

    def connect(self, config: CharmConfig) -> Connection:
        return self._connect(config)

    def redact(self, text: str) -> str:
        return self._redact(text)

    def reconcile_now(self, *, refresh_packages: bool = False) -> str:
        """Render what the peer data now holds, as any event would; the failure ("" none).
        ``refresh_packages``: refresh the indexes and install every package anew."""
        if refresh_packages:
            self._stored.apt_pending = True
        self._error = ""
        self._on_event(None)
        return self._error

    def current_origin(self) -> tuple[origin_mod.Origin | None, str]:
        found = self.assess()
        return found.origin, found.config_error

    def amphora_public_key(self) -> str:
        """This unit's amphora SSH public key (made once), whose private half the plan's
        SSH checks use."""
        from charmed_octavia.amphora import ssh

        return ssh.ensure_keypair(self._state_dir / "ssh")[1]

    @property
    def _state_dir(self) -> Path:
        return self.workload.root / STATE_DIR.relative_to("/")

    def action_context(self, config: CharmConfig) -> ActionContext:
        """Plain values and factories the action handlers work with."""
        state = self._state_dir
        return ActionContext(
            config=config,
            connect=lambda: self._connect(config),
            ssh_dir=state / "ssh",
            state_dir=state / "plan",
            report_dir=state / "reports",
            octavia_conf=self.workload.root / machine.OCTAVIA_CONF.lstrip("/"),
            series=machine.series(self.workload),
            package_versions=lambda: self.workload.package_versions(machine.VERSION_PACKAGES),
        )

    def _connect(self, config: CharmConfig) -> Connection:
        units = self._remote_units(IDENTITY)
        if units is None:
            raise RuntimeError("no identity-service relation: relate octavia to keystone")
        identity = relations.parse_identity(units)
        if identity is None:
            missing = ", ".join(relations.missing_identity_keys(units))
            raise RuntimeError(f"the identity-service relation is not complete: missing {missing}")
        internal = config.use_internal_endpoints
        from charmed_octavia.cloud import connection

        return connection.connect(
            auth_url=identity.auth_url(internal) + "/v3",
            username=identity.username,
            password=identity.password,
            project_name=identity.project_name,
            user_domain_name=identity.user_domain_name,
            project_domain_name=identity.project_domain_name,
            region_name=config.region,
            interface="internal" if internal else "public",
            # The CAs the charm installed are in the system bundle, not in certifi's.
            verify=machine.SYSTEM_CA_BUNDLE
            if self.api_certs.assess(config).trusts_installed_ca
            else True,
        )


if __name__ == "__main__":  # pragma: nocover
    ops.main(OctaviaCharm)
