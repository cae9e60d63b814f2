"""Handlers of ``check-amphorae`` and ``prepare-amphora``; see action_context.py.

Both discover the amphorae through Octavia, reach them over SSH with the unit's amphora key
(``ctx.ssh_dir``) and record host keys per amphora id in the known-hosts file beside it.
Heavy imports (openstacksdk, asyncssh) happen inside the handlers.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, TypeVar

from action_context import ActionContext, Handler

if TYPE_CHECKING:
    import ops
    from charmed_octavia.amphora.discovery import Amphora
    from charmed_octavia.amphora.ssh import SSHSettings


@dataclasses.dataclass(frozen=True)
class PrepareParams:
    loadbalancer: str = ""
    concurrency: int = 10
    timeout: int = 30

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= 100:
            raise ValueError("concurrency must be between 1 and 100")
        if self.timeout < 1:
            raise ValueError("timeout must be at least 1 second")


@dataclasses.dataclass(frozen=True)
class CheckParams(PrepareParams):
    since: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        from charmed_octavia.amphora.check import validate_since

        validate_since(self.since)


_P = TypeVar("_P", bound=PrepareParams)


def _settings(ctx: ActionContext) -> SSHSettings:
    from charmed_octavia.amphora.ssh import SSHSettings

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

    report = check.check_amphorae(
        found,
        ssh=settings,
        since=params.since or None,
        concurrency=params.concurrency,
        timeout=float(params.timeout),
    )
    for result in report.results:
        event.log(f"{result.amphora_id}: {result.verdict}: {result.reason}")
    summary = report.summary
    worst = next((v for v in check.VERDICTS if summary.get(v)), "none")
    event.set_results(
        {
            "verdict": worst,
            "summary": {verdict: str(count) for verdict, count in summary.items()},
            "amphorae": str(len(report.results)),
            "report": json.dumps(report.to_dict(), sort_keys=True),
        }
    )


def prepare_amphora(event: ops.ActionEvent, ctx: ActionContext) -> None:
    reached = _reach(event, ctx, "prepare-amphora", PrepareParams)
    if reached is None:
        return
    params, settings, found = reached
    from charmed_octavia.amphora import prepare

    results = prepare.prepare_amphorae(
        found, ssh=settings, concurrency=params.concurrency, timeout=float(params.timeout)
    )
    for result in results:
        event.log(f"{result.amphora_id}: {result.verdict}: {result.reason}")
    event.set_results(
        {
            "prepared": str(sum(1 for r in results if r.verdict == "ok")),
            "changed": str(sum(1 for r in results if r.changed)),
            "report": json.dumps([r.to_dict() for r in results], sort_keys=True),
        }
    )
    failed = [r for r in results if r.verdict != "ok"]
    if failed:
        event.fail(
            f"{len(failed)} of {len(results)} amphora(e) not prepared: "
            + "; ".join(f"{r.amphora_id}: {r.reason}" for r in failed)
        )


HANDLERS: dict[str, Handler] = {
    "check-amphorae": check_amphorae,
    "prepare-amphora": prepare_amphora,
}
