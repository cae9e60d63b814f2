"""The amphora resources as the application shares them: their ids in the peer relation's
application data (written by the leader's configure-resources, or migrated from the existing
charm's leader settings), what octavia.conf makes of them, and the unit's readiness.

The keys are the existing charm's leader-settings keys, so what it stored reads the same here.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

from charmed_octavia.cloud.mgmt_resources import Configured, ResourcesSpec
from charmed_octavia.cloud.networks import MgmtNetworkSpec
from charmed_octavia.unit.config import CharmConfig

BOOT_NETWORKS = "amp-boot-network-list"
SECGROUPS = "amp-secgroup-list"
FLAVOR = "amp-flavor-id"
HEALTH_SECGROUP = "amp-health-secgroup"
# The amp-ssh-key-name keypair, once configure-resources found it in Nova.
KEYPAIR = "amp-ssh-keypair"
# The existing charm's JSON list of health-manager addresses (its o-hm0 ports').
CONTROLLER_IPS = "controller-ip-port-list"
HEARTBEAT_KEY = "heartbeat-key"
# The existing charm's leader settings this charm adopts, and nothing else.
MIGRATED_KEYS = (HEARTBEAT_KEY, BOOT_NETWORKS, SECGROUPS, FLAVOR, CONTROLLER_IPS)
MIGRATED = "migrated-from-leader-settings"

RUN_CONFIGURE = "Run the configure-resources action"


def to_peer_data(configured: Configured) -> dict[str, str]:
    return {
        BOOT_NETWORKS: configured.boot_network,
        SECGROUPS: configured.secgroup,
        HEALTH_SECGROUP: configured.health_secgroup,
        FLAVOR: configured.flavor,
        KEYPAIR: configured.keypair,
    }


@dataclasses.dataclass(frozen=True)
class AmphoraResources:
    """What ``[controller_worker]`` names: the config's values first, then the shared ones."""

    boot_networks: str
    secgroups: str
    flavor: str
    ssh_key_name: str


def amphora_resources(config: CharmConfig, shared: Mapping[str, str]) -> AmphoraResources:
    # A keypair that Nova does not have makes every amphora boot fail: only a found one.
    key = config.amp_ssh_key_name
    return AmphoraResources(
        boot_networks=",".join(config.boot_networks) or shared.get(BOOT_NETWORKS, ""),
        secgroups=",".join(config.secgroups) or shared.get(SECGROUPS, ""),
        flavor=config.custom_amp_flavor_id or config.amp_flavor_id or shared.get(FLAVOR, ""),
        ssh_key_name=key if key and shared.get(KEYPAIR) == key else "",
    )


def readiness(config: CharmConfig, shared: Mapping[str, str]) -> tuple[str, str] | None:
    """("waiting" | "blocked", message) while the amphorae cannot be booted; None when they
    can (or when the amphora provider is off)."""
    if not config.enable_amphora:
        return None
    found = amphora_resources(config, shared)
    if not (found.boot_networks and found.secgroups and found.flavor):
        if not config.create_mgmt_network:
            return (
                "blocked",
                "Create the lb-mgmt network and security groups, then run configure-resources",
            )
        return ("waiting", RUN_CONFIGURE)
    key = config.amp_ssh_key_name
    if key and not found.ssh_key_name:
        fix = "run configure-resources" if config.amp_ssh_pub_key else "set amp-ssh-pub-key"
        return ("blocked", f"Keypair {key!r} (amp-ssh-key-name) is missing: {fix}")
    return None


def migrate(settings: Mapping[str, str], shared: Mapping[str, str]) -> dict[str, str]:
    """The peer application data to write from the existing charm's leader settings: its
    heartbeat key (amphorae sign their heartbeats with it) over one this charm generated, and
    its resource ids where this charm has none yet."""
    wanted: dict[str, str] = {}
    for key in MIGRATED_KEYS:
        value = settings.get(key) or ""
        if not value:
            continue
        if key == HEARTBEAT_KEY or not shared.get(key):
            wanted[key] = value
    if CONTROLLER_IPS in wanted:
        try:
            addresses = json.loads(wanted[CONTROLLER_IPS])
        except ValueError:
            addresses = None
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            del wanted[CONTROLLER_IPS]
    return {k: v for k, v in wanted.items() if shared.get(k) != v}


def migration_summary(migrated: Mapping[str, str]) -> str:
    """What was migrated, for the log: key names and ids, never the heartbeat key's value."""
    parts = []
    for key in sorted(migrated):
        parts.append(key if key == HEARTBEAT_KEY else f"{key}={migrated[key]}")
    return ", ".join(parts) or "nothing"


def spec(config: CharmConfig, unit_public_key: str = "") -> ResourcesSpec:
    """What configure-resources ensures, from the options. The keypair amp-ssh-key-name
    names gets amp-ssh-pub-key, or else ``unit_public_key`` (the unit's own amphora key)."""
    return ResourcesSpec(
        network=MgmtNetworkSpec(
            create=config.create_mgmt_network, ipv4_cidr=config.mgmt_network_ipv4_cidr
        ),
        custom_flavor_id=config.custom_amp_flavor_id,
        keypair_name=config.amp_ssh_key_name,
        public_key=config.public_key() if config.amp_ssh_pub_key else unit_public_key,
    )


def wants_unit_key(config: CharmConfig) -> bool:
    """Whether configure-resources uploads the unit's own amphora key: a keypair is named and
    no public key is given for it."""
    return bool(config.amp_ssh_key_name and not config.amp_ssh_pub_key)


def results(configured: Configured, keypair_name: str) -> dict[str, str]:
    """The action's results: one ``<kind>`` entry a resource ("created <id> <name>" or
    "reused ..."), and the created and reused counts."""
    out: dict[str, str] = {}
    for item in configured.ensured:
        verb = item.action
        if item.kind == "quotas":
            verb = "set" if item.created else "already unlimited"
        out[item.kind] = f"{verb} {item.id} {item.name}".strip()
    if keypair_name and not configured.keypair:
        out["keypair"] = f"missing {keypair_name} (set amp-ssh-pub-key to upload it)"
    created = sum(1 for e in configured.ensured if e.created and e.kind != "quotas")
    out["created"] = str(created)
    out["reused"] = str(sum(1 for e in configured.ensured if not e.created))
    return out
