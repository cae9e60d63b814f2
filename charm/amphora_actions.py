"""Handlers of ``check-amphorae`` and ``prepare-amphora``; see action_context.py.

Both discover the amphorae through Octavia, reach them over SSH with the unit's amphora key
(``ctx.ssh_dir``) and record host keys per amphora id in ``ctx.ssh_dir/known_hosts``.
Heavy imports (openstacksdk, asyncssh) happen inside the handlers.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from action_context import ActionContext, Handler

if TYPE_CHECKING:
    import ops

KNOWN_HOSTS = "known_hosts"


@dataclasses.dataclass(frozen=True)
class CheckParams:
    loadbalancer: str = ""
    since: str = ""
    concurrency: int = 10
    timeout: int = 30

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= 100:
            raise ValueError("concurrency must be between 1 and 100")
        if self.timeout < 1:
            raise ValueError("timeout must be at least 1 second")
        from charmed_octavia.amphora import validate_since

        validate_since(self.since)


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


def _settings(ctx: ActionContext) -> Any:
    from charmed_octavia import amphora

    key = ctx.ssh_dir / "id_amphora"
    if not key.exists():
        raise FileNotFoundError(
            f"no amphora SSH key at {key}: run run-test-plan (its keypair step creates it) "
            "or place the private key of the amphora keypair there"
        )
    return amphora.SSHSettings(private_key_path=key, known_hosts_path=ctx.ssh_dir / KNOWN_HOSTS)


def _reach(
    event: ops.ActionEvent, ctx: ActionContext, action: str, loadbalancer: str
) -> tuple[Any, list[Any]] | None:
    """The SSH settings and the amphorae to act on; None once the action has failed."""
    from charmed_octavia import amphora

    try:
        settings = _settings(ctx)
        found = amphora.discover(ctx.connect(), loadbalancer or None)
    except Exception as exc:  # the action reports any setup failure as its message
        event.fail(f"{action}: {exc}")
        return None
    event.log(f"{len(found)} amphora(e) found{' for ' + loadbalancer if loadbalancer else ''}")
    return settings, found


def check_amphorae(event: ops.ActionEvent, ctx: ActionContext) -> None:
    try:
        params = event.load_params(CheckParams, errors="fail")
    except ValueError:
        return
    from charmed_octavia import amphora

    reached = _reach(event, ctx, "check-amphorae", params.loadbalancer)
    if reached is None:
        return
    settings, found = reached
    report = amphora.check_amphorae(
        found,
        ssh=settings,
        since=params.since or None,
        concurrency=params.concurrency,
        timeout=float(params.timeout),
    )
    for result in report.results:
        event.log(f"{result.amphora_id}: {result.verdict}: {result.reason}")
    summary = report.summary
    worst = next((v for v in amphora.VERDICTS if summary.get(v)), "none")
    event.set_results(
        {
            "verdict": worst,
            "summary": {verdict: str(count) for verdict, count in summary.items()},
            "amphorae": str(len(report.results)),
            "report": json.dumps(report.to_dict(), sort_keys=True),
        }
    )


def prepare_amphora(event: ops.ActionEvent, ctx: ActionContext) -> None:
    try:
        params = event.load_params(PrepareParams, errors="fail")
    except ValueError:
        return
    from charmed_octavia import amphora

    reached = _reach(event, ctx, "prepare-amphora", params.loadbalancer)
    if reached is None:
        return
    settings, found = reached
    results = amphora.prepare_amphorae(
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
