"""A step's failure as the plan records it: the service named by the connection's catalog, no
request outlasting the step's timeout, and a create that was sent but not answered left for
cleanup to look for. The plan runs against ports of 127.0.0.1 (``tests.unit.loopback_cloud``).
"""

from __future__ import annotations

import uuid

import pytest
from charmed_octavia.plan import run
from charmed_octavia.plan.params import PlanContext, PlanParams
from charmed_octavia.plan.records import RunRecord, utcnow
from charmed_octavia.plan.results import StepFailed, StepResult
from charmed_octavia.plan.state import PlanRun
from charmed_octavia.plan.steps import Step

from tests.unit.loopback_cloud import closed_port, connection, returns_within, silent_port


def _catalog(compute: str) -> dict[str, str]:
    return {
        "compute": compute,
        "load-balancer": f"http://127.0.0.1:{closed_port()}",
        "key-manager": f"http://127.0.0.1:{closed_port()}",
    }


def _params(**overrides) -> PlanParams:
    return PlanParams(**{"vip_subnet": str(uuid.uuid4()), **overrides})


def test_a_plan_whose_nova_is_down_fails_at_preflight_naming_nova(tmp_path):
    # Arrange
    nova = f"http://127.0.0.1:{closed_port()}/v2.1"
    conn = connection(f"http://127.0.0.1:{closed_port()}/v3", _catalog(nova))

    # Act
    result = run.run_plan(conn, _params(), PlanContext(state_dir=tmp_path))

    # Assert
    assert result.failed_step == "preflight"
    assert (result.failure or "").startswith(f"Nova (compute) at {nova} ")
    assert result.verdict == "failed"


def test_no_request_of_a_step_outlasts_the_step_timeout(tmp_path):
    # Arrange: Nova accepts connections and never answers.
    with silent_port() as port:
        conn = connection(
            f"http://127.0.0.1:{closed_port()}/v3", _catalog(f"http://127.0.0.1:{port}/v2.1")
        )

        # Act
        result = returns_within(
            30,
            lambda: run.run_plan(conn, _params(step_timeout=0.5), PlanContext(state_dir=tmp_path)),
            "the plan",
        )

    # Assert
    assert result.failed_step == "preflight"
    assert (result.failure or "").startswith("Nova (compute) at ")
    assert conn.session.timeout is None  # the connection's own setting is given back


def _plan_run(tmp_path, conn) -> PlanRun:
    return PlanRun(
        conn=conn,
        params=_params(step_timeout=0.3),
        ctx=PlanContext(state_dir=tmp_path),
        record=RunRecord(run_id="20260101T000000-abcdef", started=utcnow()),
        steps=[StepResult("create", "Create")],
    )


def _creating(url: str) -> Step:
    def create(run: PlanRun, step: StepResult) -> None:
        del step
        run.pending("loadbalancer", "lb1")
        run.conn.session.post(url, json={})

    return Step("create", "Create", create)


def test_a_create_sent_but_not_answered_is_left_pending_for_cleanup(tmp_path):
    # Arrange: Octavia's API takes the request and blocks (as it does without RabbitMQ); it
    # may still carry it out.
    with silent_port() as port:
        octavia = f"http://127.0.0.1:{port}"
        conn = connection(
            f"http://127.0.0.1:{closed_port()}/v3", {"load-balancer": octavia}, timeout=0.3
        )
        plan_run = _plan_run(tmp_path, conn)

        # Act
        with pytest.raises(StepFailed):
            run._timed(plan_run, 0, _creating(f"{octavia}/v2/lbaas/loadbalancers"))

    # Assert
    (resource,) = plan_run.record.resources
    assert resource.state == "pending"
    assert plan_run.steps[0].evidence.startswith(
        f"Octavia (load-balancer) at {octavia} did not answer POST "
    )


def test_a_create_that_never_reached_the_service_is_forgotten(tmp_path):
    # Arrange
    octavia = f"http://127.0.0.1:{closed_port()}"
    conn = connection(f"http://127.0.0.1:{closed_port()}/v3", {"load-balancer": octavia})
    plan_run = _plan_run(tmp_path, conn)

    # Act
    with pytest.raises(StepFailed):
        run._timed(plan_run, 0, _creating(f"{octavia}/v2/lbaas/loadbalancers"))

    # Assert
    (resource,) = plan_run.record.resources
    assert resource.state == "deleted"
    assert plan_run.steps[0].evidence.startswith(
        f"Octavia (load-balancer) at {octavia} is unreachable (connection refused)"
    )
