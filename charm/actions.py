"""The charm's actions: each loads its typed parameters, runs the library's command in a
workspace of this unit, and delivers the outcome as action results and report files.

Parameters are loaded with ``event.load_params(..., errors="fail")`` into the classes of
``commands.params``, which validate themselves when made: bad input fails the action before
any connection is opened, and changes nothing. The commands are the ones ``octavia-sru`` runs
(``charmed_octavia.commands``); what is the unit's own is here: its key and known hosts, its
facts for the plan's report, where reports are kept, and what fits in Juju's results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from action_context import ActionContext, Handler
from action_reports import save_report
from charmed_octavia.cloud.outcomes import describe_error
from charmed_octavia.commands.registry import COMMANDS, Command
from charmed_octavia.commands.workspace import Outcome, Workspace

if TYPE_CHECKING:
    from collections.abc import Callable

    import ops
    from charmed_octavia.amphora.ssh import SSHSettings
    from charmed_octavia.plan.params import PlanContext

# The Markdown report goes into the results when it fits well within one action-set argument.
REPORT_IN_RESULTS = 64 * 1024


def _ssh_settings(ctx: ActionContext) -> SSHSettings:
    from charmed_octavia.amphora.ssh import SSHSettings

    settings = SSHSettings.in_directory(ctx.ssh_dir)
    if not settings.private_key_path.exists():
        raise FileNotFoundError(
            f"no amphora SSH key at {settings.private_key_path}: run run-test-plan (its "
            "keypair step creates it) or place the private key of the amphora keypair there"
        )
    return settings


def _plan_context(
    event: ops.ActionEvent, ctx: ActionContext, progress: Callable[[str], None]
) -> PlanContext:
    from charmed_octavia.plan.params import PlanContext

    public_key = None
    amphora_ssh = None
    try:
        from charmed_octavia.amphora import ssh

        _, public_key = ssh.ensure_keypair(ctx.ssh_dir)
        amphora_ssh = ssh.SSHSettings.in_directory(ctx.ssh_dir)
    except ImportError as e:
        event.log(f"amphora SSH support unavailable ({e}); the amphora steps will not run")
    try:
        versions = dict(ctx.package_versions())
    except Exception as e:
        event.log(f"package versions unknown: {describe_error(e)}")
        versions = {}
    return PlanContext(
        state_dir=ctx.state_dir,
        series=ctx.series,
        origin=ctx.config.openstack_origin,
        package_versions=versions,
        amp_ssh_key_name=ctx.config.amp_ssh_key_name,
        public_key=public_key,
        amphora_ssh=amphora_ssh,
        progress=progress,
    )


def workspace(event: ops.ActionEvent, ctx: ActionContext) -> Workspace:
    return Workspace(
        connect=ctx.connect,
        state_dir=ctx.state_dir,
        records_at="on this unit",
        ssh=lambda: _ssh_settings(ctx),
        plan_context=lambda progress: _plan_context(event, ctx, progress),
        progress=event.log,
    )


def deliver(event: ops.ActionEvent, ctx: ActionContext, outcome: Outcome) -> None:
    """Reports to files (the main one as ``report-file``, the others ``report-<suffix>-file``),
    results that fit Juju, and the failure, if any."""
    results = dict(outcome.results)
    files = {}
    for i, (suffix, text) in enumerate(outcome.reports.items()):
        files[suffix] = save_report(ctx.report_dir, outcome.report_name, text, suffix)
        results["report-file" if i == 0 else f"report-{suffix}-file"] = str(files[suffix])
    report = results.get("report")
    if isinstance(report, str) and len(report) > REPORT_IN_RESULTS:
        results["report"] = f"(the report is {len(report)} characters: see {files['md']})"
    if results:
        event.set_results(results)
    if outcome.failure:
        event.fail(outcome.failure)


def _handler(command: Command) -> Handler:
    def handler(event: ops.ActionEvent, ctx: ActionContext) -> None:
        # errors="fail" fails the action with the validation message and ends the hook.
        params = event.load_params(command.params, errors="fail")
        deliver(event, ctx, command.run(params, workspace(event, ctx)))

    return handler


HANDLERS: dict[str, Handler] = {name: _handler(command) for name, command in COMMANDS.items()}
