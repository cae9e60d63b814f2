"""The SRU test plan of LP #2119987 as ordered, recorded, cleaned-up steps (``steps.STEPS``).

``run_plan`` takes an openstacksdk connection, the operator's ``PlanParams`` and the unit's or
the lab's ``PlanContext``; the charm's action and the README's main job call it the same way.
Each step runs in turn; after a failure only the steps that say so run (the OOM check after a
failed amphora change, the verdict, the cleanup), and after the verdict a failing step is
recorded in its step while the verdict stands. What a run owns and how cleanup finds it:
``records``; the verdicts: ``verdict``.

A resource that already existed identically (the test plan's fixed names m1.xxlarge, id 10,
o1.xxlarge, the amphora keypair) is reused, recorded as reused and never deleted; one that
exists and differs stops the plan at preflight, before anything is created.

OOM evidence is attributed to this run: the kernel log is read from the plan's start (minus
``PlanContext.oom_since_margin`` for clocks that differ).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from charmed_octavia.cloud import catalog
from charmed_octavia.cloud.connection import requests_within
from charmed_octavia.cloud.outcomes import (
    InvalidParameter,
    answer_timed_out,
    describe_error,
    shown,
)
from charmed_octavia.plan.params import PlanContext, PlanParams
from charmed_octavia.plan.records import PLAN_LOCK, RunRecord, RunStore, new_run_id, utcnow
from charmed_octavia.plan.results import PlanResult, StepFailed, StepResult
from charmed_octavia.plan.state import PlanRun
from charmed_octavia.plan.steps import STEPS, Step

if TYPE_CHECKING:
    from openstack.connection import Connection


def _timed(run: PlanRun, index: int, step: Step) -> None:
    result = run.steps[index]
    label = f"[{index + 1}/{len(run.steps)}] {step.title}"
    run.log(f"{label}: started")
    start = time.monotonic()
    try:
        # No request of the step outlasts the step's timeout; what the step fails with or
        # records names the service, by the connection's catalog.
        with requests_within(run.conn, run.params.step_timeout), catalog.naming(run.conn):
            result.status = "ok"
            step.action(run, result)
    except Exception as e:
        result.status = "failed"
        result.evidence = describe_error(e, catalog.endpoints(run.conn))
        # A request that was sent but not answered may still be carried out.
        if not answer_timed_out(e):
            run.forget_unsent(e)
        raise StepFailed(f"step {step.name} failed: {result.evidence}") from e
    finally:
        result.seconds = time.monotonic() - start
        run.log(f"{label}: {result.status} in {result.seconds:.1f} s. {result.evidence}".strip())


def _run_step(run: PlanRun, index: int, step: Step) -> None:
    result = run.steps[index]
    label = f"[{index + 1}/{len(run.steps)}] {step.title}"
    skipped = step.skip(run)
    if skipped is not None:
        result.status, result.evidence = "skipped", skipped
        run.log(f"{label}: {skipped}")
    elif step.timed:
        _timed(run, index, step)
    else:
        step.action(run, result)
        run.log(f"{label}: {result.evidence}")


def _execute(run: PlanRun) -> None:
    for index, step in enumerate(STEPS):
        if run.failed_step is not None:
            if not step.after_failure(run):
                continue
            if step.after_failure_note:
                run.log(step.after_failure_note.format(failed=run.failed_step))
        try:
            _run_step(run, index, step)
        except StepFailed:
            # Before the verdict a failure stops the plan; after it, the step records it.
            if run.failed_step is None and not run.verdict:
                run.failed_step = step.name
                run.failure = run.steps[index].evidence


def _result(run: PlanRun, seconds: float) -> PlanResult:
    record = run.record
    return PlanResult(
        run_id=record.run_id,
        verdict=run.verdict,
        verdict_reason=run.verdict_reason,
        steps=run.steps,
        started=record.started,
        finished=record.finished or utcnow(),
        seconds=seconds,
        environment={
            "series": run.ctx.series,
            "origin": run.ctx.origin,
            "package_versions": dict(run.ctx.package_versions),
            "amp_ssh_key_name": run.ctx.amp_ssh_key_name,
            "cloud": run.ctx.cloud_label,
        },
        parameters=run.params.to_dict() | {"run-id": record.run_id},
        failed_step=run.failed_step,
        failure=run.failure,
        amphorae=[r.to_dict() for r in run.amphora_results],
        cleanup=run.cleanup_rows,
    )


def run_plan(conn: Connection, params: PlanParams, ctx: PlanContext) -> PlanResult:
    """Run the whole plan; never raises for a failed step (the result says), only for bad
    parameters (``InvalidParameter``, before anything is created) and for a plan already
    running (``RunBusy``)."""
    params.validate()
    run_id = params.run_id or new_run_id()
    store = RunStore(ctx.state_dir)
    if store.exists(run_id):
        raise InvalidParameter(
            f"run-id {shown(run_id)} was already used; pick another or leave it empty"
        )
    with store.lock(PLAN_LOCK), store.lock(run_id):
        record = RunRecord(run_id=run_id, started=utcnow())
        store.save(record)
        run = PlanRun(
            conn=conn,
            params=params,
            ctx=ctx,
            record=record,
            steps=[StepResult(step.name, step.title) for step in STEPS],
        )
        start = time.monotonic()
        _execute(run)
        record.status = "failed" if run.failed_step else "finished"
        record.finished = utcnow()
        record.verdict = run.verdict
        if not record.live():
            record.status += ",cleaned"
        result = _result(run, time.monotonic() - start)
        record.report = result.to_dict()
        run.save()
        return result
