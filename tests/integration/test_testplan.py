"""The whole SRU test plan against the lab: runs, reruns, conflicts, failures, cleanup."""

from __future__ import annotations

import configparser
import uuid
from pathlib import Path

import pytest
from charmed_octavia import flavors, ssh, testplan

from tests.integration.plan_helpers import added, admin_connection, inventory

pytestmark = pytest.mark.lab


@pytest.fixture
def conn(lab):
    return admin_connection(lab)


def _amp_key_name(lab) -> str:
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(lab.octavia_conf)
    return conf.get("controller_worker", "amp_ssh_key_name", fallback="")


@pytest.fixture
def plan_ctx(lab, tmp_path):
    _, public = ssh.ensure_keypair(tmp_path / "ssh")
    logs: list[str] = []
    ctx = testplan.PlanContext(
        state_dir=tmp_path / "state",
        series="lab",
        origin="pypi",
        package_versions={"octavia": "14.0.2"},
        amp_ssh_key_name=_amp_key_name(lab),
        public_key=public,
        progress=logs.append,
    )
    ctx.logs = logs  # type: ignore[attr-defined]
    return ctx


def _params(**overrides) -> testplan.PlanParams:
    base = {
        "vip_subnet": str(uuid.uuid4()),
        "lb_timeout": 120,
        "step_timeout": 60,
    }
    return testplan.PlanParams(**{**base, **overrides})


def _keypair_name(lab) -> str:
    return _amp_key_name(lab) or "amphora-backdoor"


def test_whole_plan_runs_in_order_and_leaves_nothing_behind(lab, conn, plan_ctx):
    # Arrange
    before = inventory(conn)

    # Act
    result = testplan.run_plan(
        conn, _params(keypair_name=_keypair_name(lab), reload_count=2), plan_ctx
    )

    # Assert
    statuses = {s.name: s.status for s in result.steps}
    assert statuses["preflight"] in ("ok", "warning")
    for name in (
        "keypair",
        "nova-flavor",
        "flavorprofile",
        "lb-flavor",
        "tls-bundle",
        "loadbalancer",
        "listener",
        "pool",
        "reloads",
        "cleanup",
    ):
        assert statuses[name] == "ok", (name, result.step(name).evidence)
    # No lab amphora here: the amphora steps say so, and the verdict does not guess.
    assert result.step("oom-check").evidence.startswith("skipped: no amphora reachable")
    assert result.step("prepare-amphora").status == "skipped"
    assert result.verdict == "inconclusive"
    assert "4 reloads" in result.step("reloads").evidence
    assert "m1.xxlarge (id 10)" in result.step("nova-flavor").evidence
    starts = [line for line in plan_ctx.logs if line.endswith(": started")]
    assert [s.split("] ")[1] for s in starts][:3] == [
        "Preflight: started",
        "Amphora SSH keypair: started",
        "Nova flavor: started",
    ]
    assert inventory(conn) == before
    record = testplan.RunStore(plan_ctx.state_dir).load(result.run_id)
    assert record.verdict == "inconclusive" and "cleaned" in record.status


def test_second_run_reuses_existing_identical_flavors_and_does_not_delete_them(
    lab, conn, plan_ctx
):
    # Arrange: the operator already has the seed's three resources.
    s = uuid.uuid4().hex[:6]
    spec = flavors.XxlargeSpec(
        nova_flavor_name=f"m1.xxlarge-{s}",
        nova_flavor_id=f"x-{s}",
        flavorprofile_name=f"o1.xxlarge-{s}",
        lb_flavor_name=f"o1.xxlarge-{s}",
    )
    existing = flavors.ensure_xxlarge(conn, spec)
    before = inventory(conn)
    params = dict(
        keypair_name=_keypair_name(lab),
        nova_flavor_name=spec.nova_flavor_name,
        nova_flavor_id=spec.nova_flavor_id,
        flavorprofile_name=spec.flavorprofile_name,
        lb_flavor_name=spec.lb_flavor_name,
    )
    try:
        # Act: twice.
        first = testplan.run_plan(conn, _params(**params), plan_ctx)
        second = testplan.run_plan(conn, _params(**params), plan_ctx)

        # Assert
        for result in (first, second):
            assert result.verdict == "inconclusive", result.failure
            for name in ("nova-flavor", "flavorprofile", "lb-flavor"):
                assert result.step(name).status == "reused"
        assert first.run_id != second.run_id
        assert inventory(conn) == before
    finally:
        for item in reversed(existing):
            flavors.delete_created(conn, item.kind, item.id)


def test_conflicting_flavor_stops_the_plan_at_preflight_and_changes_nothing(lab, conn, plan_ctx):
    # Arrange: id taken by a different flavor.
    s = uuid.uuid4().hex[:6]
    other = flavors.ensure_nova_flavor(
        conn, flavors.NovaFlavorSpec(name=f"m1.small-{s}", ram=2048, disk=1, vcpus=1, id=f"x-{s}")
    )
    before = inventory(conn)
    try:
        # Act
        result = testplan.run_plan(
            conn,
            _params(
                keypair_name=_keypair_name(lab),
                nova_flavor_id=f"x-{s}",
                nova_flavor_name=f"m1.xxlarge-{s}",
            ),
            plan_ctx,
        )

        # Assert
        assert result.verdict == "failed"
        assert result.failed_step == "preflight"
        assert "ram: existing 2048, wanted 32768" in (result.failure or "")
        assert all(s.status == "not-run" for s in result.steps[1:12])
        assert inventory(conn) == before
    finally:
        flavors.delete_created(conn, "nova-flavor", other.id)


def test_barbican_stopped_mid_plan_fails_that_step_and_cleans_up_the_rest(lab, conn, plan_ctx):
    # Arrange: stop Barbican the moment the TLS step starts.
    before = inventory(conn)
    logs = plan_ctx.logs

    def progress(line: str) -> None:
        logs.append(line)
        if line.endswith("TLS bundle in Barbican: started"):
            lab.stop_service("barbican")

    plan_ctx.progress = progress
    try:
        # Act
        result = testplan.run_plan(conn, _params(keypair_name=_keypair_name(lab)), plan_ctx)
    finally:
        lab.start_service("barbican")

    # Assert
    assert result.verdict == "failed"
    assert result.failed_step == "tls-bundle"
    assert result.step("cleanup").status == "ok", result.step("cleanup").evidence
    deleted = {(r["kind"], r["outcome"]) for r in result.cleanup}
    assert {
        ("keypair", "deleted"),
        ("nova-flavor", "deleted"),
        ("flavorprofile", "deleted"),
        ("lb-flavor", "deleted"),
    } <= deleted
    assert inventory(conn) == before


def test_worker_stopped_mid_plan_then_cleanup_after_restart_leaves_nothing(lab, conn, plan_ctx):
    # Arrange: the worker stops as the load balancer is requested; it stays PENDING_CREATE.
    before = inventory(conn)

    def progress(line: str) -> None:
        if line.endswith("Load balancer (ACTIVE): started"):
            lab.stop_service("octavia-worker")

    plan_ctx.progress = progress
    try:
        # Act 1: the plan fails at the load balancer; what is in use cannot be deleted yet.
        result = testplan.run_plan(
            conn,
            _params(keypair_name=_keypair_name(lab), lb_timeout=5, step_timeout=5),
            plan_ctx,
        )
        left = added(before, inventory(conn))
    finally:
        lab.start_service("octavia-worker")
    # Act 2: once Octavia works again, cleanup-test-plan of that run finishes the job.
    cleaned = testplan.cleanup(conn, plan_ctx.state_dir, result.run_id, timeout=120)
    again = testplan.cleanup(conn, plan_ctx.state_dir, result.run_id, timeout=120)

    # Assert
    assert result.failed_step == "loadbalancer"
    assert "did not settle within 5 s" in (result.failure or "")
    assert "loadbalancers" in left
    assert result.step("cleanup").status == "warning"
    assert cleaned.runs == {result.run_id: "cleaned"}
    assert cleaned.kept == []
    assert again.deleted == 0 and again.kept == []
    assert inventory(conn) == before


def test_keep_resources_then_cleanup_every_run_is_idempotent(lab, conn, plan_ctx):
    # Arrange
    before = inventory(conn)

    # Act
    result = testplan.run_plan(
        conn, _params(keypair_name=_keypair_name(lab), keep_resources=True), plan_ctx
    )
    kept = added(before, inventory(conn))
    first = testplan.cleanup(conn, plan_ctx.state_dir)
    second = testplan.cleanup(conn, plan_ctx.state_dir)

    # Assert
    assert result.step("cleanup").status == "skipped"
    assert f"run-id={result.run_id}" in result.step("cleanup").evidence
    assert set(kept) == {
        "nova-flavors",
        "keypairs",
        "flavorprofiles",
        "lb-flavors",
        "secrets",
        "loadbalancers",
    }
    assert first.deleted == 6
    assert second.deleted == 0 and second.runs == {result.run_id: "cleaned"}
    assert inventory(conn) == before


def test_a_plan_already_running_is_refused(lab, conn, plan_ctx):
    # Arrange: hold the plan lock as a running plan does.
    store = testplan.RunStore(Path(plan_ctx.state_dir))

    # Act / Assert
    with store.lock(testplan.PLAN_LOCK), pytest.raises(testplan.RunBusy):
        testplan.run_plan(conn, _params(keypair_name=_keypair_name(lab)), plan_ctx)
