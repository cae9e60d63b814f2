"""The TLS bundle stored in the lab's real Barbican and read by the lab's real Octavia."""

from __future__ import annotations

import base64
import uuid

import pytest
from charmed_octavia.cloud import barbican, loadbalancers, tls
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.integration.plan_helpers import admin_connection

pytestmark = pytest.mark.lab


@pytest.fixture
def conn(lab):
    return admin_connection(lab)


def test_stored_bundle_is_opaque_base64_octet_stream_and_reads_back(conn):
    # Arrange
    bundle = tls.generate_bundle("xxlarge.devstack")
    name = f"xxlarge.devstack.p12-{uuid.uuid4().hex[:8]}"

    # Act
    stored = barbican.store_bundle(conn, name, bundle)
    try:
        meta = conn.key_manager.get_secret(stored.id)
        payload = conn.key_manager.session.get(
            f"{stored.href}/payload",
            endpoint_filter={"service_type": "key-manager"},
            headers={"Accept": "application/octet-stream"},
        ).content
        found = barbican.secrets_named(conn, name)
    finally:
        deleted = barbican.delete_secret(conn, stored.href)

    # Assert
    assert meta.secret_type == "opaque"
    assert meta.content_types == {"default": "application/octet-stream"}
    assert payload == bundle.pkcs12
    key, cert, cas = pkcs12.load_key_and_certificates(payload, None)
    assert key is not None and cert is not None and len(cas) == 1
    assert [s.href for s in found] == [stored.href]
    assert deleted is True
    assert barbican.delete_secret(conn, stored.href) is False


def test_octavia_accepts_the_generated_bundle_and_refuses_garbage(lab, conn):
    # Arrange: a load balancer, one good and one garbage secret.
    good = barbican.store_bundle(conn, "good.p12", tls.generate_bundle("good.example"))
    garbage = conn.key_manager.create_secret(
        name="garbage.p12",
        secret_type="opaque",
        payload=base64.b64encode(b"not a pkcs12").decode(),
        payload_content_type="application/octet-stream",
        payload_content_encoding="base64",
    )
    lb = loadbalancers.create_load_balancer(
        conn,
        name="tls-check",
        vip_subnet_id=lab.lab_networks.ext_subnet_id,
        flavor_id=None,
        tags=[],
    )
    try:
        loadbalancers.wait_lb_active(conn, lb.id, timeout=60)

        # Act
        from openstack import exceptions

        with pytest.raises(exceptions.BadRequestException) as refused:
            loadbalancers.create_listener(
                conn,
                lb_id=lb.id,
                name="bad",
                port=8443,
                tls_ref=garbage.secret_ref,
                connection_limit=-1,
                tags=[],
            )
        listener = loadbalancers.create_listener(
            conn,
            lb_id=lb.id,
            name="good",
            port=443,
            tls_ref=good.href,
            connection_limit=-1,
            tags=["t"],
        )
        loadbalancers.wait_lb_active(conn, lb.id, timeout=60)
        got = conn.load_balancer.get_listener(listener.id)
    finally:
        loadbalancers.delete_load_balancer(conn, lb.id, timeout=60)
        barbican.delete_secret(conn, good.href)
        barbican.delete_secret(conn, garbage.secret_ref)

    # Assert
    assert "Could not deserialize PKCS12 data" in str(refused.value.details)
    assert got.provisioning_status == "ACTIVE"
    assert got.protocol == "TERMINATED_HTTPS"
    assert got.default_tls_container_ref == good.href
