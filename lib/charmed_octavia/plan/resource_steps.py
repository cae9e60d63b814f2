"""The plan's steps up to the load balancer: preflight (every conflict found before anything
exists), the amphora SSH keypair, the three flavors, the TLS bundle in Barbican and the load
balancer. Each records what it creates before creating it and reuses what exists identically.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from charmed_octavia.cloud import barbican, flavors, keypairs, loadbalancers, tls
from charmed_octavia.cloud.connection import service_types
from charmed_octavia.cloud.outcomes import ConflictError, shown
from charmed_octavia.plan.records import nova_description, secret_name
from charmed_octavia.plan.results import StepFailed, StepResult
from charmed_octavia.plan.state import PlanRun

REQUIRED_SERVICES = ("compute", "load-balancer", "key-manager")


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
            f"octavia.conf amp_ssh_key_name is {shown(configured)} but the plan uploads the "
            f"keypair {shown(wanted)}: amphorae would not accept the plan's SSH key "
            f"(set keypair-name={configured} or amp-ssh-key-name={wanted})"
        )
    if not configured:
        step.status = "warning"
        return [
            "octavia.conf has no amp_ssh_key_name: amphorae boot without an SSH key, "
            "the amphora check cannot reach them"
        ]
    return [f"amp_ssh_key_name {shown(configured)} matches keypair-name"]


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
            f"vip-subnet {shown(subnet)} is a name and the catalog has no network "
            "service to resolve it: give the subnet id"
        )
    found = run.conn.network.find_subnet(subnet, ignore_missing=True)
    if found is None:
        raise StepFailed(f"no subnet named {shown(subnet)}")
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
