"""Handlers of the flavor, TLS and SRU test-plan actions; see action_context.py.

Parameters are loaded with ``event.load_params(..., errors="fail")`` straight into the
library's specs (``flavors.NovaFlavorSpec``, ``LbFlavorSpec``, ``XxlargeSpec``,
``params.PlanParams``), which hold the defaults and validate themselves when made, or into
the dataclasses below where the action's values differ in form. Either way everything is
validated before any connection is opened, so bad input fails the action and changes nothing.
The heavier library modules and openstacksdk are imported inside the handlers (the flavor
specs need none of it): charm.py's import time stays small.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from action_context import ActionContext, Handler
from action_reports import capped, save_report
from charmed_octavia.cloud import flavors
from charmed_octavia.cloud.flavors import FlavorProfileSpec, parse_flavor_data
from charmed_octavia.cloud.outcomes import describe_error, shown

if TYPE_CHECKING:
    import ops
    from charmed_octavia.cloud.outcomes import Ensured
    from charmed_octavia.plan.params import PlanContext
    from openstack.connection import Connection

_T = TypeVar("_T")
# The Markdown report goes into the results when it fits well within one action-set argument.
REPORT_IN_RESULTS = 64 * 1024


# ---- parameters ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CreateFlavorProfileParams:
    """create-flavorprofile's parameters: ``flavor-data`` is JSON text, the spec's a mapping."""

    name: str
    compute_flavor: str
    provider: str = FlavorProfileSpec.provider
    flavor_data: str = "{}"

    def __post_init__(self) -> None:
        self.spec()

    def spec(self) -> FlavorProfileSpec:
        return FlavorProfileSpec(
            name=self.name,
            compute_flavor=self.compute_flavor,
            provider=self.provider,
            flavor_data=parse_flavor_data(self.flavor_data),
        )


@dataclasses.dataclass(frozen=True)
class StoreTlsBundleParams:
    name: str = "xxlarge.devstack.p12"
    common_name: str = "xxlarge.devstack"
    bundle: str = dataclasses.field(default="", repr=False)
    days: int = 365

    def __post_init__(self) -> None:
        from charmed_octavia.cloud import tls
        from charmed_octavia.cloud.outcomes import check_name

        check_name("secret", self.name)
        if self.bundle:
            # Decoding also proves it is an unencrypted PKCS#12 with a key and a certificate.
            tls.decode_bundle(self.bundle)
        else:
            tls.validate_common_name(self.common_name)
            tls.validate_days(self.days)


@dataclasses.dataclass(frozen=True)
class CleanupParams:
    run_id: str = ""

    def __post_init__(self) -> None:
        if self.run_id:
            from charmed_octavia.plan.records import validate_run_id

            validate_run_id(self.run_id)


# ---- helpers -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _flat(values: Mapping[str, Any]) -> dict[str, str]:
    """Juju action results hold strings: every value as text, hyphenated keys."""
    return {key.replace("_", "-"): _text(v) for key, v in values.items()}


def _ensured_results(ensured: Ensured) -> dict[str, Any]:
    return {
        "action": ensured.action,
        "id": ensured.id,
        "name": ensured.name,
        "attributes": _flat(ensured.attributes),
    }


def _load(event: ops.ActionEvent, cls: type[_T]) -> _T:
    # errors="fail" fails the action with the validation message and ends the hook.
    return event.load_params(cls, errors="fail")


def _ensure_handler(
    action: str,
    label: str,
    load: Callable[[ops.ActionEvent], Any],
    ensure: Callable[[Connection, Any], Ensured],
    extra: Callable[[Ensured], dict[str, str]] | None = None,
) -> Handler:
    """A handler that ensures one resource from its validated spec (``load``): it logs the
    outcome and returns it as results (with ``extra`` attributes), or fails with the reason."""

    def handler(event: ops.ActionEvent, ctx: ActionContext) -> None:
        spec = load(event)
        try:
            ensured = ensure(ctx.connect(), spec)
        except Exception as e:
            event.fail(f"{action}: {describe_error(e)}")
            return
        event.log(f"{label} {ensured.name} ({ensured.id}) {ensured.action}")
        results = _ensured_results(ensured)
        if extra is not None:
            results["attributes"].update(extra(ensured))
        event.set_results(results)

    return handler


# ---- handlers ------------------------------------------------------------------------------

# The library functions are looked up at call time (tests replace them at the cloud boundary).
create_flavor = _ensure_handler(
    "create-flavor",
    "Nova flavor",
    lambda event: _load(event, flavors.NovaFlavorSpec),
    lambda conn, spec: flavors.ensure_nova_flavor(conn, spec),
)
create_flavorprofile = _ensure_handler(
    "create-flavorprofile",
    "flavorprofile",
    lambda event: _load(event, CreateFlavorProfileParams).spec(),
    lambda conn, spec: flavors.ensure_flavorprofile(conn, spec),
    # The merged flavor data as Octavia holds it, as JSON text (results are strings).
    extra=lambda ensured: {
        "flavor-data": json.dumps(ensured.attributes.get("flavor_data"), sort_keys=True)
    },
)
create_lb_flavor = _ensure_handler(
    "create-lb-flavor",
    "Octavia flavor",
    lambda event: _load(event, flavors.LbFlavorSpec),
    lambda conn, spec: flavors.ensure_lb_flavor(conn, spec),
)


def create_xxlarge_flavor(event: ops.ActionEvent, ctx: ActionContext) -> None:
    spec = _load(event, flavors.XxlargeSpec)
    try:
        ensured = flavors.ensure_xxlarge(ctx.connect(), spec)
    except Exception as e:
        event.fail(f"create-xxlarge-flavor: {describe_error(e)}")
        return
    results: dict[str, Any] = {}
    for item in ensured:
        event.log(f"{item.kind} {item.name} ({item.id}) {item.action}")
        results[item.kind] = _ensured_results(item)
    event.set_results(results)


def store_tls_bundle(event: ops.ActionEvent, ctx: ActionContext) -> None:
    params = _load(event, StoreTlsBundleParams)
    from charmed_octavia.cloud import barbican, tls

    try:
        # The parameters were checked; what cryptography still refuses fails the action too.
        if params.bundle:
            bundle = tls.decode_bundle(params.bundle)
        else:
            bundle = tls.generate_bundle(params.common_name, days=params.days)
    except ValueError as e:
        event.fail(f"store-tls-bundle: {describe_error(e)}")
        return
    if bundle.generated:
        event.log(f"generated a CA and a certificate for {params.common_name}")
    else:
        event.log(f"storing the given bundle ({bundle.subject})")
    try:
        stored = barbican.store_bundle(ctx.connect(), params.name, bundle)
    except Exception as e:
        event.fail(f"store-tls-bundle: {describe_error(e)}")
        return
    event.set_results(
        {
            "secret-href": stored.href,
            "secret-id": stored.id,
            "name": stored.name,
            "certificate": _flat(bundle.to_dict()),
        }
    )


def _plan_context(event: ops.ActionEvent, ctx: ActionContext) -> PlanContext:
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
        progress=event.log,
    )


def run_test_plan(event: ops.ActionEvent, ctx: ActionContext) -> None:
    from charmed_octavia.plan import params as plan_params
    from charmed_octavia.plan import report, run
    from charmed_octavia.plan.records import RunBusy

    params = _load(event, plan_params.PlanParams)

    try:
        conn = ctx.connect()
        plan_ctx = _plan_context(event, ctx)
        result = run.run_plan(conn, params, plan_ctx)
    except RunBusy as e:
        event.fail(f"run-test-plan: another run is in progress ({describe_error(e)})")
        return
    except Exception as e:
        # Only set-up errors get here (no connection, a reused run id): nothing was created.
        event.fail(f"run-test-plan: {describe_error(e)}")
        return
    data = result.to_dict()
    markdown = report.render_markdown(data)
    markdown_file = save_report(ctx.report_dir, f"run-test-plan-{result.run_id}", markdown, "md")
    json_file = save_report(
        ctx.report_dir, f"run-test-plan-{result.run_id}", report.render_json(data)
    )
    steps = {
        f"{i + 1:02d}-{s.name}": {
            "status": s.status,
            "seconds": f"{s.seconds:.1f}",
            "evidence": s.evidence,
        }
        for i, s in enumerate(result.steps)
    }
    event.set_results(
        {
            "verdict": result.verdict,
            "verdict-reason": result.verdict_reason,
            "run-id": result.run_id,
            "steps": steps,
            "report": markdown
            if len(markdown) <= REPORT_IN_RESULTS
            else f"(the report is {len(markdown)} characters: see {markdown_file})",
            "report-file": str(markdown_file),
            "report-json-file": str(json_file),
        }
    )
    if result.verdict == "failed":
        event.fail(
            f"run-test-plan {result.run_id}: step {result.failed_step} failed: {result.failure}"
        )


def cleanup_test_plan(event: ops.ActionEvent, ctx: ActionContext) -> None:
    params = _load(event, CleanupParams)
    from charmed_octavia.plan import cleanup
    from charmed_octavia.plan.records import RunStore

    if params.run_id and not RunStore(ctx.state_dir).exists(params.run_id):
        event.fail(
            f"cleanup-test-plan: no record of test-plan run {shown(params.run_id)} on this unit: "
            "nothing was deleted (only runs recorded here are cleaned)"
        )
        return
    try:
        outcome = cleanup.cleanup(ctx.connect(), ctx.state_dir, params.run_id, progress=event.log)
    except Exception as e:
        event.fail(f"cleanup-test-plan: {describe_error(e)}")
        return
    kept = outcome.kept
    path = save_report(
        ctx.report_dir, "cleanup-test-plan", json.dumps(outcome.to_dict(), indent=1)
    )
    # Run ids are no result keys (Juju takes lowercase letters, digits, "-" and "." only):
    # the runs go as JSON text.
    event.set_results(
        {
            "runs": json.dumps(outcome.runs, sort_keys=True),
            "deleted": str(outcome.deleted),
            "kept": str(len(kept)),
            "report-file": str(path),
        }
    )
    if params.run_id and outcome.runs.get(params.run_id) == "no-record":
        # The record went between the check above and the cleanup (another action ran).
        event.fail(f"cleanup-test-plan: run {shown(params.run_id)} is no longer recorded here")
    elif kept:
        lines = [f"{r['kind']} {r['name']} ({r['id']}): {r['reason']}" for r in kept]
        event.fail(
            f"cleanup-test-plan kept {capped(lines, limit=5).replace(chr(10), '; ')}: "
            "run it again once the cause is fixed"
        )


HANDLERS: dict[str, Handler] = {
    "create-flavor": create_flavor,
    "create-flavorprofile": create_flavorprofile,
    "create-lb-flavor": create_lb_flavor,
    "create-xxlarge-flavor": create_xxlarge_flavor,
    "store-tls-bundle": store_tls_bundle,
    "run-test-plan": run_test_plan,
    "cleanup-test-plan": cleanup_test_plan,
}
