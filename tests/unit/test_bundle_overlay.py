"""A bundle overlay written for the existing Octavia charm deploys with this one: every
relation it names to octavia meets an endpoint of ours with the other side's interface and the
opposite role, every option it sets is ours, every binding is one of our endpoints or extra
bindings; and it relates every endpoint the existing charm offers (the reference's table)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
OVERLAY = REPO / "tests/juju/bundles/existing-charm-overlay.yaml"
# The other sides, as their charms' metadata.yaml declare them: (interface, role).
REMOTE = {
    "keystone:identity-service": ("keystone", "provides"),
    "octavia-mysql-router:shared-db": ("mysql-shared", "provides"),
    "rabbitmq-server:amqp": ("rabbitmq", "provides"),
    "neutron-api:neutron-load-balancer": ("neutron-load-balancer", "provides"),
    "ovn-chassis-octavia:ovsdb-subordinate": ("ovsdb-subordinate", "provides"),
    "ovn-central:ovsdb-cms": ("ovsdb-cms", "provides"),
    "vault:certificates": ("tls-certificates", "provides"),
    "hacluster-octavia:ha": ("hacluster", "provides"),
    "nrpe-octavia:nrpe-external-master": ("nrpe-external-master", "requires"),
}
# The existing charm's endpoints (its metadata.yaml), but its peers and neutron-openvswitch,
# which an OVN cloud does not relate (ovsdb-subordinate takes its place).
EXISTING = {
    "identity-service",
    "shared-db",
    "amqp",
    "neutron-api",
    "ovsdb-subordinate",
    "ovsdb-cms",
    "certificates",
    "ha",
    "nrpe-external-master",
}
OPPOSITE = {"provides": "requires", "requires": "provides"}


def _ours() -> dict[str, tuple[str, str]]:
    meta = yaml.safe_load((REPO / "metadata.yaml").read_text())
    return {
        name: (spec["interface"], role)
        for role in ("requires", "provides", "peers")
        for name, spec in (meta.get(role) or {}).items()
    }


def _octavia_relations() -> list[tuple[str, str]]:
    overlay = yaml.safe_load(OVERLAY.read_text())
    pairs = []
    for left, right in overlay["relations"]:
        if left.startswith("octavia:"):
            pairs.append((left.split(":", 1)[1], right))
        elif right.startswith("octavia:"):
            pairs.append((right.split(":", 1)[1], left))
    return pairs


@pytest.mark.parametrize(("endpoint", "remote"), _octavia_relations())
def test_each_relation_of_the_overlay_meets_an_endpoint_of_ours(endpoint: str, remote: str):
    # Arrange
    ours = _ours()
    interface, role = REMOTE[remote]

    # Act
    found = ours.get(endpoint)

    # Assert
    assert found is not None, f"metadata.yaml has no {endpoint} endpoint"
    assert found == (interface, OPPOSITE[role]), f"{endpoint}: {found} cannot meet {remote}"


def test_the_overlay_relates_every_endpoint_the_existing_charm_offers():
    # Act
    related = {endpoint for endpoint, _ in _octavia_relations()}

    # Assert
    assert related == EXISTING


def test_the_overlays_options_and_bindings_are_ours():
    # Arrange
    octavia = yaml.safe_load(OVERLAY.read_text())["applications"]["octavia"]
    options = set(yaml.safe_load((REPO / "config.yaml").read_text())["options"])
    meta = yaml.safe_load((REPO / "metadata.yaml").read_text())
    endpoints = set(_ours()) | set(meta.get("extra-bindings") or {})

    # Act
    unknown_options = set(octavia["options"]) - options
    unknown_bindings = set(octavia["bindings"]) - endpoints - {""}

    # Assert
    assert unknown_options == set()
    assert unknown_bindings == set()


def test_the_existing_charms_resource_is_ours_as_it_declares_it():
    # Arrange: charm-octavia's metadata.yaml (from layer-openstack-principle's policyd).
    existing = {"policyd-override": {"type": "file", "filename": "policyd-override.zip"}}
    meta = yaml.safe_load((REPO / "metadata.yaml").read_text())

    # Act
    ours = {
        name: {k: v for k, v in spec.items() if k != "description"}
        for name, spec in (meta.get("resources") or {}).items()
    }

    # Assert: `juju deploy --resource policyd-override=...` of such a bundle finds it.
    assert ours == existing
