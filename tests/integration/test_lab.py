"""The lab itself: real Keystone, Barbican, Nova API and Octavia on 127.0.0.1 do the API steps
of the test plan (TERMINATED_HTTPS listener from a Barbican PKCS#12), and ``down`` leaves
nothing behind."""

from __future__ import annotations

import base64
import os
import time
import uuid
from pathlib import Path

import pytest
from charmed_octavia.cloud import tls

from tests.integration.conftest import start_lab
from tests.lab import procs
from tests.lab.control import Lab, LabError

pytestmark = pytest.mark.lab


def store_secret(conn, name: str, payload: bytes):
    return conn.key_manager.create_secret(
        name=name,
        secret_type="opaque",
        payload=base64.b64encode(payload).decode(),
        payload_content_type="application/octet-stream",
        payload_content_encoding="base64",
    )


def wait_active(conn, lb_id: str):
    return conn.load_balancer.wait_for_load_balancer(
        lb_id, status="ACTIVE", failures=["ERROR"], interval=0.5, wait=120
    )


def delete_lb(conn, lb_id: str) -> None:
    conn.load_balancer.delete_load_balancer(lb_id, cascade=True)
    deadline = time.monotonic() + 120
    while conn.load_balancer.find_load_balancer(lb_id) is not None:
        assert time.monotonic() < deadline, f"load balancer {lb_id} not deleted in 120s"
        time.sleep(0.5)


def test_member_creates_and_deletes_terminated_https_listener(lab: Lab):
    # Arrange
    conn = lab.connect(lab.member_cloud)
    secret = store_secret(
        conn, f"lab-tls-{uuid.uuid4().hex[:8]}", tls.generate_bundle("lb.lab.test").pkcs12
    )
    lb = conn.load_balancer.create_load_balancer(
        name=f"lab-lb-{uuid.uuid4().hex[:8]}", vip_subnet_id=lab.lab_networks.ext_subnet_id
    )
    try:
        wait_active(conn, lb.id)

        # Act
        listener = conn.load_balancer.create_listener(
            name="https",
            loadbalancer_id=lb.id,
            protocol="TERMINATED_HTTPS",
            protocol_port=443,
            default_tls_container_ref=secret.secret_ref,
        )
        wait_active(conn, lb.id)

        # Assert
        got = conn.load_balancer.get_listener(listener.id)
        assert got.protocol == "TERMINATED_HTTPS"
        assert got.provisioning_status == "ACTIVE"
        assert got.default_tls_container_ref == secret.secret_ref
        # octavia-api granted its own service user read access on the member's secret.
        admin = lab.connect(lab.admin_cloud)
        octavia_user = admin.identity.find_user("octavia", ignore_missing=False)
        acl = conn.session.get(f"{secret.secret_ref}/acl").json()
        assert octavia_user.id in acl["read"]["users"]
    finally:
        delete_lb(conn, lb.id)
        conn.key_manager.delete_secret(secret)

    assert conn.load_balancer.find_load_balancer(lb.id) is None


def test_garbage_pkcs12_is_rejected_by_octavia(lab: Lab):
    # Arrange
    from openstack import exceptions

    conn = lab.connect(lab.member_cloud)
    garbage = store_secret(conn, "lab-garbage", b"this is not a PKCS#12 bundle" + os.urandom(64))
    lb = conn.load_balancer.create_load_balancer(
        name=f"lab-lb-{uuid.uuid4().hex[:8]}", vip_subnet_id=lab.lab_networks.ext_subnet_id
    )
    try:
        wait_active(conn, lb.id)

        # Act
        with pytest.raises(exceptions.BadRequestException) as raised:
            conn.load_balancer.create_listener(
                loadbalancer_id=lb.id,
                protocol="TERMINATED_HTTPS",
                protocol_port=443,
                default_tls_container_ref=garbage.secret_ref,
            )

        # Assert: Octavia fetched the secret from Barbican and could not parse it.
        assert "PKCS12 bundle is unreadable" in str(raised.value)
        assert list(conn.load_balancer.listeners(loadbalancer_id=lb.id)) == []
    finally:
        delete_lb(conn, lb.id)
        conn.key_manager.delete_secret(garbage)


def test_flavorprofile_checks_the_nova_flavor(lab: Lab):
    # Arrange
    from openstack import exceptions

    admin = lab.connect(lab.admin_cloud)
    flavor = admin.compute.create_flavor(
        name=f"lab-amp-{uuid.uuid4().hex[:8]}", ram=1024, vcpus=1, disk=2
    )
    try:
        # Act
        good = admin.load_balancer.create_flavor_profile(
            name="lab-good",
            provider_name="amphora",
            flavor_data=f'{{"compute_flavor": "{flavor.id}"}}',
        )
        missing = str(uuid.uuid4())
        # Octavia 14 wraps the provider's refusal as a 500 "Provider 'amphora' reports error".
        with pytest.raises(exceptions.HttpException) as raised:
            admin.load_balancer.create_flavor_profile(
                name="lab-bad",
                provider_name="amphora",
                flavor_data=f'{{"compute_flavor": "{missing}"}}',
            )

        # Assert
        assert good.id
        assert f"Nova flavor {missing} not found" in str(raised.value)
        admin.load_balancer.delete_flavor_profile(good)
    finally:
        admin.compute.delete_flavor(flavor)


def test_second_lab_runs_side_by_side_and_down_leaves_nothing(lab: Lab):
    # Arrange
    other = start_lab()
    pids = other.pids()
    ports = dict(other.ports)
    lab_dir = other.dir
    conn = other.connect(other.admin_cloud)
    assert conn.load_balancer.load_balancers() is not None
    assert not set(ports.values()) & set(lab.ports.values())

    # Act
    other.down()

    # Assert
    assert pids, "the lab reported no processes while up"
    assert [p for p in pids if procs.pid_alive(p)] == []
    assert [name for name, port in ports.items() if procs.port_open(port)] == []
    assert not Path(lab_dir).exists()
    # The session's lab is untouched.
    assert list(lab.connect(lab.admin_cloud).load_balancer.load_balancers()) is not None


def test_failing_service_makes_up_fail_with_its_log():
    # Arrange: octavia's database URL points at a closed port, so its migration fails.
    broken = {"database": {"connection": "mysql+pymysql://nobody:x@127.0.0.1:9/octavia"}}

    # Act
    with pytest.raises(LabError) as raised:
        start_lab(octavia_overrides=broken, start_timeout=60)

    # Assert
    message = str(raised.value)
    assert "octavia-api" in message
    assert "octavia-db-manage" in message
    assert "Can't connect" in message or "OperationalError" in message
