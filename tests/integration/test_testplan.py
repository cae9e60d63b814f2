"""The whole SRU test plan against the lab: runs, reruns, conflicts, failures, cleanup, and
the verdict on a lab amphora driven by Octavia's worker (vulnerable, fixed and upstream
templater)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from charmed_octavia.amphora import ssh
from charmed_octavia.cloud import flavors
from charmed_octavia.plan import cleanup, report, run
from charmed_octavia.plan.params import PlanParams
from charmed_octavia.plan.records import PLAN_LOCK, RunBusy, RunStore

from tests.infrastructure import require
from tests.integration.plan_helpers import (
    added,
    admin_connection,
    amp_key_name,
    amphora_plan_context,
    haproxy_pids,
    inventory,
    lab_plan_context,
    still_running,
)
from tests.lab import amphora as lab_amphora
from tests.lab import worker_drivers
from tests.lab.networks import EXT_SUBNET

pytestmark = pytest.mark.lab


@pytest.fixture
def conn(lab):
    return admin_connection(lab)


@pytest.fixture
def plan_ctx(lab, tmp_path):
    logs: list[str] = []
    ctx = lab_plan_context(lab, tmp_path, logs.append)
    ctx.logs = logs  # type: ignore[attr-defined]
    return ctx


def _params(**overrides) -> PlanParams:
    base = {
        "vip_subnet": EXT_SUBNET,
        "lb_timeout": 120,
        "step_timeout": 60,
    }
    return PlanParams(**{**base, **overrides})


def _keypair_name(lab) -> str:
    return amp_key_name(lab) or "amphora-backdoor"


def test_whole_plan_runs_in_order_and_leaves_nothing_behind(lab, conn, plan_ctx):
    # Arrange
    before = inventory(conn)

    # Act
    result = run.run_plan(conn, _params(keypair_name=_keypair_name(lab), reload_count=2), plan_ctx)

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
    record = RunStore(plan_ctx.state_dir).load(result.run_id)
    assert record.verdict == "inconclusive" and "cleaned" in record.status


def test_second_run_reuses_existing_identical_flavors_and_does_not_delete_them(
    lab, conn, plan_ctx
):
    # Arrange: the operator already has the test plan's three resources.
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
        first = run.run_plan(conn, _params(**params), plan_ctx)
        second = run.run_plan(conn, _params(**params), plan_ctx)

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
        result = run.run_plan(
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
        result = run.run_plan(conn, _params(keypair_name=_keypair_name(lab)), plan_ctx)
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
        result = run.run_plan(
            conn,
            _params(keypair_name=_keypair_name(lab), lb_timeout=5, step_timeout=5),
            plan_ctx,
        )
        left = added(before, inventory(conn))
    finally:
        lab.start_service("octavia-worker")
    # Act 2: once Octavia works again, cleanup-test-plan of that run finishes the job.
    cleaned = cleanup.cleanup(conn, plan_ctx.state_dir, result.run_id, timeout=120)
    again = cleanup.cleanup(conn, plan_ctx.state_dir, result.run_id, timeout=120)

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
    result = run.run_plan(
        conn, _params(keypair_name=_keypair_name(lab), keep_resources=True), plan_ctx
    )
    kept = added(before, inventory(conn))
    first = cleanup.cleanup(conn, plan_ctx.state_dir)
    second = cleanup.cleanup(conn, plan_ctx.state_dir)

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
    store = RunStore(Path(plan_ctx.state_dir))

    # Act / Assert
    with store.lock(PLAN_LOCK), pytest.raises(RunBusy):
        run.run_plan(conn, _params(keypair_name=_keypair_name(lab)), plan_ctx)


# -- the plan on a lab amphora: Octavia's worker renders and reloads a real haproxy ----------
AMPHORA_KEYPAIR = "amphora-backdoor"


@pytest.mark.amphora
@pytest.mark.parametrize(
    ("templater", "verdict", "formula"),
    [
        ("vulnerable", "reproduced", "pre-fix"),
        ("fixed", "fixed", "post-fix"),
        ("upstream", "fixed", "post-fix"),
    ],
)
def test_whole_plan_on_a_lab_amphora_gives_the_verdict_with_evidence(
    amphora_worker_lab, tmp_path, templater, verdict, formula
):
    require(lab_amphora.unavailable_reason(), "the lab amphora")
    # Arrange: a 1 GiB lab amphora (for 32 GiB) and a lab whose worker drives it.
    private, public = ssh.ensure_keypair(tmp_path / "ssh")
    logs: list[str] = []
    with lab_amphora.LabAmphora(memory_bytes=1 << 30, templater=templater) as amp:
        assert amp.cgroup is not None
        memcg = amp.cgroup.kernel_path
        cgroup_dir = amp.cgroup.dir
        overrides = amp.octavia_overrides()
        overrides["controller_worker"]["amp_ssh_key_name"] = AMPHORA_KEYPAIR
        with worker_drivers.overridden(amphora_worker_lab, overrides) as lab:
            amp.authorize(public)
            conn = admin_connection(lab)
            before = inventory(conn)
            ctx = amphora_plan_context(
                amp, AMPHORA_KEYPAIR, (private, public), tmp_path, logs.append
            )

            # Act
            result = run.run_plan(conn, _params(keypair_name=AMPHORA_KEYPAIR, reload_count=1), ctx)
            after = inventory(conn)
            events = amp.driver_events()
            lb_id = result.step("loadbalancer").details["id"]
            amphorae_left = [
                a.id
                for a in conn.load_balancer.amphorae(loadbalancer_id=lb_id)
                if a.status != "DELETED"
            ]
            haproxy = haproxy_pids(amp.cgroup.pids())
            octavia_path = amp.octavia_path()
    # The cascade delete deletes the amphora's VM (the noop compute driver here) without
    # calling the amphora driver: the lab amphora's haproxy ends with the lab amphora.
    data = result.to_dict()
    markdown = report.render_markdown(data)
    parsed = json.loads(report.render_json(data))

    # Assert: the verdict, in the result, the Markdown and the JSON.
    assert result.verdict == verdict, (result.verdict_reason, logs)
    assert parsed["verdict"] == verdict
    assert f"**Verdict: {report.VERDICT_HEADLINES[verdict]}**" in markdown
    assert result.step("prepare-amphora").status == "ok"
    assert result.step("oom-check").status == "ok", result.step("oom-check").evidence
    (amp_result,) = parsed["amphorae"]
    (config,) = amp_result["configs"]
    assert config["path"].startswith(amp.octavia_dir + "/")
    assert config["assessment"]["formula"]["formula"] == formula
    assert f"| {config['ssl_cachesize']} | {config['maxconn']} | {formula}: " in markdown
    rendered = [e for e in events if e.get("ssl_cachesize")]
    assert rendered and {e["ssl_cachesize"] for e in rendered} >= {config["ssl_cachesize"]}
    # The report names the templater (and, for fixed, the patch and its upstream commit),
    # and the worker rendered with that templater's jinja_cfg.py.
    described = amp.templater_description()
    assert described.startswith(f"{templater}: octavia ")
    assert f"| Package {lab_amphora.TEMPLATER_REPORT_KEY} | {described} |" in markdown
    expected_file = str(octavia_path) + "/octavia/" if octavia_path else "site-packages/octavia/"
    assert all(expected_file in e["octavia_file"] for e in rendered), rendered
    if templater == "fixed":
        assert "14.0.2 + tests/lab/amphora/patches/lp2119987-ssl-cachesize.patch" in described
        assert "upstream commit cc3dd1abe3e2" in markdown
    if templater == "upstream":
        assert "octavia 17.0.1" in described and "octavia-17.0.1" in expected_file
    if templater == "vulnerable":
        # Pool creation: the agent-style check of the new haproxy.cfg is OOM-killed, the
        # driver refuses the configuration and Octavia puts the pool in ERROR.
        assert result.failed_step == "pool", result.failure
        assert "is ERROR" in (result.failure or "")
        assert result.step("reloads").status == "not-run"
        assert "step pool failed" in result.verdict_reason
        assert "Failed step: **pool**" in markdown
        assert [e["action"] for e in events][:2] == ["start", "refused"], events
        kills = [e for e in amp_result["oom_events"] if e["victim_pid"] is not None]
        assert amp_result["verdict"] == "oom-seen"
        assert kills and all(e["memcg"] == memcg for e in amp_result["oom_events"])
        kill = kills[-1]
        assert kill["victim_name"] == "haproxy"
        assert kill["constraint"] == "CONSTRAINT_MEMCG"
        assert kill["total_vm_kb"] > 500 * 1024 and kill["shmem_rss_kb"] > 100 * 1024
        assert (
            f"memory cgroup out of memory: killed process {kill['victim_pid']} (haproxy) "
            f"total-vm {kill['total_vm_kb']} kB" in markdown
        )
        assert f"memcg {memcg}" in markdown
        assert config["assessment"]["at_risk"] is True
    else:
        assert result.failed_step is None, result.failure
        assert result.step("reloads").status == "ok"
        # listener start, pool reload, a member added and removed: two more reloads.
        assert [e["action"] for e in events][:4] == ["start", "reload", "reload", "reload"]
        assert all(e.get("oom_kills", 0) == 0 for e in events), events
        assert amp_result["verdict"] == "ok" and amp_result["oom_events"] == []
        assert "No OOM-killer invocation in the kernel log of any checked amphora" in markdown
        assert config["assessment"]["headroom_kb"] > 0
    # Nothing left behind: the cleanup, the resource counts, haproxy stopped.
    assert result.step("cleanup").status == "ok", result.step("cleanup").evidence
    assert "nothing left behind" in result.step("cleanup").evidence
    assert after == before
    assert amphorae_left == []
    assert haproxy, "haproxy was running in the lab amphora until it stopped"
    assert still_running(haproxy) == [] and not cgroup_dir.exists() and not amp.root.exists()


def test_no_secret_reaches_any_log_record_of_a_whole_run(lab, conn, plan_ctx, caplog, monkeypatch):
    # Arrange: every record at every level, as ops forwards DEBUG to juju-log; keep the
    # bundle the TLS step makes (its PKCS#12 holds the private key).
    import base64
    import logging

    from charmed_octavia.cloud import tls

    bundles = []
    generate = tls.generate_bundle

    def keep(*args, **kwargs):
        bundles.append(generate(*args, **kwargs))
        return bundles[-1]

    monkeypatch.setattr(tls, "generate_bundle", keep)
    caplog.set_level(logging.DEBUG)
    fresh = admin_connection(lab)

    # Act
    result = run.run_plan(fresh, _params(keypair_name=_keypair_name(lab)), plan_ctx)

    # Assert
    logged = "\n".join(r.getMessage() for r in caplog.records)
    payload = base64.b64encode(bundles[0].pkcs12).decode()
    secrets = {
        **{f"password {user}": pw for user, pw in lab.passwords.items()},
        "token": fresh.session.get_token(),
        "PKCS#12 (base64)": payload[:64],
    }
    assert result.step("tls-bundle").status == "ok"
    assert caplog.records, "nothing was logged at all"
    assert [name for name, value in secrets.items() if value and value in logged] == []
    assert "PRIVATE KEY" not in logged
