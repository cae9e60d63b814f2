"""Handlers of ``check-amphorae`` and ``prepare-amphora``; see action_context.py.

Both discover the amphorae through Octavia, reach them over SSH with the unit's amphora key
(``ctx.ssh_dir``) and record host keys per amphora id in the known-hosts file beside it. The
full report goes to a file (``action_reports``); the results are a summary that fits Juju.
Heavy imports (openstacksdk, asyncssh) happen inside the handlers.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeVar

from action_context import ActionContext, Handler
from action_reports import capped, save_report
from charmed_octavia.amphora.ssh import SSHFailure, SSHSettings

if TYPE_CHECKING:
    import ops
    from charmed_octavia.amphora.discovery import Amphora
    from charmed_octavia.amphora.results import AmphoraResult


@dataclasses.dataclass(frozen=True)
class PrepareParams:
    loadbalancer: str = ""
    concurrency: int = 10
    timeout: int = 30

    def __post_init__(self) -> None:
        if self.loadbalancer:
            from charmed_octavia.cloud.outcomes import check_name

            check_name("loadbalancer", self.loadbalancer)
        if not 1 <= self.concurrency <= 100:
            raise ValueError("concurrency must be between 1 and 100")
        if not 1 <= self.timeout <= 3600:
            raise ValueError("timeout must be from 1 to 3600 seconds")


@dataclasses.dataclass(frozen=True)
class CheckParams(PrepareParams):
    since: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        from charmed_octavia.amphora.check import parse_since

        parse_since(self.since)


_P = TypeVar("_P", bound=PrepareParams)


def _settings(ctx: ActionContext) -> SSHSettings:
    settings = SSHSettings.in_directory(ctx.ssh_dir)
    if not settings.private_key_path.exists():
        raise FileNotFoundError(
            f"no amphora SSH key at {settings.private_key_path}: run run-test-plan (its "
            "keypair step creates it) or place the private key of the amphora keypair there"
        )
    return settings


def _reach(
    event: ops.ActionEvent, ctx: ActionContext, action: str, cls: type[_P]
) -> tuple[_P, SSHSettings, list[Amphora]] | None:
    """The validated parameters, the SSH settings and the amphorae to act on; None once the
    action has failed (bad parameters end the hook in ``load_params``)."""
    from charmed_octavia.amphora import discovery

    params = event.load_params(cls, errors="fail")
    loadbalancer = params.loadbalancer
    try:
        settings = _settings(ctx)
        found = discovery.discover(ctx.connect(), loadbalancer or None)
    except Exception as exc:  # the action reports any setup failure as its message
        event.fail(f"{action}: {exc}")
        return None
    event.log(f"{len(found)} amphora(e) found{' for ' + loadbalancer if loadbalancer else ''}")
    return params, settings, found


def check_amphorae(event: ops.ActionEvent, ctx: ActionContext) -> None:
    reached = _reach(event, ctx, "check-amphorae", CheckParams)
    if reached is None:
        return
    params, settings, found = reached
    from charmed_octavia.amphora import check

    try:
        report = check.check_amphorae(
            found,
            ssh=settings,
            since=params.since or None,
            concurrency=params.concurrency,
            timeout=float(params.timeout),
        )
    except SSHFailure as exc:  # the unit's own key or known-hosts file is unusable
        event.fail(f"check-amphorae: {exc.reason}")
        return
    _log(event, report.results)
    summary = report.summary
    worst = next((v for v in check.VERDICTS if summary.get(v)), "none")
    path = save_report(ctx.report_dir, "check-amphorae", json.dumps(report.to_dict(), indent=1))
    event.set_results(
        {
            "verdict": worst,
            "summary": {verdict: str(count) for verdict, count in summary.items()},
            "amphorae": str(len(report.results)),
            "not-ok": capped(_lines(r for r in report.results if r.verdict != "ok")),
            "report-file": str(path),
        }
    )


def prepare_amphora(event: ops.ActionEvent, ctx: ActionContext) -> None:
    reached = _reach(event, ctx, "prepare-amphora", PrepareParams)
    if reached is None:
        return
    params, settings, found = reached
    from charmed_octavia.amphora import prepare

    try:
        results = prepare.prepare_amphorae(
            found, ssh=settings, concurrency=params.concurrency, timeout=float(params.timeout)
        )
    except SSHFailure as exc:
        event.fail(f"prepare-amphora: {exc.reason}")
        return
    _log(event, results)
    text = json.dumps([r.to_dict() for r in results], indent=1)
    path = save_report(ctx.report_dir, "prepare-amphora", text)
    event.set_results(
        {
            "prepared": str(sum(1 for r in results if r.verdict == "ok")),
            "changed": str(sum(1 for r in results if r.changed)),
            "report-file": str(path),
        }
    )
    failed = [r for r in results if r.verdict != "ok"]
    if failed:
        event.fail(
            f"{len(failed)} of {len(results)} amphora(e) not prepared: "
            + capped([f"{r.amphora_id}: {r.reason}" for r in failed], limit=5).replace("\n", "; ")
        )


def _lines(results: Iterable[AmphoraResult]) -> list[str]:
    return [f"{r.amphora_id}: {r.verdict}: {r.reason}" for r in results]


def _log(event: ops.ActionEvent, results: Iterable[AmphoraResult]) -> None:
    for line in _lines(results):
        event.log(capped([line]))


HANDLERS: dict[str, Handler] = {
    "check-amphorae": check_amphorae,
    "prepare-amphora": prepare_amphora,
}
