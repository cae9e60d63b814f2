"""run-test-plan and cleanup-test-plan: the SRU test plan, its verdict and reports, and the
deletion of what recorded runs created."""

from __future__ import annotations

import json

from charmed_octavia.cloud.outcomes import describe_error, shown
from charmed_octavia.commands.params import CleanupParams
from charmed_octavia.commands.workspace import Outcome, Workspace, capped, failed
from charmed_octavia.plan.params import PlanParams


def run_test_plan(params: PlanParams, ws: Workspace) -> Outcome:
    from charmed_octavia.plan import report, run
    from charmed_octavia.plan.records import RunBusy

    try:
        conn = ws.connect()
        result = run.run_plan(conn, params, ws.plan_context(ws.progress))
    except RunBusy as e:
        return failed("run-test-plan", f"another run is in progress ({describe_error(e)})")
    except Exception as e:
        # Only set-up errors get here (no connection, a reused run id): nothing was created.
        return failed("run-test-plan", describe_error(e))
    data = result.to_dict()
    markdown = report.render_markdown(data)
    steps = {
        f"{i + 1:02d}-{s.name}": {
            "status": s.status,
            "seconds": f"{s.seconds:.1f}",
            "evidence": s.evidence,
        }
        for i, s in enumerate(result.steps)
    }
    return Outcome(
        results={
            "verdict": result.verdict,
            "verdict-reason": result.verdict_reason,
            "run-id": result.run_id,
            "steps": steps,
            "report": markdown,
        },
        failure=(
            f"run-test-plan {result.run_id}: step {result.failed_step} failed: {result.failure}"
            if result.verdict == "failed"
            else None
        ),
        report_name=f"run-test-plan-{result.run_id}",
        reports={"md": markdown, "json": report.render_json(data)},
        verdict=result.verdict,
    )


def cleanup_test_plan(params: CleanupParams, ws: Workspace) -> Outcome:
    from charmed_octavia.plan import cleanup
    from charmed_octavia.plan.records import RunStore

    if params.run_id and not RunStore(ws.state_dir).exists(params.run_id):
        return failed(
            "cleanup-test-plan",
            f"no record of test-plan run {shown(params.run_id)} {ws.records_at}: nothing "
            "was deleted (only runs recorded there are cleaned)",
        )
    try:
        outcome = cleanup.cleanup(ws.connect(), ws.state_dir, params.run_id, progress=ws.progress)
    except Exception as e:
        return failed("cleanup-test-plan", describe_error(e))
    kept = outcome.kept
    failure = None
    if params.run_id and outcome.runs.get(params.run_id) == "no-record":
        # The record went between the check above and the cleanup (another run cleaned it).
        failure = (
            f"cleanup-test-plan: run {shown(params.run_id)} is no longer recorded {ws.records_at}"
        )
    elif kept:
        lines = [f"{r['kind']} {r['name']} ({r['id']}): {r['reason']}" for r in kept]
        failure = (
            f"cleanup-test-plan kept {capped(lines, limit=5).replace(chr(10), '; ')}: "
            "run it again once the cause is fixed"
        )
    return Outcome(
        # Run ids are no result keys (Juju takes lowercase letters, digits, "-" and "."
        # only): the runs go as JSON text.
        results={
            "runs": json.dumps(outcome.runs, sort_keys=True),
            "deleted": str(outcome.deleted),
            "kept": str(len(kept)),
        },
        failure=failure,
        report_name="cleanup-test-plan",
        reports={"json": json.dumps(outcome.to_dict(), indent=1)},
    )
