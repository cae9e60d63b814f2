"""What a wait on a load balancer says when Octavia does not act on it."""

from __future__ import annotations

import pytest
from charmed_octavia.cloud import loadbalancers
from charmed_octavia.cloud.waiting import ResourceFailed, WaitTimeout
from openstack.load_balancer.v2.load_balancer import LoadBalancer

from tests.unit.cloud.test_waiting import FakeClock


class UnprocessedOctavia:
    """Stands for a connection whose Octavia API answers and whose worker never acts: every
    load balancer stays as it is (the lab suite stops a real worker)."""

    def __init__(self, provisioning_status: str) -> None:
        self.load_balancer = self
        self.provisioning_status = provisioning_status

    def get_load_balancer(self, lb_id: str) -> LoadBalancer:
        return LoadBalancer(
            id=lb_id, provisioning_status=self.provisioning_status, operating_status="OFFLINE"
        )


def test_a_load_balancer_left_pending_is_the_workers_not_processing_it():
    # Arrange
    conn = UnprocessedOctavia("PENDING_CREATE")

    # Act
    with pytest.raises(WaitTimeout) as caught:
        loadbalancers.wait_lb_active(conn, "lb-1", timeout=5, clock=FakeClock())  # type: ignore[arg-type]

    # Assert
    assert str(caught.value) == (
        "load balancer lb-1 did not settle within 5 s: the Octavia worker did not process it "
        "(still PENDING_CREATE, operating OFFLINE; the octavia-worker service or its message "
        "queue is down or behind)"
    )


def test_a_deletion_left_pending_is_the_workers_not_processing_it():
    # Arrange
    conn = UnprocessedOctavia("PENDING_DELETE")

    # Act
    with pytest.raises(WaitTimeout) as caught:
        loadbalancers.delete_load_balancer(conn, "lb-1", timeout=5, clock=FakeClock())  # type: ignore[arg-type]

    # Assert
    assert "did not settle within 5 s: the Octavia worker did not process it (still " in str(
        caught.value
    )
    assert "PENDING_DELETE" in str(caught.value)


def test_an_error_fails_fast_as_before():
    # Arrange
    conn = UnprocessedOctavia("ERROR")

    # Act
    with pytest.raises(ResourceFailed) as caught:
        loadbalancers.wait_lb_active(conn, "lb-1", timeout=5, clock=FakeClock())  # type: ignore[arg-type]

    # Assert
    assert "provisioning ERROR" in str(caught.value) and "worker" in str(caught.value)
