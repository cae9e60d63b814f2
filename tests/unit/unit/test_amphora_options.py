"""The existing charm's amphora options as this charm reads them: anti-affinity-policy's
auto and disable, amp-ssh-pub-key, mgmt-network-ipv4-cidr, and the leader-settings migration's
choice of values."""

from __future__ import annotations

import base64

import pytest
from charmed_octavia.unit import resources
from charmed_octavia.unit.config import CharmConfig

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyMaterial op@host"


@pytest.mark.parametrize(
    ("topology", "policy", "enable", "wanted"),
    [
        ("SINGLE", "auto", False, (False, "soft-anti-affinity")),
        ("ACTIVE_STANDBY", "auto", False, (True, "soft-anti-affinity")),
        ("ACTIVE_STANDBY", "anti-affinity", False, (True, "anti-affinity")),
        ("ACTIVE_STANDBY", "disable", True, (False, "anti-affinity")),
        ("SINGLE", "soft-anti-affinity", True, (True, "soft-anti-affinity")),
    ],
)
def test_anti_affinity_as_the_existing_charm_sets_it(topology, policy, enable, wanted):
    # Arrange
    config = CharmConfig(
        loadbalancer_topology=topology, anti_affinity_policy=policy, enable_anti_affinity=enable
    )

    # Act
    got = config.anti_affinity()

    # Assert
    assert got == wanted


@pytest.mark.parametrize("given", [KEY, base64.b64encode(KEY.encode()).decode()])
def test_amp_ssh_pub_key_takes_base64_or_the_line(given):
    # Act
    key = CharmConfig(amp_ssh_pub_key=given).public_key()

    # Assert
    assert key == KEY


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"amp_ssh_pub_key": "bm90IGEga2V5"}, "amp-ssh-pub-key is not an OpenSSH public-key line"),
        ({"amp_ssh_pub_key": "%%%"}, "amp-ssh-pub-key is not base64 of an OpenSSH public key"),
        ({"mgmt_network_ipv4_cidr": "fc00::/64"}, "is not an IPv4 network"),
        ({"mgmt_network_ipv4_cidr": "10.0.0.1/24"}, "is not an IPv4 network"),
        ({"anti_affinity_policy": "strict"}, "anti-affinity-policy must be one of auto, disable"),
        ({"amp_active_retries": 0}, "amp-active-retries must be from 1"),
        ({"spare_pool_size": -1}, "spare-pool-size must be from 0"),
    ],
)
def test_bad_amphora_options_are_refused(options, message):
    # Act
    with pytest.raises(ValueError) as raised:
        CharmConfig(**options)

    # Assert
    assert message in str(raised.value)


def test_migration_prefers_the_old_heartbeat_key_and_keeps_ids_already_shared():
    # Arrange
    settings = {"heartbeat-key": "old", "amp-boot-network-list": "net-old", "other": "x"}
    shared = {"heartbeat-key": "new", "amp-boot-network-list": "net-new"}

    # Act
    migrated = resources.migrate(settings, shared)

    # Assert
    assert migrated == {"heartbeat-key": "old"}
    assert resources.migration_summary(migrated) == "heartbeat-key"
