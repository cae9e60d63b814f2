"""The plan's steps that change or inspect the amphora: the systemd preparation, the
TERMINATED_HTTPS listener, the pool, the extra reloads (each makes Octavia render and reload
haproxy) and the OOM check over SSH."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from charmed_octavia.amphora import check, discovery, prepare
from charmed_octavia.amphora.results import AmphoraResult, summarize
from charmed_octavia.cloud import loadbalancers
from charmed_octavia.plan.results import StepFailed, StepResult
from charmed_octavia.plan.state import PlanRun

# A documentation address (RFC 5737 TEST-NET-3): the member of an extra reload is never
# meant to answer, it only makes Octavia rewrite and reload haproxy.
RELOAD_MEMBER_ADDRESS = "203.0.113.{}"


def _amphora_unavailable(run: PlanRun, enabled: bool, parameter: str) -> str | None:
    if not enabled:
        return f"disabled by {parameter}=false"
    if run.ctx.amphora_ssh is None:
        return "skipped: no amphora reachable (no SSH settings for amphorae)"
    if not _discover(run):
        return "skipped: no amphora reachable (Octavia lists no amphora)"
    return None


def _discover(run: PlanRun) -> list[discovery.Amphora]:
    if not run.amphorae:
        run.amphorae = discovery.discover(run.conn, run.made.lb_id)
    return run.amphorae


def _unreached(results: list[AmphoraResult]) -> str:
    return "skipped: no amphora reachable: " + "; ".join(
        f"{r.amphora_id}: {r.reason}" for r in results
    )


def prepare_amphora(run: PlanRun, step: StepResult) -> None:
    reason = _amphora_unavailable(run, run.params.prepare_amphora, "prepare-amphora")
    if reason:
        step.status, step.evidence = "skipped", reason
        return
    assert run.ctx.amphora_ssh is not None
    results = prepare.prepare_amphorae(
        _discover(run), ssh=run.ctx.amphora_ssh, timeout=min(run.params.step_timeout, 120)
    )
    step.details["amphorae"] = [r.to_dict() for r in results]
    good = [r for r in results if r.verdict == "ok"]
    if not good:
        step.status, step.evidence = "skipped", _unreached(results)
        return
    if len(good) < len(results):
        step.status = "warning"
    step.evidence = (
        f"DefaultTimeoutStartSec/StopSec=infinity and daemon-reload on "
        f"{len(good)}/{len(results)} amphorae"
    )


def _wait_lb(run: PlanRun) -> None:
    loadbalancers.wait_lb_active(
        run.conn, run.made.lb_id, timeout=run.params.step_timeout, clock=run.ctx.clock
    )


def _applied(
    run: PlanRun, kind: str, resource_id: str, get: Callable[[str], Any], context: str = ""
) -> Any:
    """After creating a child of the load balancer: wait for the load balancer ACTIVE and
    return the child, or raise StepFailed when the child is not ACTIVE. Octavia puts the
    load balancer back to ACTIVE also when applying the child failed; only the child says
    whether the amphora took its configuration."""
    _wait_lb(run)
    got = get(resource_id)
    if got.provisioning_status != "ACTIVE":
        raise StepFailed(
            f"{context}{kind} {resource_id} is {got.provisioning_status}: Octavia could not "
            "apply it to the amphora (the octavia-worker log has the cause)"
        )
    return got


def listener(run: PlanRun, step: StepResult) -> None:
    p = run.params
    created = loadbalancers.create_listener(
        run.conn,
        lb_id=run.made.lb_id,
        name=p.listener_name,
        port=p.listener_port,
        tls_ref=run.made.secret_href,
        connection_limit=p.connection_limit,
        tags=run.tags,
    )
    run.made.listener_id = created.id
    step.details["id"] = created.id
    got = _applied(run, "listener", created.id, run.conn.load_balancer.get_listener)
    step.evidence = (
        f"{p.listener_name} ({created.id}) TERMINATED_HTTPS:{p.listener_port} ACTIVE, "
        f"connection_limit {got.connection_limit}"
    )


def pool(run: PlanRun, step: StepResult) -> None:
    p = run.params
    created = loadbalancers.create_pool(
        run.conn,
        listener_id=run.made.listener_id,
        name=p.pool_name,
        protocol=p.pool_protocol,
        lb_algorithm=p.lb_algorithm,
        tags=run.tags,
    )
    run.made.pool_id = created.id
    step.details["id"] = created.id
    _applied(run, "pool", created.id, run.conn.load_balancer.get_pool)
    step.evidence = (
        f"{p.pool_name} ({created.id}) {p.pool_protocol} {p.lb_algorithm} ACTIVE "
        "(haproxy reloaded)"
    )


def reloads(run: PlanRun, step: StepResult) -> None:
    count = run.params.reload_count
    if count == 0:
        step.status, step.evidence = "skipped", "reload-count is 0"
        return
    pool_id = run.made.pool_id
    for i in range(count):
        member = loadbalancers.add_member(
            run.conn,
            pool_id,
            address=RELOAD_MEMBER_ADDRESS.format(10 + i % 200),
            port=80,
            tags=run.tags,
        )
        _applied(
            run,
            "member",
            member.id,
            lambda member_id: run.conn.load_balancer.get_member(member_id, pool_id),
            context=f"reload {i + 1}/{count}: ",
        )
        loadbalancers.remove_member(run.conn, pool_id, member.id)
        _wait_lb(run)
        run.log(f"  reload {i + 1}/{count}: member added and removed")
    step.evidence = f"{2 * count} reloads ({count} members added and removed)"


# ---- the OOM check ---------------------------------------------------------------------------


def _since(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)


def oom_check(run: PlanRun, step: StepResult) -> None:
    reason = _amphora_unavailable(run, run.params.check_amphorae, "check-amphorae")
    if reason:
        step.status, step.evidence = "skipped", reason
        return
    assert run.ctx.amphora_ssh is not None
    since = _since(run.started_epoch - run.ctx.oom_since_margin)
    report = check.check_amphorae(
        _discover(run),
        ssh=run.ctx.amphora_ssh,
        since=since,
        timeout=min(run.params.step_timeout, 120),
        haproxy_dir=run.ctx.amphora_haproxy_dir,
    )
    run.amphora_results = report.results
    summary = summarize(report.results)
    shown = f"{check.reader_time(since)} UTC"
    step.details.update(summary=summary, since=shown, haproxy_dir=run.ctx.amphora_haproxy_dir)
    reachable = [r for r in report.results if r.verdict not in ("unreachable", "error")]
    if not reachable:
        step.status, step.evidence = "skipped", _unreached(report.results)
        return
    run.check_ran = True
    if len(reachable) < len(report.results):
        step.status = "warning"
    counts = ", ".join(f"{v}: {n}" for v, n in sorted(summary.items()) if n)
    kills = [
        f"{e.victim_name} pid {e.victim_pid} (total-vm {e.total_vm_kb} kB, memcg {e.memcg})"
        for r in report.results
        for e in r.haproxy_kills()
        if e.victim_pid is not None
    ]
    step.evidence = f"{counts}; kernel log since {shown}"
    if kills:
        step.evidence += "; OOM-killed: " + "; ".join(kills)
