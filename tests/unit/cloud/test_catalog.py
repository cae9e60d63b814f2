"""Which service a URL belongs to, by the catalog a connection already holds."""

from __future__ import annotations

from charmed_octavia.cloud import catalog
from charmed_octavia.cloud.catalog import Endpoint

from tests.unit.loopback_cloud import closed_port, connection


def test_endpoints_are_the_identity_url_and_the_held_tokens_catalog_without_a_request():
    # Arrange: Keystone's port refuses connections; asking it anything would fail.
    keystone = f"http://127.0.0.1:{closed_port()}/v3"
    conn = connection(
        keystone,
        {"compute": "http://127.0.0.1:8774/v2.1", "load-balancer": "http://127.0.0.1:9876"},
    )

    # Act
    found = catalog.endpoints(conn)

    # Assert
    assert [(e.label, e.url) for e in found] == [
        ("Keystone (identity)", keystone),
        ("Nova (compute)", "http://127.0.0.1:8774/v2.1"),
        ("Octavia (load-balancer)", "http://127.0.0.1:9876"),
    ]


def test_before_the_first_token_only_the_identity_url_is_known():
    # Arrange
    keystone = f"http://127.0.0.1:{closed_port()}/v3"

    # Act
    found = catalog.endpoints(connection(keystone))

    # Assert
    assert found == (Endpoint("identity", "keystone", keystone),)


def test_anything_but_a_connection_has_no_endpoints():
    assert catalog.endpoints(object()) == ()


def test_a_url_belongs_to_the_endpoint_with_the_longest_path_at_its_host_and_port():
    # Arrange: one proxy in front of every API, told apart by path, as some clouds are.
    known = (
        Endpoint("identity", "keystone", "https://api.example/identity/v3"),
        Endpoint("compute", "nova", "https://api.example/compute/v2.1"),
        Endpoint("load-balancer", "octavia", "https://api.example/load-balancer"),
        Endpoint("load-balancer", "octavia", "https://api.example/load-balancer/v2"),
    )

    # Act
    compute = catalog.service_at("https://api.example/compute/v2.1/flavors/10", known)
    octavia = catalog.service_at("https://api.example/load-balancer/v2/lbaas/pools", known)
    nothing = catalog.service_at("https://api.example/image/v2/images", known)
    other_scheme = catalog.service_at("http://api.example/compute/v2.1/flavors", known)

    # Assert
    assert compute == known[1]
    assert octavia == known[3]
    assert nothing is None and other_scheme is None


def test_the_only_service_at_a_host_and_port_owns_its_other_paths():
    # Arrange: Keystone's version discovery asks the root, its endpoint is /v3.
    known = (Endpoint("identity", "keystone", "http://127.0.0.1:5000/v3"),)

    # Act / Assert
    assert catalog.service_at("http://127.0.0.1:5000/", known) == known[0]
    assert catalog.service_at("http://127.0.0.1:5001/", known) is None


def test_a_service_is_called_by_its_project_or_else_its_catalog_name():
    assert Endpoint("key-manager", "secrets", "http://x").label == "Barbican (key-manager)"
    assert Endpoint("dns", "designate", "http://x").label == "Designate (dns)"
    assert Endpoint("", "", "http://x").label == "the service"


def test_naming_gives_the_connections_endpoints_inside_and_none_outside():
    # Arrange
    keystone = f"http://127.0.0.1:{closed_port()}/v3"
    outer = connection(keystone, {"compute": "http://127.0.0.1:8774/v2.1"})
    inner = connection(keystone, {"key-manager": "http://127.0.0.1:9311"})

    # Act
    with catalog.naming(outer):
        seen_outer = catalog.in_use()
        with catalog.naming(inner):
            seen_inner = catalog.in_use()
        seen_after_inner = catalog.in_use()
    seen_outside = catalog.in_use()

    # Assert
    assert seen_outer == catalog.endpoints(outer)
    assert seen_inner == catalog.endpoints(inner)
    assert seen_after_inner == seen_outer
    assert seen_outside == ()
