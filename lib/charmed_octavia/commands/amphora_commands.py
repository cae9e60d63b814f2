"""check-amphorae and prepare-amphora: the amphorae found through Octavia, reached over SSH
with the workspace's key, host keys recorded per amphora id."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from charmed_octavia.amphora.ssh import SSHFailure
from charmed_octavia.commands.params import CheckParams, PrepareParams
from charmed_octavia.commands.workspace import Outcome, Workspace, capped, failed

if TYPE_CHECKING:
    from charmed_octavia.amphora.discovery import Amphora
    from charmed_octavia.amphora.results import AmphoraResult
    from charmed_octavia.amphora.ssh import SSHSettings


def _reach(
    command: str, params: PrepareParams, ws: Workspace
) -> tuple[SSHSettings, list[Amphora]] | Outcome:
    """The SSH settings and the amphorae to act on, or the failed outcome."""
    from charmed_octavia.amphora import discovery

    try:
        settings = ws.ssh()
        found = discovery.discover(ws.connect(), params.loadbalancer or None)
    except SSHFailure as exc:
        return failed(command, exc.reason)
    except Exception as exc:  # any set-up failure is the command's message
        return failed(command, str(exc))
    lb = params.loadbalancer
    ws.progress(f"{len(found)} amphora(e) found{' for ' + lb if lb else ''}")
    return settings, found


def check_amphorae(params: CheckParams, ws: Workspace) -> Outcome:
    reached = _reach("check-amphorae", params, ws)
    if isinstance(reached, Outcome):
        return reached
    settings, found = reached
    from charmed_octavia.amphora import check

    try:
        report = check.check_amphorae(
            found,
            ssh=settings,
            since=params.since or None,
            concurrency=params.concurrency,
            timeout=float(params.timeout),
            haproxy_dir=ws.amphora_haproxy_dir,
        )
    except SSHFailure as exc:  # the key or the known-hosts file is unusable
        return failed("check-amphorae", exc.reason)
    _progress(ws, report.results)
    summary = report.summary
    worst = next((v for v in check.VERDICTS if summary.get(v)), "none")
    return Outcome(
        results={
            "verdict": worst,
            "summary": {verdict: str(count) for verdict, count in summary.items()},
            "amphorae": str(len(report.results)),
            "not-ok": capped(_lines(r for r in report.results if r.verdict != "ok")),
        },
        report_name="check-amphorae",
        reports={"json": json.dumps(report.to_dict(), indent=1)},
        verdict=worst,
    )


def prepare_amphora(params: PrepareParams, ws: Workspace) -> Outcome:
    reached = _reach("prepare-amphora", params, ws)
    if isinstance(reached, Outcome):
        return reached
    settings, found = reached
    from charmed_octavia.amphora import prepare

    try:
        results = prepare.prepare_amphorae(
            found, ssh=settings, concurrency=params.concurrency, timeout=float(params.timeout)
        )
    except SSHFailure as exc:
        return failed("prepare-amphora", exc.reason)
    _progress(ws, results)
    not_prepared = [r for r in results if r.verdict != "ok"]
    return Outcome(
        results={
            "prepared": str(sum(1 for r in results if r.verdict == "ok")),
            "changed": str(sum(1 for r in results if r.changed)),
        },
        failure=(
            f"{len(not_prepared)} of {len(results)} amphora(e) not prepared: "
            + capped([f"{r.amphora_id}: {r.reason}" for r in not_prepared], limit=5).replace(
                "\n", "; "
            )
            if not_prepared
            else None
        ),
        report_name="prepare-amphora",
        reports={"json": json.dumps([r.to_dict() for r in results], indent=1)},
    )


def _lines(results: Iterable[AmphoraResult]) -> list[str]:
    return [f"{r.amphora_id}: {r.verdict}: {r.reason}" for r in results]


def _progress(ws: Workspace, results: Iterable[AmphoraResult]) -> None:
    for line in _lines(results):
        ws.progress(capped([line]))
