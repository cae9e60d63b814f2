"""The SRU test plan of LP #2119987 as ordered, recorded, cleaned-up steps.

The plan is the seed's page of commands: keypair, Nova flavor, flavorprofile, Octavia
flavor, TLS bundle in Barbican, load balancer, amphora preparation, TERMINATED_HTTPS
listener, pool, optional extra reloads and the amphora OOM check, then a verdict and a
cleanup. It takes an openstacksdk connection and plain values; the charm's action and the
README's main job call it the same way.

Resource ownership (what cleanup deletes):
- Octavia load balancers, listeners, pools and members carry the tag
  ``charmed-octavia-run:<run-id>``; cleanup finds them by tag even without a record.
- The Nova flavor a run creates has the description ``charmed-octavia test plan run <id>``;
  the Barbican secret is named ``<tls-secret-name>-<run-id>`` (a new one every run).
- Flavorprofiles, Octavia flavors and keypairs cannot carry a mark: the run record (state
  directory, root-only) says which ones the run created.
- A resource that already existed identically (the seed's fixed names m1.xxlarge, id 10,
  o1.xxlarge, the amphora keypair) is reused, recorded as reused and never deleted; one that
  exists and differs stops the plan at preflight, before anything is created.

Verdicts (``VERDICTS``):
- ``reproduced``: the kernel OOM-killer killed haproxy in an amphora of the plan's load
  balancer; also when a step after the load balancer (amphora preparation, listener, pool,
  reloads) failed: Octavia refuses a configuration the amphora cannot load, so that
  failure is the bug once the OOM check finds the kill (the report names the step).
- ``fixed``: every amphora was checked, no OOM, and its tune.ssl.cachesize was rendered by
  the fixed formula (2/5, x4).
- ``not-reproduced``: every amphora was checked and no OOM was seen, but nothing shows the
  fixed formula (e.g. a small amphora, or the connection-limit workaround).
- ``at-risk``: no OOM seen, but the memory model predicts a reload peak above the memory.
- ``inconclusive``: the plan ran but the amphora check did not run or could not reach an
  amphora; the bug can be neither confirmed nor ruled out.
- ``failed``: a step failed and no OOM kill of haproxy explains it; the report says which
  step and why.

OOM evidence is attributed to this run: the kernel log is read from the plan's start (minus
``PlanContext.oom_since_margin`` for clocks that differ).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from charmed_octavia import barbican, flavors, keypairs, loadbalancers, tls
from charmed_octavia.cloud import service_types
from charmed_octavia.resources import ConflictError, InvalidParameter, check_name
from charmed_octavia.runstate import (
    TAG_PREFIX,
    ResourceRecord,
    RunBusy,
    RunRecord,
    RunStore,
    new_run_id,
    run_tag,
    utcnow,
    validate_run_id,
)
from charmed_octavia.waiting import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from openstack.connection import Connection

VERDICTS = ("reproduced", "fixed", "not-reproduced", "at-risk", "inconclusive", "failed")
REQUIRED_SERVICES = ("compute", "load-balancer", "key-manager")
# Not a valid run id, so it cannot collide with a run's lock.
PLAN_LOCK = "_plan"
# The steps after the load balancer whose failure can be the bug itself: the amphora refuses
# (or dies applying) a configuration it has no memory for. The OOM check still runs after them.
AMPHORA_CHANGE_STEPS = ("prepare-amphora", "listener", "pool", "reloads")
# Where a real amphora keeps its haproxy.cfg files (charmed_octavia.amphora.OCTAVIA_DIR).
AMPHORA_HAPROXY_DIR = "/var/lib/octavia"
# A documentation address (RFC 5737 TEST-NET-3): the member of an extra reload is never
# meant to answer, it only makes Octavia rewrite and reload haproxy.
RELOAD_MEMBER_ADDRESS = "203.0.113.{}"

STEPS: tuple[tuple[str, str], ...] = (
    ("preflight", "Preflight"),
    ("keypair", "Amphora SSH keypair"),
    ("nova-flavor", "Nova flavor"),
    ("flavorprofile", "Octavia flavorprofile"),
    ("lb-flavor", "Octavia flavor"),
    ("tls-bundle", "TLS bundle in Barbican"),
    ("loadbalancer", "Load balancer (ACTIVE)"),
    ("prepare-amphora", "Amphora preparation (systemd timeouts)"),
    ("listener", "TERMINATED_HTTPS listener"),
    ("pool", "Pool"),
    ("reloads", "Extra haproxy reloads"),
    ("oom-check", "Amphora OOM check"),
    ("verdict", "Verdict"),
    ("cleanup", "Cleanup"),
)

Progress = Callable[[str], None]


def _no_progress(message: str) -> None:
    del message


@dataclasses.dataclass(frozen=True)
class PlanParams:
    """Every value the seed hard-codes, with the seed's value as default (the flavors' are
    ``flavors.XxlargeSpec``'s). Validated when made (``InvalidParameter``)."""

    run_id: str = ""
    keypair_name: str = "amphora-backdoor"
    nova_flavor_name: str = flavors.XxlargeSpec.nova_flavor_name
    ram: int = flavors.XxlargeSpec.ram
    disk: int = flavors.XxlargeSpec.disk
    vcpus: int = flavors.XxlargeSpec.vcpus
    nova_flavor_id: str = flavors.XxlargeSpec.nova_flavor_id
    flavorprofile_name: str = flavors.XxlargeSpec.flavorprofile_name
    provider: str = flavors.XxlargeSpec.provider
    lb_flavor_name: str = flavors.XxlargeSpec.lb_flavor_name
    lb_flavor_description: str = flavors.XxlargeSpec.description
    tls_secret_name: str = "xxlarge.devstack.p12"  # noqa: S105 - a secret's name
    common_name: str = "xxlarge.devstack"
    lb_name: str = "lb1-xxlarge"
    vip_subnet: str = "ext_net_subnet"
    listener_name: str = "thttps"
    listener_port: int = 443
    connection_limit: int = -1
    pool_name: str = "xxlarge_p1"
    lb_algorithm: str = "ROUND_ROBIN"
    pool_protocol: str = "HTTP"
    reload_count: int = 0
    prepare_amphora: bool = True
    check_amphorae: bool = True
    lb_timeout: float = 1800
    step_timeout: float = 600
    keep_resources: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.run_id:
            validate_run_id(self.run_id)
        for label, name in (
            ("keypair-name", self.keypair_name),
            ("lb-name", self.lb_name),
            ("listener-name", self.listener_name),
            ("pool-name", self.pool_name),
            ("tls-secret-name", self.tls_secret_name),
            ("vip-subnet", self.vip_subnet),
        ):
            check_name(label, name)
        self.xxlarge().validate()
        tls.validate_common_name(self.common_name)
        _int_range("listener-port", self.listener_port, 1, 65535)
        _int_range("connection-limit", self.connection_limit, -1, None)
        _int_range("reload-count", self.reload_count, 0, 50)
        if self.lb_algorithm not in ("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP"):
            raise InvalidParameter(f"lb-algorithm {self.lb_algorithm!r} is not supported")
        if self.pool_protocol not in ("HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP"):
            raise InvalidParameter(f"pool-protocol {self.pool_protocol!r} is not supported")
        for label, value in (("lb-timeout", self.lb_timeout), ("step-timeout", self.step_timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise InvalidParameter(f"{label} must be a positive number of seconds")

    def xxlarge(self, nova_description: str | None = None) -> flavors.XxlargeSpec:
        return flavors.XxlargeSpec(
            nova_flavor_name=self.nova_flavor_name,
            ram=self.ram,
            disk=self.disk,
            vcpus=self.vcpus,
            nova_flavor_id=self.nova_flavor_id,
            flavorprofile_name=self.flavorprofile_name,
            provider=self.provider,
            lb_flavor_name=self.lb_flavor_name,
            description=self.lb_flavor_description,
            nova_description=nova_description,
        )

    def to_dict(self) -> dict[str, Any]:
        return {f.name.replace("_", "-"): getattr(self, f.name) for f in dataclasses.fields(self)}


def _int_range(label: str, value: Any, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter(f"{label} must be an integer, not {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f">= {low}"
        raise InvalidParameter(f"{label} must be {bound}, not {value}")


@dataclasses.dataclass
class PlanContext:
    """What the plan needs besides the connection: plain values from the unit or the lab."""

    state_dir: Path
    series: str = ""
    origin: str = ""
    package_versions: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # [controller_worker] amp_ssh_key_name of the octavia.conf in use.
    amp_ssh_key_name: str = ""
    # OpenSSH public-key line uploaded as the keypair; None skips the keypair step.
    public_key: str | None = None
    # charmed_octavia.amphora.SSHSettings; None: the amphora steps report they did not run.
    amphora_ssh: Any = None
    # Where the amphorae keep <lb id>/haproxy.cfg.
    amphora_haproxy_dir: str = AMPHORA_HAPROXY_DIR
    # The kernel log is read from the plan's start minus this margin (the amphora's clock may
    # differ from this machine's).
    oom_since_margin: float = 60.0
    progress: Progress = _no_progress
    clock: Clock = SYSTEM_CLOCK
    # Where the cloud is, for the report (no credentials).
    cloud_label: str = ""


@dataclasses.dataclass
class StepResult:
    name: str
    title: str
    status: str = "not-run"  # ok, reused, skipped, warning, failed, not-run
    seconds: float = 0.0
    evidence: str = ""
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "evidence": self.evidence,
            "details": self.details,
        }


@dataclasses.dataclass
class PlanResult:
    run_id: str
    verdict: str
    verdict_reason: str
    steps: list[StepResult]
    started: str
    finished: str
    seconds: float
    environment: dict[str, Any]
    parameters: dict[str, Any]
    failed_step: str | None = None
    failure: str | None = None
    amphorae: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    cleanup: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bug": "LP #2119987",
            "run_id": self.run_id,
            "verdict": self.verdict,
            "verdict_reason": self.verdict_reason,
            "failed_step": self.failed_step,
            "failure": self.failure,
            "started": self.started,
            "finished": self.finished,
            "seconds": round(self.seconds, 2),
            "environment": self.environment,
            "parameters": self.parameters,
            "steps": [s.to_dict() for s in self.steps],
            "amphorae": self.amphorae,
            "cleanup": self.cleanup,
        }


class StepFailed(Exception):
    """Raised inside a step: the plan stops, cleans up and reports this message."""


def _describe_error(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    details = getattr(error, "details", None)
    if details and str(details) not in text:
        text = f"{text}: {details}"
    return " ".join(text.split())


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def nova_description(run_id: str) -> str:
    return f"charmed-octavia test plan run {run_id}"


def secret_name(base: str, run_id: str) -> str:
    return f"{base}-{run_id}"


# ---- the run -----------------------------------------------------------------------------


class _Run:
    def __init__(
        self, conn: Connection, params: PlanParams, ctx: PlanContext, record: RunRecord
    ) -> None:
        self.conn = conn
        self.params = params
        self.ctx = ctx
        self.record = record
        self.store = RunStore(ctx.state_dir)
        self.tags = [run_tag(record.run_id)]
        self.steps = [StepResult(name, title) for name, title in STEPS]
        self.vip_subnet_id = ""
        self.nova_flavor_id = ""
        self.flavorprofile_id = ""
        self.lb_flavor_id = ""
        self.secret_href = ""
        self.lb_id = ""
        self.listener_id = ""
        self.pool_id = ""
        self.amphorae: list[Any] = []
        self.amphora_results: list[dict[str, Any]] = []
        self.check_ran = False
        self.started_epoch = time.time()

    # -- bookkeeping

    def save(self) -> None:
        self.store.save(self.record)

    def pending(self, kind: str, name: str, **extra: Any) -> ResourceRecord:
        """Record, before the create call, that this run may be about to create a resource."""
        resource = self.record.add(ResourceRecord(kind=kind, name=name, created=True, extra=extra))
        self.save()
        return resource

    def settle(self, resource: ResourceRecord, resource_id: str, *, created: bool) -> None:
        resource.id = resource_id
        resource.created = created
        resource.state = "present"
        self.save()

    def reused(self, kind: str, name: str, resource_id: str) -> None:
        self.record.add(
            ResourceRecord(kind=kind, name=name, id=resource_id, created=False, state="present")
        )
        self.save()

    def log(self, message: str) -> None:
        self.ctx.progress(message)

    def _forget_unsent(self, error: BaseException) -> None:
        """A create call that could not even connect created nothing: drop its pending
        record, so cleanup does not have to reach a service that is down to prove it."""
        from keystoneauth1 import exceptions as ksa

        if not isinstance(error, (ksa.ConnectFailure, ksa.ConnectTimeout)):
            return
        for resource in self.record.resources:
            if resource.state == "pending":
                resource.state = "deleted"
                resource.note = "the create request never reached the service"
        self.save()

    # -- running steps

    def run_step(self, index: int, fn: Callable[[StepResult], None]) -> None:
        step = self.steps[index]
        label = f"[{index + 1}/{len(self.steps)}] {step.title}"
        self.log(f"{label}: started")
        start = time.monotonic()
        step.status = "ok"
        try:
            fn(step)
        except Exception as e:
            step.status = "failed"
            step.evidence = _describe_error(e)
            self._forget_unsent(e)
            raise StepFailed(f"step {step.name} failed: {step.evidence}") from e
        finally:
            step.seconds = time.monotonic() - start
            self.log(f"{label}: {step.status} in {step.seconds:.1f} s. {step.evidence}".strip())

    # -- the steps

    def preflight(self, step: StepResult) -> None:
        p = self.params
        notes: list[str] = []
        present = service_types(self.conn)
        missing = [s for s in REQUIRED_SERVICES if s not in present]
        if missing:
            raise StepFailed(f"the catalog has no {', '.join(missing)} service")
        notes.append(f"catalog has {', '.join(REQUIRED_SERVICES)}")
        octavia = {k: v for k, v in self.ctx.package_versions.items() if "octavia" in k}
        step.details["package_versions"] = dict(self.ctx.package_versions)
        step.details["series"] = self.ctx.series
        step.details["origin"] = self.ctx.origin
        if octavia:
            notes.append(", ".join(f"{k} {v}" for k, v in sorted(octavia.items())))
        else:
            notes.append("octavia package version unknown")
        notes.append(f"series {self.ctx.series or 'unknown'}, origin {self.ctx.origin or '?'}")

        configured = self.ctx.amp_ssh_key_name
        step.details["amp_ssh_key_name"] = configured
        if configured and configured != p.keypair_name:
            raise StepFailed(
                f"octavia.conf amp_ssh_key_name is {configured!r} but the plan uploads the "
                f"keypair {p.keypair_name!r}: amphorae would not accept the plan's SSH key "
                f"(set keypair-name={configured} or amp-ssh-key-name={p.keypair_name})"
            )
        if not configured:
            step.status = "warning"
            notes.append(
                "octavia.conf has no amp_ssh_key_name: amphorae boot without an SSH key, "
                "the amphora check cannot reach them"
            )
        else:
            notes.append(f"amp_ssh_key_name {configured!r} matches keypair-name")

        if _is_uuid(p.vip_subnet):
            self.vip_subnet_id = p.vip_subnet
        elif "network" in present:
            subnet = self.conn.network.find_subnet(p.vip_subnet, ignore_missing=True)
            if subnet is None:
                raise StepFailed(f"no subnet named {p.vip_subnet!r}")
            self.vip_subnet_id = subnet.id
        else:
            raise StepFailed(
                f"vip-subnet {p.vip_subnet!r} is a name and the catalog has no network "
                "service to resolve it: give the subnet id"
            )
        step.details["vip_subnet_id"] = self.vip_subnet_id

        # Every conflict is found here, before anything exists: a conflict changes nothing.
        flavors.check_xxlarge(self.conn, p.xxlarge())
        if self.ctx.public_key:
            existing = self.conn.compute.find_keypair(p.keypair_name, ignore_missing=True)
            if existing is not None and keypairs.key_material(
                existing.public_key or ""
            ) != keypairs.key_material(self.ctx.public_key):
                raise ConflictError(
                    "keypair",
                    p.keypair_name,
                    [f"public key: existing {existing.fingerprint}, the unit has another key"],
                )
        notes.append("no conflicting flavor, flavorprofile or keypair")
        step.evidence = "; ".join(notes)

    def keypair(self, step: StepResult) -> None:
        p = self.params
        if not self.ctx.public_key:
            step.status = "skipped"
            step.evidence = "no amphora SSH key available on this machine"
            return
        existing = self.conn.compute.find_keypair(p.keypair_name, ignore_missing=True)
        if existing is not None:
            keypairs.ensure_keypair(self.conn, p.keypair_name, self.ctx.public_key)
            self.reused("keypair", p.keypair_name, p.keypair_name)
            step.status = "reused"
            step.evidence = f"{p.keypair_name} exists with this key ({existing.fingerprint})"
            return
        record = self.pending(
            "keypair", p.keypair_name, key=keypairs.key_material(self.ctx.public_key)
        )
        ensured = keypairs.ensure_keypair(self.conn, p.keypair_name, self.ctx.public_key)
        self.settle(record, p.keypair_name, created=ensured.created)
        step.status = "ok" if ensured.created else "reused"
        step.evidence = f"{p.keypair_name} uploaded ({ensured.attributes.get('fingerprint')})"

    def nova_flavor(self, step: StepResult) -> None:
        spec = self.params.xxlarge(nova_description(self.record.run_id)).nova()
        existing = flavors.find_nova_flavor(self.conn, spec)
        facts = f"{spec.ram} MiB, {spec.disk} GB, {spec.vcpus} vCPUs"
        if existing is not None:
            self.nova_flavor_id = existing["id"]
            self.reused("nova-flavor", spec.name, existing["id"])
            step.status = "reused"
            step.evidence = f"{spec.name} (id {existing['id']}) exists identical: {facts}"
            return
        record = self.pending("nova-flavor", spec.name, flavor_id=spec.id)
        created = flavors.create_nova_flavor(self.conn, spec)
        self.settle(record, created["id"], created=True)
        self.nova_flavor_id = created["id"]
        step.evidence = f"created {spec.name} (id {created['id']}): {facts}"

    def flavorprofile(self, step: StepResult) -> None:
        spec = self.params.xxlarge().profile(self.nova_flavor_id)
        existing = flavors.find_flavorprofile(self.conn, spec, self.nova_flavor_id)
        data = json.dumps({"compute_flavor": self.nova_flavor_id})
        if existing is not None:
            self.flavorprofile_id = existing["id"]
            self.reused("flavorprofile", spec.name, existing["id"])
            step.status = "reused"
            step.evidence = f"{spec.name} ({existing['id']}) exists identical: {data}"
            return
        record = self.pending("flavorprofile", spec.name, compute_flavor=self.nova_flavor_id)
        created = flavors.create_flavorprofile(self.conn, spec, self.nova_flavor_id)
        self.settle(record, created["id"], created=True)
        self.flavorprofile_id = created["id"]
        step.evidence = f"created {spec.name} ({created['id']}), {spec.provider}, {data}"

    def lb_flavor(self, step: StepResult) -> None:
        spec = self.params.xxlarge().lb_flavor(self.flavorprofile_id)
        existing = flavors.find_lb_flavor(self.conn, spec, self.flavorprofile_id)
        if existing is not None:
            self.lb_flavor_id = existing["id"]
            self.reused("lb-flavor", spec.name, existing["id"])
            step.status = "reused"
            step.evidence = f"{spec.name} ({existing['id']}) exists identical"
            return
        record = self.pending("lb-flavor", spec.name, flavorprofile_id=self.flavorprofile_id)
        created = flavors.create_lb_flavor(self.conn, spec, self.flavorprofile_id)
        self.settle(record, created["id"], created=True)
        self.lb_flavor_id = created["id"]
        step.evidence = (
            f"created {spec.name} ({created['id']}) on flavorprofile {spec.flavorprofile}"
        )

    def tls_bundle(self, step: StepResult) -> None:
        p = self.params
        bundle = tls.generate_bundle(p.common_name)
        name = secret_name(p.tls_secret_name, self.record.run_id)
        record = self.pending("secret", name)
        stored = barbican.store_bundle(self.conn, name, bundle)
        self.settle(record, stored.href, created=True)
        self.secret_href = stored.href
        step.details.update(bundle.to_dict())
        step.details["href"] = stored.href
        step.evidence = (
            f"stored {name} (opaque, base64, application/octet-stream): {stored.href}; "
            f"CN={p.common_name}, signed by a generated CA"
        )

    def loadbalancer(self, step: StepResult) -> None:
        p = self.params
        record = self.pending("loadbalancer", p.lb_name, tag=self.tags[0])
        lb = loadbalancers.create_load_balancer(
            self.conn,
            name=p.lb_name,
            vip_subnet_id=self.vip_subnet_id,
            flavor_id=self.lb_flavor_id,
            tags=self.tags,
        )
        self.settle(record, lb.id, created=True)
        self.lb_id = lb.id
        lb = loadbalancers.wait_lb_active(
            self.conn, lb.id, timeout=p.lb_timeout, clock=self.ctx.clock
        )
        step.details.update({"id": lb.id, "vip_address": lb.vip_address})
        step.evidence = (
            f"{p.lb_name} ({lb.id}) ACTIVE, VIP {lb.vip_address}, flavor {p.lb_flavor_name}"
        )

    def _amphora_module(self) -> Any:
        # Imported late: the amphora library is optional for everything but these steps.
        from charmed_octavia import amphora

        return amphora

    def _discover(self) -> list[Any]:
        if not self.amphorae:
            self.amphorae = list(self._amphora_module().discover(self.conn, self.lb_id))
        return self.amphorae

    def _amphora_unavailable(self, enabled: bool, parameter: str) -> str | None:
        if not enabled:
            return f"disabled by {parameter}=false"
        if self.ctx.amphora_ssh is None:
            return "skipped: no amphora reachable (no SSH settings for amphorae)"
        return None

    def prepare_amphora(self, step: StepResult) -> None:
        reason = self._amphora_unavailable(self.params.prepare_amphora, "prepare-amphora")
        if reason:
            step.status = "skipped"
            step.evidence = reason
            return
        amphora = self._amphora_module()
        found = self._discover()
        if not found:
            step.status = "skipped"
            step.evidence = "skipped: no amphora reachable (Octavia lists no amphora)"
            return
        results = amphora.prepare_amphorae(
            found, ssh=self.ctx.amphora_ssh, timeout=min(self.params.step_timeout, 120)
        )
        dicts = [r.to_dict() for r in results]
        step.details["amphorae"] = dicts
        good = [d for d in dicts if d.get("verdict") == "ok"]
        if not good:
            step.status = "skipped"
            step.evidence = "skipped: no amphora reachable: " + "; ".join(
                f"{d.get('amphora_id')}: {d.get('reason')}" for d in dicts
            )
            return
        if len(good) < len(dicts):
            step.status = "warning"
        step.evidence = (
            f"DefaultTimeoutStartSec/StopSec=infinity and daemon-reload on "
            f"{len(good)}/{len(dicts)} amphorae"
        )

    def _wait_lb(self) -> None:
        loadbalancers.wait_lb_active(
            self.conn, self.lb_id, timeout=self.params.step_timeout, clock=self.ctx.clock
        )

    def _applied(
        self, kind: str, resource_id: str, get: Callable[[str], Any], context: str = ""
    ) -> Any:
        """After creating a child of the load balancer: wait for the load balancer ACTIVE and
        return the child, or raise StepFailed when the child is not ACTIVE. Octavia puts the
        load balancer back to ACTIVE also when applying the child failed; only the child says
        whether the amphora took its configuration."""
        self._wait_lb()
        got = get(resource_id)
        if got.provisioning_status != "ACTIVE":
            raise StepFailed(context + _refused(kind, resource_id, got.provisioning_status))
        return got

    def listener(self, step: StepResult) -> None:
        p = self.params
        listener = loadbalancers.create_listener(
            self.conn,
            lb_id=self.lb_id,
            name=p.listener_name,
            port=p.listener_port,
            tls_ref=self.secret_href,
            connection_limit=p.connection_limit,
            tags=self.tags,
        )
        self.listener_id = listener.id
        step.details["id"] = listener.id
        got = self._applied("listener", listener.id, self.conn.load_balancer.get_listener)
        step.evidence = (
            f"{p.listener_name} ({listener.id}) TERMINATED_HTTPS:{p.listener_port} ACTIVE, "
            f"connection_limit {got.connection_limit}"
        )

    def pool(self, step: StepResult) -> None:
        p = self.params
        pool = loadbalancers.create_pool(
            self.conn,
            listener_id=self.listener_id,
            name=p.pool_name,
            protocol=p.pool_protocol,
            lb_algorithm=p.lb_algorithm,
            tags=self.tags,
        )
        self.pool_id = pool.id
        step.details["id"] = pool.id
        self._applied("pool", pool.id, self.conn.load_balancer.get_pool)
        step.evidence = (
            f"{p.pool_name} ({pool.id}) {p.pool_protocol} {p.lb_algorithm} ACTIVE "
            "(haproxy reloaded)"
        )

    def reloads(self, step: StepResult) -> None:
        p = self.params
        if p.reload_count == 0:
            step.status = "skipped"
            step.evidence = "reload-count is 0"
            return
        for i in range(p.reload_count):
            member = loadbalancers.add_member(
                self.conn,
                self.pool_id,
                address=RELOAD_MEMBER_ADDRESS.format(10 + i % 200),
                port=80,
                tags=self.tags,
            )
            self._applied(
                "member",
                member.id,
                lambda member_id: self.conn.load_balancer.get_member(member_id, self.pool_id),
                context=f"reload {i + 1}/{p.reload_count}: ",
            )
            loadbalancers.remove_member(self.conn, self.pool_id, member.id)
            self._wait_lb()
            self.log(f"  reload {i + 1}/{p.reload_count}: member added and removed")
        step.evidence = (
            f"{2 * p.reload_count} reloads ({p.reload_count} members added and removed)"
        )

    def oom_check(self, step: StepResult) -> None:
        reason = self._amphora_unavailable(self.params.check_amphorae, "check-amphorae")
        if reason:
            step.status = "skipped"
            step.evidence = reason
            return
        amphora = self._amphora_module()
        found = self._discover()
        if not found:
            step.status = "skipped"
            step.evidence = "skipped: no amphora reachable (Octavia lists no amphora)"
            return
        since = _since(self.started_epoch - self.ctx.oom_since_margin)
        report = amphora.check_amphorae(
            found,
            ssh=self.ctx.amphora_ssh,
            since=since,
            timeout=min(self.params.step_timeout, 120),
            haproxy_dir=self.ctx.amphora_haproxy_dir,
        )
        self.amphora_results = [r.to_dict() for r in report.results]
        summary = dict.fromkeys(amphora.VERDICTS, 0)
        for r in report.results:
            summary[r.verdict] = summary.get(r.verdict, 0) + 1
        step.details.update(
            summary=summary,
            since=since,
            haproxy_dir=self.ctx.amphora_haproxy_dir,
        )
        reachable = [
            r for r in self.amphora_results if r.get("verdict") not in ("unreachable", "error")
        ]
        if not reachable:
            step.status = "skipped"
            step.evidence = "skipped: no amphora reachable: " + "; ".join(
                f"{r.get('amphora_id')}: {r.get('reason')}" for r in self.amphora_results
            )
            return
        self.check_ran = True
        if len(reachable) < len(self.amphora_results):
            step.status = "warning"
        counts = ", ".join(f"{v}: {n}" for v, n in sorted(summary.items()) if n)
        kills = [
            f"{e.get('victim_name')} pid {e.get('victim_pid')} "
            f"(total-vm {e.get('total_vm_kb')} kB, memcg {e.get('memcg')})"
            for a in self.amphora_results
            for e in haproxy_kills(a)
            if e.get("victim_pid") is not None
        ]
        step.evidence = f"{counts}; kernel log since {since}"
        if kills:
            step.evidence += "; OOM-killed: " + "; ".join(kills)


def _refused(kind: str, resource_id: str, status: str) -> str:
    return (
        f"{kind} {resource_id} is {status}: Octavia could not apply it to the amphora "
        "(the octavia-worker log has the cause)"
    )


def _since(epoch: float) -> str:
    # journalctl's and dmesg's --since take local time, to the second.
    moment = datetime.datetime.fromtimestamp(epoch)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def haproxy_kills(amphora: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The OOM events of one amphora result (a dict) that killed haproxy: the summary names
    it, or (task table alone, as quoted in a bug) haproxy is in the table."""
    found = []
    for event in amphora.get("oom_events") or []:
        if event.get("victim_pid") is not None:
            if event.get("victim_name") == "haproxy":
                found.append(event)
        elif any(t.get("name") == "haproxy" for t in event.get("tasks") or []):
            found.append(event)
    return found


def _formulas(value: Any) -> set[str]:
    """Every formula name (pre-fix, post-fix, ...) found in an amphora result."""
    found: set[str] = set()
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "formula":
                if isinstance(item, str):
                    found.add(item)
                elif isinstance(item, Mapping):
                    name = item.get("formula") or item.get("name")
                    if isinstance(name, str):
                        found.add(name)
            found |= _formulas(item)
    elif isinstance(value, list):
        for item in value:
            found |= _formulas(item)
    return found


def decide_verdict(
    *, failed_step: str | None, failure: str | None, check_ran: bool, amphorae: list[dict]
) -> tuple[str, str]:
    """The verdict and a sentence that justifies it (see the module docstring)."""
    killed = [a for a in amphorae if a.get("verdict") == "oom-seen" and haproxy_kills(a)]
    kills = sum(len(haproxy_kills(a)) for a in killed)
    oom = (
        f"the kernel OOM-killer killed haproxy ({kills} kill(s)) in {len(killed)} of "
        f"{len(amphorae)} amphorae"
    )
    if failed_step:
        if check_ran and killed and failed_step in AMPHORA_CHANGE_STEPS:
            return "reproduced", f"step {failed_step} failed ({failure}) and {oom}"
        return "failed", f"step {failed_step} failed: {failure}"
    if not check_ran:
        return (
            "inconclusive",
            "the plan's API steps passed but the amphora OOM check did not run, so the bug "
            "is neither confirmed nor ruled out",
        )
    verdicts = [a.get("verdict") for a in amphorae]
    if killed:
        return "reproduced", oom
    others = [a for a in amphorae if a.get("verdict") == "oom-seen"]
    if others:
        victims = sorted(
            {str(e.get("victim_name")) for a in others for e in a.get("oom_events") or []}
        )
        return (
            "inconclusive",
            f"the kernel OOM-killer struck in {len(others)} amphorae but killed "
            f"{', '.join(victims) or 'an unnamed process'}, not haproxy",
        )
    if any(v in ("unreachable", "error") for v in verdicts):
        return "inconclusive", "no OOM in the amphorae checked, but not every amphora was checked"
    if any(v == "at-risk" for v in verdicts):
        return (
            "at-risk",
            "no OOM seen, but the configured tune.ssl.cachesize predicts a reload peak above "
            "the amphora's memory",
        )
    formulas = set().union(*(_formulas(a) for a in amphorae)) if amphorae else set()
    if formulas == {"post-fix"}:
        return (
            "fixed",
            "no OOM in any amphora and tune.ssl.cachesize was rendered by the fixed formula "
            "(2/5, x4)",
        )
    shown = ", ".join(sorted(formulas)) or "not identified"
    return "not-reproduced", f"no OOM in any amphora (cache-size formula: {shown})"


def run_plan(conn: Connection, params: PlanParams, ctx: PlanContext) -> PlanResult:
    """Run the whole plan; never raises for a failed step (the result says), only for bad
    parameters (``InvalidParameter``, before anything is created) and for a plan already
    running (``RunBusy``)."""
    params.validate()
    run_id = params.run_id or new_run_id()
    store = RunStore(ctx.state_dir)
    if store.exists(run_id):
        raise InvalidParameter(
            f"run-id {run_id!r} was already used; pick another or leave it empty"
        )
    with store.lock(PLAN_LOCK), store.lock(run_id):
        record = RunRecord(run_id=run_id, started=utcnow())
        store.save(record)
        run = _Run(conn, params, ctx, record)
        return _execute(run)


def _execute(run: _Run) -> PlanResult:
    p = run.params
    start = time.monotonic()
    sequence: list[Callable[[StepResult], None]] = [
        run.preflight,
        run.keypair,
        run.nova_flavor,
        run.flavorprofile,
        run.lb_flavor,
        run.tls_bundle,
        run.loadbalancer,
        run.prepare_amphora,
        run.listener,
        run.pool,
        run.reloads,
        run.oom_check,
    ]
    failed_step: str | None = None
    failure: str | None = None
    for index, fn in enumerate(sequence):
        try:
            run.run_step(index, fn)
        except StepFailed:
            failed_step = run.steps[index].name
            failure = run.steps[index].evidence
            break
    check_index = len(sequence) - 1
    if failed_step in AMPHORA_CHANGE_STEPS and run.lb_id and p.check_amphorae:
        # The amphora refusing or dying on a change is how the bug shows: look for the OOM
        # kill before cleanup deletes the load balancer, so the verdict can say.
        run.log(f"step {failed_step} failed; checking the amphorae for OOM kills before cleanup")
        with contextlib.suppress(StepFailed):
            run.run_step(check_index, sequence[check_index])

    verdict, reason = decide_verdict(
        failed_step=failed_step,
        failure=failure,
        check_ran=run.check_ran,
        amphorae=run.amphora_results,
    )

    def verdict_step(step: StepResult) -> None:
        step.status = "failed" if verdict == "failed" else "ok"
        step.evidence = f"{verdict}: {reason}"
        if failed_step:
            step.details["failed_step"] = failed_step

    verdict_index = len(sequence)
    run.steps[verdict_index].status = "ok"
    verdict_step(run.steps[verdict_index])
    run.log(f"[{verdict_index + 1}/{len(run.steps)}] Verdict: {verdict}: {reason}")

    cleanup_rows: list[dict[str, Any]] = []
    cleanup = run.steps[-1]
    if p.keep_resources:
        cleanup.status = "skipped"
        cleanup.evidence = (
            f"kept by keep-resources: run cleanup-test-plan run-id={run.record.run_id}"
        )
        run.log(f"[{len(run.steps)}/{len(run.steps)}] Cleanup: {cleanup.evidence}")
    else:

        def do_cleanup(step: StepResult) -> None:
            outcome = _cleanup_record(
                run.conn,
                run.store,
                run.record,
                timeout=p.step_timeout,
                clock=run.ctx.clock,
                progress=run.log,
            )
            cleanup_rows.extend(outcome)
            kept = [r for r in outcome if r["outcome"] == "kept"]
            deleted = [r for r in outcome if r["outcome"] == "deleted"]
            if kept:
                step.status = "warning"
            step.evidence = f"deleted {len(deleted)} resources created by this run" + (
                "; kept " + "; ".join(f"{r['kind']} {r['name']}: {r['reason']}" for r in kept)
                if kept
                else "; nothing left behind"
            )

        # A failed cleanup is already recorded in its step; the verdict stands.
        with contextlib.suppress(StepFailed):
            run.run_step(len(run.steps) - 1, do_cleanup)

    record = run.record
    record.status = "failed" if failed_step else "finished"
    record.finished = utcnow()
    record.verdict = verdict
    if not record.live():
        record.status += ",cleaned"
    result = PlanResult(
        run_id=record.run_id,
        verdict=verdict,
        verdict_reason=reason,
        steps=run.steps,
        started=record.started,
        finished=record.finished,
        seconds=time.monotonic() - start,
        environment={
            "series": run.ctx.series,
            "origin": run.ctx.origin,
            "package_versions": dict(run.ctx.package_versions),
            "amp_ssh_key_name": run.ctx.amp_ssh_key_name,
            "cloud": run.ctx.cloud_label,
        },
        parameters=p.to_dict() | {"run-id": record.run_id},
        failed_step=failed_step,
        failure=failure,
        amphorae=run.amphora_results,
        cleanup=cleanup_rows,
    )
    record.report = result.to_dict()
    run.save()
    return result


# ---- cleanup -----------------------------------------------------------------------------

_CLEANUP_ORDER = ("loadbalancer", "secret", "lb-flavor", "flavorprofile", "nova-flavor", "keypair")


def _row(resource: ResourceRecord, outcome: str, reason: str = "") -> dict[str, Any]:
    return {
        "kind": resource.kind,
        "name": resource.name,
        "id": resource.id,
        "outcome": outcome,
        "reason": reason,
    }


def _resolve_pending(conn: Connection, record: RunRecord, resource: ResourceRecord) -> None:
    """A create call may have succeeded without its id being recorded: find it by its mark."""
    kind = resource.kind
    found: str | None = None
    if kind == "loadbalancer":
        tagged = loadbalancers.tagged_load_balancers(conn, run_tag(record.run_id))
        found = tagged[0].id if tagged else None
    elif kind == "secret":
        named = barbican.secrets_named(conn, resource.name)
        found = named[0].href if named else None
    elif kind == "nova-flavor":
        candidates = flavors.nova_flavors_named(conn, resource.name)
        mine = [f for f in candidates if f["description"] == nova_description(record.run_id)]
        found = mine[0]["id"] if mine else None
    elif kind == "flavorprofile":
        compute = resource.extra.get("compute_flavor")
        mine = [
            f
            for f in flavors.flavorprofiles_named(conn, resource.name)
            if isinstance(f["flavor_data"], dict)
            and f["flavor_data"].get("compute_flavor") == compute
        ]
        found = mine[0]["id"] if mine else None
    elif kind == "lb-flavor":
        profile = resource.extra.get("flavorprofile_id")
        mine = [
            f
            for f in flavors.lb_flavors_named(conn, resource.name)
            if f["flavorprofile_id"] == profile
        ]
        found = mine[0]["id"] if mine else None
    elif kind == "keypair":
        existing = conn.compute.find_keypair(resource.name, ignore_missing=True)
        if existing is not None and keypairs.key_material(
            existing.public_key or ""
        ) == resource.extra.get("key"):
            found = resource.name
    if found is None:
        resource.state = "deleted"
        resource.note = "create call had not completed; nothing found"
    else:
        resource.id = found
        resource.state = "present"


def _delete_one(
    conn: Connection,
    record: RunRecord,
    resource: ResourceRecord,
    *,
    timeout: float,
    clock: Clock,
) -> tuple[str, str]:
    """Delete one resource this run created: (outcome, reason)."""
    from openstack import exceptions

    assert resource.id is not None
    kind = resource.kind
    try:
        if kind == "loadbalancer":
            gone = loadbalancers.delete_load_balancer(
                conn, resource.id, timeout=timeout, clock=clock
            )
            return ("deleted", "cascade") if gone else ("already-gone", "")
        if kind == "secret":
            return (
                ("deleted", "")
                if barbican.delete_secret(conn, resource.id)
                else (
                    "already-gone",
                    "",
                )
            )
        if kind == "nova-flavor":
            users = [
                p["name"]
                for p in flavors.all_flavorprofiles(conn)
                if isinstance(p["flavor_data"], dict)
                and str(p["flavor_data"].get("compute_flavor")) == resource.id
            ]
            if users:
                return "kept", f"in use by flavorprofile {', '.join(users)}"
            gone = flavors.delete_created(conn, kind, resource.id)
            return ("deleted", "") if gone else ("already-gone", "")
        if kind in ("flavorprofile", "lb-flavor"):
            gone = flavors.delete_created(conn, kind, resource.id)
            return ("deleted", "") if gone else ("already-gone", "")
        if kind == "keypair":
            gone = keypairs.delete_keypair(conn, resource.id)
            return ("deleted", "") if gone else ("already-gone", "")
    except exceptions.ConflictException as e:
        return "kept", f"in use: {_describe_error(e)}"
    except Exception as e:
        return "kept", _describe_error(e)
    return "kept", f"unknown kind {kind}"


def _cleanup_record(
    conn: Connection,
    store: RunStore,
    record: RunRecord,
    *,
    timeout: float,
    clock: Clock,
    progress: Progress,
) -> list[dict[str, Any]]:
    """Delete what ``record`` says its run created (the caller holds the run's lock)."""
    rows: list[dict[str, Any]] = []
    tag = run_tag(record.run_id)
    # Tagged load balancers the record does not know (killed between create and record).
    known = {r.id for r in record.resources if r.kind == "loadbalancer"}
    try:
        tagged = loadbalancers.tagged_load_balancers(conn, tag)
    except Exception as e:
        progress(f"  could not list load balancers tagged {tag}: {_describe_error(e)}")
        tagged = []
    for lb in tagged:
        if lb.id not in known:
            record.add(
                ResourceRecord(
                    kind="loadbalancer", name=lb.name, id=lb.id, created=True, state="present"
                )
            )
    for kind in _CLEANUP_ORDER:
        for resource in [r for r in record.live() if r.kind == kind]:
            if resource.state == "pending" or resource.id is None:
                try:
                    _resolve_pending(conn, record, resource)
                except Exception as e:
                    # Unknown whether it exists: keep the record for the next cleanup.
                    reason = f"could not check whether it was created: {_describe_error(e)}"
                    rows.append(_row(resource, "kept", reason))
                    progress(f"  kept: {kind} {resource.name}: {reason}")
                    continue
                if resource.state == "deleted":
                    rows.append(_row(resource, "already-gone", resource.note))
                    store.save(record)
                    continue
            outcome, reason = _delete_one(conn, record, resource, timeout=timeout, clock=clock)
            resource.state = "kept" if outcome == "kept" else "deleted"
            resource.note = reason
            store.save(record)
            rows.append(_row(resource, outcome, reason))
            progress(
                f"  {outcome}: {kind} {resource.name} ({resource.id})"
                + (f": {reason}" if reason and outcome == "kept" else "")
            )
    return rows


@dataclasses.dataclass
class CleanupResult:
    runs: dict[str, str]  # run id -> cleaned | busy | kept-some | no-record
    rows: list[dict[str, Any]]

    @property
    def deleted(self) -> int:
        return sum(1 for r in self.rows if r["outcome"] == "deleted")

    @property
    def kept(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["outcome"] == "kept"]

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "resources": self.rows, "deleted": self.deleted}


def cleanup(
    conn: Connection,
    state_dir: Path,
    run_id: str = "",
    *,
    timeout: float = 600,
    clock: Clock = SYSTEM_CLOCK,
    progress: Progress = _no_progress,
) -> CleanupResult:
    """Delete everything one run (or every run) created. Idempotent and safe at any time: a
    run still in progress (its lock held) is left alone and reported as busy."""
    if run_id:
        validate_run_id(run_id)
    store = RunStore(state_dir)
    run_ids = [run_id] if run_id else store.run_ids()
    if not run_id:
        # Load balancers tagged by runs whose record is gone (state directory lost).
        for lb in loadbalancers.tagged_with_prefix(conn, TAG_PREFIX):
            for t in lb.tags or []:
                if str(t).startswith(TAG_PREFIX) and t[len(TAG_PREFIX) :] not in run_ids:
                    run_ids.append(t[len(TAG_PREFIX) :])
    result = CleanupResult(runs={}, rows=[])
    for rid in run_ids:
        try:
            with store.lock(rid):
                if store.exists(rid):
                    record = store.load(rid)
                else:
                    # No record: only what carries the run's tag can be found and deleted.
                    record = RunRecord(run_id=rid, started=utcnow(), status="no-record")
                progress(f"cleanup of run {rid}")
                rows = _cleanup_record(
                    conn, store, record, timeout=timeout, clock=clock, progress=progress
                )
                result.rows.extend(dict(r, run_id=rid) for r in rows)
                if record.status != "no-record" or rows:
                    if not record.live() and "cleaned" not in record.status:
                        record.status += ",cleaned"
                    store.save(record)
                result.runs[rid] = "kept-some" if record.live() else "cleaned"
        except RunBusy:
            progress(f"run {rid} is in progress; left alone")
            result.runs[rid] = "busy"
    return result
