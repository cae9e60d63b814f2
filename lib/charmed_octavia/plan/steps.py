"""The test plan's steps in one table (``STEPS``): the bug's test plan command by command
(``resource_steps``: keypair, Nova flavor, flavorprofile, Octavia flavor, TLS bundle in
Barbican, load balancer; ``amphora_steps``: amphora preparation, TERMINATED_HTTPS listener,
pool, extra reloads, the amphora OOM check), then the verdict and the cleanup.

Each step is a function of the run (``PlanRun``) and its ``StepResult``: it sets the status
(``ok`` unless it says otherwise) and the evidence, records what it creates before creating it,
and raises to fail (``StepFailed`` with its reason, or any library error).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from charmed_octavia.plan import amphora_steps, cleanup, resource_steps
from charmed_octavia.plan.results import StepResult
from charmed_octavia.plan.state import PlanRun
from charmed_octavia.plan.verdict import AMPHORA_CHANGE_STEPS, decide_verdict

Action = Callable[[PlanRun, StepResult], None]


def _never(run: PlanRun) -> bool:
    del run
    return False


def _always(run: PlanRun) -> bool:
    del run
    return True


def _no_skip(run: PlanRun) -> str | None:
    del run
    return None


@dataclasses.dataclass(frozen=True)
class Step:
    name: str
    title: str
    action: Action
    # Whether the step runs once an earlier step has failed, and what to say when it does.
    after_failure: Callable[[PlanRun], bool] = _never
    after_failure_note: str = ""
    # A reason not to run the step (its status is then "skipped", the reason its evidence).
    skip: Callable[[PlanRun], str | None] = _no_skip
    # A timed step logs "started" and its outcome with the time; an untimed one its evidence.
    timed: bool = True


def _after_amphora_change(run: PlanRun) -> bool:
    # The amphora refusing or dying on a change is how the bug shows: look for the OOM kill
    # before cleanup deletes the load balancer, so the verdict can say.
    return (
        run.failed_step in AMPHORA_CHANGE_STEPS
        and bool(run.made.lb_id)
        and run.params.check_amphorae
    )


def verdict(run: PlanRun, step: StepResult) -> None:
    run.verdict, run.verdict_reason = decide_verdict(
        failed_step=run.failed_step,
        failure=run.failure,
        check_ran=run.check_ran,
        amphorae=run.amphora_results,
    )
    step.status = "failed" if run.verdict == "failed" else "ok"
    step.evidence = f"{run.verdict}: {run.verdict_reason}"
    if run.failed_step:
        step.details["failed_step"] = run.failed_step


def _kept_by_parameter(run: PlanRun) -> str | None:
    if not run.params.keep_resources:
        return None
    return f"kept by keep-resources: run cleanup-test-plan run-id={run.record.run_id}"


def cleanup_resources(run: PlanRun, step: StepResult) -> None:
    rows = cleanup.cleanup_record(
        run.conn,
        run.store,
        run.record,
        timeout=run.params.step_timeout,
        clock=run.ctx.clock,
        progress=run.log,
    )
    run.cleanup_rows.extend(rows)
    kept = [r for r in rows if r["outcome"] == "kept"]
    deleted = [r for r in rows if r["outcome"] == "deleted"]
    if kept:
        step.status = "warning"
    step.evidence = f"deleted {len(deleted)} resources created by this run" + (
        "; kept " + "; ".join(f"{r['kind']} {r['name']}: {r['reason']}" for r in kept)
        if kept
        else "; nothing left behind"
    )


STEPS: tuple[Step, ...] = (
    Step("preflight", "Preflight", resource_steps.preflight),
    Step("keypair", "Amphora SSH keypair", resource_steps.keypair),
    Step("nova-flavor", "Nova flavor", resource_steps.nova_flavor),
    Step("flavorprofile", "Octavia flavorprofile", resource_steps.flavorprofile),
    Step("lb-flavor", "Octavia flavor", resource_steps.lb_flavor),
    Step("tls-bundle", "TLS bundle in Barbican", resource_steps.tls_bundle),
    Step("loadbalancer", "Load balancer (ACTIVE)", resource_steps.loadbalancer),
    Step(
        "prepare-amphora", "Amphora preparation (systemd timeouts)", amphora_steps.prepare_amphora
    ),
    Step("listener", "TERMINATED_HTTPS listener", amphora_steps.listener),
    Step("pool", "Pool", amphora_steps.pool),
    Step("reloads", "Extra haproxy reloads", amphora_steps.reloads),
    Step(
        "oom-check",
        "Amphora OOM check",
        amphora_steps.oom_check,
        after_failure=_after_amphora_change,
        after_failure_note="step {failed} failed; checking the amphorae for OOM kills before "
        "cleanup",
    ),
    Step("verdict", "Verdict", verdict, after_failure=_always, timed=False),
    Step(
        "cleanup",
        "Cleanup",
        cleanup_resources,
        after_failure=_always,
        skip=_kept_by_parameter,
    ),
)
