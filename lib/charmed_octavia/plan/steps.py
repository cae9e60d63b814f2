"""The test plan's steps, in one table: the bug's test plan command by command (keypair,
Nova flavor, flavorprofile, Octavia flavor, TLS bundle in Barbican, load balancer, amphora
preparation, TERMINATED_HTTPS listener, pool, extra reloads, the amphora OOM check), then the
verdict and the cleanup.

Each step is a function of the run (``PlanRun``) and its ``StepResult``: it sets the status
(``ok`` unless it says otherwise) and the evidence, records what it creates before creating it,
and raises to fail (``StepFailed`` with its reason, or any library error).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import uuid
from collections.abc import Callable
from typing import Any

from charmed_octavia.amphora import check, discovery, prepare
from charmed_octavia.amphora.results import AmphoraResult, summarize
from charmed_octavia.cloud import barbican, flavors, keypairs, loadbalancers, tls
from charmed_octavia.cloud.connection import service_types
from charmed_octavia.cloud.outcomes import ConflictError
from charmed_octavia.plan import cleanup
from charmed_octavia.plan.records import nova_description, secret_name
from charmed_octavia.plan.results import StepFailed, StepResult
from charmed_octavia.plan.state import PlanRun
from charmed_octavia.plan.verdict import AMPHORA_CHANGE_STEPS, decide_verdict

REQUIRED_SERVICES = ("compute", "load-balancer", "key-manager")
# A documentation address (RFC 5737 TEST-NET-3): the member of an extra reload is never
# meant to answer, it only makes Octavia rewrite and reload haproxy.
RELOAD_MEMBER_ADDRESS = "203.0.113.{}"

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


# ---- preflight and keypair -------------------------------------------------------------------


def preflight(run: PlanRun, step: StepResult) -> None:
    notes: list[str] = []
    present = service_types(run.conn)
    missing = [s for s in REQUIRED_SERVICES if s not in present]
    if missing:
        raise StepFailed(f"the catalog has no {', '.join(missing)} service")
    notes.append(f"catalog has {', '.join(REQUIRED_SERVICES)}")
    notes += _environment_notes(run, step)
    notes += _key_name_notes(run, step)
    run.made.vip_subnet_id = _vip_subnet_id(run, "network" in present)
    step.details["vip_subnet_id"] = run.made.vip_subnet_id
    # Every conflict is found here, before anything exists: a conflict changes nothing.
    flavors.check_xxlarge(run.conn, run.params.xxlarge())
    _check_keypair(run)
    notes.append("no conflicting flavor, flavorprofile or keypair")
    step.evidence = "; ".join(notes)


def _environment_notes(run: PlanRun, step: StepResult) -> list[str]:
    ctx = run.ctx
    octavia = {k: v for k, v in ctx.package_versions.items() if "octavia" in k}
    step.details["package_versions"] = dict(ctx.package_versions)
    step.details["series"] = ctx.series
    step.details["origin"] = ctx.origin
    versions = (
        ", ".join(f"{k} {v}" for k, v in sorted(octavia.items()))
        if octavia
        else "octavia package version unknown"
    )
    return [versions, f"series {ctx.series or 'unknown'}, origin {ctx.origin or '?'}"]


def _key_name_notes(run: PlanRun, step: StepResult) -> list[str]:
    configured = run.ctx.amp_ssh_key_name
    wanted = run.params.keypair_name
    step.details["amp_ssh_key_name"] = configured
    if configured and configured != wanted:
        raise StepFailed(
            f"octavia.conf amp_ssh_key_name is {configured!r} but the plan uploads the "
            f"keypair {wanted!r}: amphorae would not accept the plan's SSH key "
            f"(set keypair-name={configured} or amp-ssh-key-name={wanted})"
        )
    if not configured:
        step.status = "warning"
        return [
            "octavia.conf has no amp_ssh_key_name: amphorae boot without an SSH key, "
            "the amphora check cannot reach them"
        ]
    return [f"amp_ssh_key_name {configured!r} matches keypair-name"]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _vip_subnet_id(run: PlanRun, has_network: bool) -> str:
    subnet = run.params.vip_subnet
    if _is_uuid(subnet):
        return subnet
    if not has_network:
        raise StepFailed(
            f"vip-subnet {subnet!r} is a name and the catalog has no network "
            "service to resolve it: give the subnet id"
        )
    found = run.conn.network.find_subnet(subnet, ignore_missing=True)
    if found is None:
        raise StepFailed(f"no subnet named {subnet!r}")
    return found.id


def _check_keypair(run: PlanRun) -> None:
    public_key = run.ctx.public_key
    if not public_key:
        return
    name = run.params.keypair_name
    existing = run.conn.compute.find_keypair(name, ignore_missing=True)
    if existing is not None and keypairs.key_material(
        existing.public_key or ""
    ) != keypairs.key_material(public_key):
        raise ConflictError(
            "keypair",
            name,
            [f"public key: existing {existing.fingerprint}, the unit has another key"],
        )


def keypair(run: PlanRun, step: StepResult) -> None:
    name = run.params.keypair_name
    public_key = run.ctx.public_key
    if not public_key:
        step.status = "skipped"
        step.evidence = "no amphora SSH key available on this machine"
        return
    existing = run.conn.compute.find_keypair(name, ignore_missing=True)
    if existing is not None:
        keypairs.ensure_keypair(run.conn, name, public_key)
        run.reused("keypair", name, name)
        step.status = "reused"
        step.evidence = f"{name} exists with this key ({existing.fingerprint})"
        return
    record = run.pending("keypair", name, key=keypairs.key_material(public_key))
    ensured = keypairs.ensure_keypair(run.conn, name, public_key)
    run.settle(record, name, created=ensured.created)
    step.status = "ok" if ensured.created else "reused"
    step.evidence = f"{name} uploaded ({ensured.attributes.get('fingerprint')})"


# ---- the three flavors -----------------------------------------------------------------------


def _find_reuse_or_create(
    run: PlanRun,
    step: StepResult,
    *,
    kind: str,
    name: str,
    find: Callable[[], dict[str, Any] | None],
    create: Callable[[], dict[str, Any]],
    mark: dict[str, Any],
) -> tuple[str, bool]:
    """The id of the identical existing resource (recorded as reused, step ``reused``) or of
    the one created (recorded before the call with ``mark``, for cleanup); and whether it was
    created."""
    existing = find()
    if existing is not None:
        run.reused(kind, name, existing["id"])
        step.status = "reused"
        return existing["id"], False
    record = run.pending(kind, name, **mark)
    created = create()
    run.settle(record, created["id"], created=True)
    return created["id"], True


def nova_flavor(run: PlanRun, step: StepResult) -> None:
    spec = run.params.xxlarge(nova_description(run.record.run_id)).nova()
    flavor_id, created = _find_reuse_or_create(
        run,
        step,
        kind="nova-flavor",
        name=spec.name,
        find=lambda: flavors.find_nova_flavor(run.conn, spec),
        create=lambda: flavors.create_nova_flavor(run.conn, spec),
        mark={"flavor_id": spec.id},
    )
    run.made.nova_flavor_id = flavor_id
    facts = f"{spec.ram} MiB, {spec.disk} GB, {spec.vcpus} vCPUs"
    step.evidence = (
        f"created {spec.name} (id {flavor_id}): {facts}"
        if created
        else f"{spec.name} (id {flavor_id}) exists identical: {facts}"
    )


def flavorprofile(run: PlanRun, step: StepResult) -> None:
    nova_id = run.made.nova_flavor_id
    spec = run.params.xxlarge().profile(nova_id)
    profile_id, created = _find_reuse_or_create(
        run,
        step,
        kind="flavorprofile",
        name=spec.name,
        find=lambda: flavors.find_flavorprofile(run.conn, spec, nova_id),
        create=lambda: flavors.create_flavorprofile(run.conn, spec, nova_id),
        mark={"compute_flavor": nova_id},
    )
    run.made.flavorprofile_id = profile_id
    data = json.dumps({"compute_flavor": nova_id})
    step.evidence = (
        f"created {spec.name} ({profile_id}), {spec.provider}, {data}"
        if created
        else f"{spec.name} ({profile_id}) exists identical: {data}"
    )


def lb_flavor(run: PlanRun, step: StepResult) -> None:
    profile_id = run.made.flavorprofile_id
    spec = run.params.xxlarge().lb_flavor(profile_id)
    flavor_id, created = _find_reuse_or_create(
        run,
        step,
        kind="lb-flavor",
        name=spec.name,
        find=lambda: flavors.find_lb_flavor(run.conn, spec, profile_id),
        create=lambda: flavors.create_lb_flavor(run.conn, spec, profile_id),
        mark={"flavorprofile_id": profile_id},
    )
    run.made.lb_flavor_id = flavor_id
    step.evidence = (
        f"created {spec.name} ({flavor_id}) on flavorprofile {spec.flavorprofile}"
        if created
        else f"{spec.name} ({flavor_id}) exists identical"
    )


# ---- TLS bundle and load balancer ------------------------------------------------------------


def tls_bundle(run: PlanRun, step: StepResult) -> None:
    p = run.params
    bundle = tls.generate_bundle(p.common_name)
    name = secret_name(p.tls_secret_name, run.record.run_id)
    record = run.pending("secret", name)
    stored = barbican.store_bundle(run.conn, name, bundle)
    run.settle(record, stored.href, created=True)
    run.made.secret_href = stored.href
    step.details.update(bundle.to_dict())
    step.details["href"] = stored.href
    step.evidence = (
        f"stored {name} (opaque, base64, application/octet-stream): {stored.href}; "
        f"CN={p.common_name}, signed by a generated CA"
    )


def loadbalancer(run: PlanRun, step: StepResult) -> None:
    p = run.params
    record = run.pending("loadbalancer", p.lb_name, tag=run.tags[0])
    lb = loadbalancers.create_load_balancer(
        run.conn,
        name=p.lb_name,
        vip_subnet_id=run.made.vip_subnet_id,
        flavor_id=run.made.lb_flavor_id,
        tags=run.tags,
    )
    run.settle(record, lb.id, created=True)
    run.made.lb_id = lb.id
    lb = loadbalancers.wait_lb_active(run.conn, lb.id, timeout=p.lb_timeout, clock=run.ctx.clock)
    step.details.update({"id": lb.id, "vip_address": lb.vip_address})
    step.evidence = (
        f"{p.lb_name} ({lb.id}) ACTIVE, VIP {lb.vip_address}, flavor {p.lb_flavor_name}"
    )


# ---- the amphora and what changes it ---------------------------------------------------------


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


# ---- the OOM check, the verdict and the cleanup ----------------------------------------------


def _since(epoch: float) -> str:
    # journalctl's and dmesg's --since take local time, to the second.
    return datetime.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


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
    step.details.update(summary=summary, since=since, haproxy_dir=run.ctx.amphora_haproxy_dir)
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
    step.evidence = f"{counts}; kernel log since {since}"
    if kills:
        step.evidence += "; OOM-killed: " + "; ".join(kills)


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
    Step("preflight", "Preflight", preflight),
    Step("keypair", "Amphora SSH keypair", keypair),
    Step("nova-flavor", "Nova flavor", nova_flavor),
    Step("flavorprofile", "Octavia flavorprofile", flavorprofile),
    Step("lb-flavor", "Octavia flavor", lb_flavor),
    Step("tls-bundle", "TLS bundle in Barbican", tls_bundle),
    Step("loadbalancer", "Load balancer (ACTIVE)", loadbalancer),
    Step("prepare-amphora", "Amphora preparation (systemd timeouts)", prepare_amphora),
    Step("listener", "TERMINATED_HTTPS listener", listener),
    Step("pool", "Pool", pool),
    Step("reloads", "Extra haproxy reloads", reloads),
    Step(
        "oom-check",
        "Amphora OOM check",
        oom_check,
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
