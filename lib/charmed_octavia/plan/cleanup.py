"""Deleting what test-plan runs created: one registry entry per resource kind, each with how
to find a resource whose create call may have happened (by its ownership mark) and how to
delete it. Idempotent and safe at any time: a run still in progress (its lock held) is left
alone; what is in use is kept with the reason, for the next cleanup.

Only runs recorded in this state directory are cleaned. Any tenant can write the plan's tag on
a load balancer, so a tag is read as data (a run id, or nothing) and a load balancer whose
tagged run is not recorded here is reported, never deleted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from charmed_octavia.cloud import barbican, catalog, flavors, keypairs, loadbalancers
from charmed_octavia.cloud.connection import requests_within
from charmed_octavia.cloud.outcomes import describe_error
from charmed_octavia.cloud.waiting import SYSTEM_CLOCK, Clock
from charmed_octavia.plan.params import Progress, no_progress
from charmed_octavia.plan.records import (
    RUN_ID,
    TAG_PREFIX,
    ResourceRecord,
    RunBusy,
    RunRecord,
    RunStore,
    nova_description,
    run_tag,
    validate_run_id,
)

if TYPE_CHECKING:
    from openstack.connection import Connection


@dataclasses.dataclass(frozen=True)
class Deletion:
    """How long a deletion may wait (a load balancer's cascade), on which clock."""

    timeout: float
    clock: Clock


@dataclasses.dataclass(frozen=True)
class Kind:
    """A resource kind a run creates. ``find`` returns the id of the resource the run's create
    call made, by its mark, or None; ``delete`` returns (outcome, reason), the outcome being
    deleted, already-gone or kept."""

    name: str
    find: Callable[[Connection, RunRecord, ResourceRecord], str | None]
    delete: Callable[[Connection, ResourceRecord, Deletion], tuple[str, str]]


def _gone(deleted: bool, reason: str = "") -> tuple[str, str]:
    return ("deleted", reason) if deleted else ("already-gone", "")


def _first(ids: list[str]) -> str | None:
    return ids[0] if ids else None


def _find_loadbalancer(
    conn: Connection, record: RunRecord, resource: ResourceRecord
) -> str | None:
    del resource
    return _first(
        [lb.id for lb in loadbalancers.tagged_load_balancers(conn, run_tag(record.run_id))]
    )


def _delete_loadbalancer(
    conn: Connection, resource: ResourceRecord, how: Deletion
) -> tuple[str, str]:
    assert resource.id is not None
    gone = loadbalancers.delete_load_balancer(
        conn, resource.id, timeout=how.timeout, clock=how.clock
    )
    return _gone(gone, "cascade")


def _find_secret(conn: Connection, record: RunRecord, resource: ResourceRecord) -> str | None:
    del record
    return _first([s.href for s in barbican.secrets_named(conn, resource.name)])


def _delete_secret(conn: Connection, resource: ResourceRecord, how: Deletion) -> tuple[str, str]:
    del how
    assert resource.id is not None
    return _gone(barbican.delete_secret(conn, resource.id))


def _compute_flavor(profile: dict[str, Any]) -> str | None:
    """The Nova flavor a flavorprofile view names (its flavor data may not be an object)."""
    data = profile["flavor_data"]
    value = data.get("compute_flavor") if isinstance(data, dict) else None
    return None if value is None else str(value)


def _find_nova_flavor(conn: Connection, record: RunRecord, resource: ResourceRecord) -> str | None:
    mark = nova_description(record.run_id)
    named = flavors.nova_flavors_named(conn, resource.name)
    return _first([f["id"] for f in named if f["description"] == mark])


def _delete_nova_flavor(
    conn: Connection, resource: ResourceRecord, how: Deletion
) -> tuple[str, str]:
    del how
    assert resource.id is not None
    users = [
        p["name"] for p in flavors.all_flavorprofiles(conn) if _compute_flavor(p) == resource.id
    ]
    if users:
        return "kept", f"in use by flavorprofile {', '.join(users)}"
    return _gone(flavors.delete_created(conn, "nova-flavor", resource.id))


def _find_flavorprofile(
    conn: Connection, record: RunRecord, resource: ResourceRecord
) -> str | None:
    del record
    compute = resource.extra.get("compute_flavor")
    named = flavors.flavorprofiles_named(conn, resource.name)
    return _first([p["id"] for p in named if compute and _compute_flavor(p) == str(compute)])


def _find_lb_flavor(conn: Connection, record: RunRecord, resource: ResourceRecord) -> str | None:
    del record
    profile = resource.extra.get("flavorprofile_id")
    named = flavors.lb_flavors_named(conn, resource.name)
    return _first([f["id"] for f in named if f["flavorprofile_id"] == profile])


def _delete_flavor_kind(
    conn: Connection, resource: ResourceRecord, how: Deletion
) -> tuple[str, str]:
    del how
    assert resource.id is not None
    return _gone(flavors.delete_created(conn, resource.kind, resource.id))


def _find_keypair(conn: Connection, record: RunRecord, resource: ResourceRecord) -> str | None:
    del record
    existing = conn.compute.find_keypair(resource.name, ignore_missing=True)
    if existing is not None and keypairs.key_material(
        existing.public_key or ""
    ) == resource.extra.get("key"):
        return resource.name
    return None


def _delete_keypair(conn: Connection, resource: ResourceRecord, how: Deletion) -> tuple[str, str]:
    del how
    assert resource.id is not None
    return _gone(keypairs.delete_keypair(conn, resource.id))


# In deletion order: what uses a resource goes before it.
KINDS: tuple[Kind, ...] = (
    Kind("loadbalancer", _find_loadbalancer, _delete_loadbalancer),
    Kind("secret", _find_secret, _delete_secret),
    Kind("lb-flavor", _find_lb_flavor, _delete_flavor_kind),
    Kind("flavorprofile", _find_flavorprofile, _delete_flavor_kind),
    Kind("nova-flavor", _find_nova_flavor, _delete_nova_flavor),
    Kind("keypair", _find_keypair, _delete_keypair),
)


def _row(resource: ResourceRecord, outcome: str, reason: str = "") -> dict[str, Any]:
    return {
        "kind": resource.kind,
        "name": resource.name,
        "id": resource.id,
        "outcome": outcome,
        "reason": reason,
    }


def _resolve_pending(
    conn: Connection, kind: Kind, record: RunRecord, resource: ResourceRecord
) -> None:
    """A create call may have succeeded without its id being recorded: find it by its mark."""
    found = kind.find(conn, record, resource)
    if found is None:
        resource.state = "deleted"
        resource.note = "create call had not completed; nothing found"
    else:
        resource.id = found
        resource.state = "present"


def _delete_one(
    conn: Connection, kind: Kind, resource: ResourceRecord, how: Deletion
) -> tuple[str, str]:
    """Delete one resource the run created: (outcome, reason)."""
    from openstack import exceptions

    try:
        return kind.delete(conn, resource, how)
    except exceptions.ConflictException as e:
        return "kept", f"in use: {describe_error(e)}"
    except Exception as e:
        return "kept", describe_error(e)


def _adopt_tagged(conn: Connection, record: RunRecord, progress: Progress) -> None:
    """Add the tagged load balancers the record does not know (killed between create and
    record)."""
    tag = run_tag(record.run_id)
    known = {r.id for r in record.resources if r.kind == "loadbalancer"}
    try:
        tagged = loadbalancers.tagged_load_balancers(conn, tag)
    except Exception as e:
        progress(f"  could not list load balancers tagged {tag}: {describe_error(e)}")
        tagged = []
    for lb in tagged:
        if lb.id not in known:
            record.add(
                ResourceRecord(
                    kind="loadbalancer", name=lb.name, id=lb.id, created=True, state="present"
                )
            )


def _cleanup_one(
    conn: Connection,
    store: RunStore,
    record: RunRecord,
    kind: Kind,
    resource: ResourceRecord,
    how: Deletion,
    progress: Progress,
) -> dict[str, Any]:
    if resource.state == "pending" or resource.id is None:
        try:
            _resolve_pending(conn, kind, record, resource)
        except Exception as e:
            # Unknown whether it exists: keep the record for the next cleanup.
            reason = f"could not check whether it was created: {describe_error(e)}"
            progress(f"  kept: {kind.name} {resource.name}: {reason}")
            return _row(resource, "kept", reason)
        if resource.state == "deleted":
            store.save(record)
            return _row(resource, "already-gone", resource.note)
    outcome, reason = _delete_one(conn, kind, resource, how)
    resource.state = "kept" if outcome == "kept" else "deleted"
    resource.note = reason
    store.save(record)
    progress(
        f"  {outcome}: {kind.name} {resource.name} ({resource.id})"
        + (f": {reason}" if reason and outcome == "kept" else "")
    )
    return _row(resource, outcome, reason)


def cleanup_record(
    conn: Connection,
    store: RunStore,
    record: RunRecord,
    *,
    timeout: float,
    clock: Clock,
    progress: Progress,
) -> list[dict[str, Any]]:
    """Delete what ``record`` says its run created (the caller holds the run's lock)."""
    _adopt_tagged(conn, record, progress)
    how = Deletion(timeout=timeout, clock=clock)
    rows: list[dict[str, Any]] = []
    for kind in KINDS:
        for resource in [r for r in record.live() if r.kind == kind.name]:
            rows.append(_cleanup_one(conn, store, record, kind, resource, how, progress))
    return rows


@dataclasses.dataclass
class CleanupResult:
    # run id -> cleaned | kept-some | busy | no-record (asked for, not recorded here) |
    # not-recorded-here (a load balancer's tag names it; left alone)
    runs: dict[str, str]
    rows: list[dict[str, Any]]

    @property
    def deleted(self) -> int:
        return sum(1 for r in self.rows if r["outcome"] == "deleted")

    @property
    def kept(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["outcome"] == "kept"]

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "resources": self.rows, "deleted": self.deleted}


def _tagged_runs(conn: Connection) -> set[str]:
    """The run ids load balancers' tags name; a tag that is no valid run id names none."""
    found = set()
    for lb in loadbalancers.tagged_with_prefix(conn, TAG_PREFIX):
        for tag in lb.tags or []:
            candidate = str(tag)[len(TAG_PREFIX) :] if str(tag).startswith(TAG_PREFIX) else ""
            if candidate and RUN_ID.fullmatch(candidate):
                found.add(candidate)
    return found


def _cleanup_run(
    conn: Connection,
    store: RunStore,
    rid: str,
    result: CleanupResult,
    how: Deletion,
    say: Progress,
) -> None:
    try:
        with store.lock(rid):
            record = store.load(rid)
            say(f"cleanup of run {rid}")
            rows = cleanup_record(
                conn, store, record, timeout=how.timeout, clock=how.clock, progress=say
            )
            result.rows.extend(dict(r, run_id=rid) for r in rows)
            if not record.live() and "cleaned" not in record.status:
                record.status += ",cleaned"
            store.save(record)
            result.runs[rid] = "kept-some" if record.live() else "cleaned"
    except RunBusy:
        say(f"run {rid} is in progress; left alone")
        result.runs[rid] = "busy"


def cleanup(
    conn: Connection,
    state_dir: Path,
    run_id: str = "",
    *,
    timeout: float = 600,
    clock: Clock = SYSTEM_CLOCK,
    progress: Progress = no_progress,
) -> CleanupResult:
    """Delete everything one run (or every run) recorded here created. No request outlasts
    ``timeout``, and a kept resource's reason names the service that failed it."""
    if run_id:
        validate_run_id(run_id)
    store = RunStore(state_dir)
    recorded = store.run_ids()
    result = CleanupResult(runs={}, rows=[])
    how = Deletion(timeout=timeout, clock=clock)
    with requests_within(conn, timeout), catalog.naming(conn):
        for rid in [run_id] if run_id else recorded:
            if rid in recorded:
                _cleanup_run(conn, store, rid, result, how, progress)
            else:
                result.runs[rid] = "no-record"
        if not run_id:
            for rid in sorted(_tagged_runs(conn) - set(recorded)):
                progress(f"load balancers tagged by run {rid}, not recorded here: left alone")
                result.runs[rid] = "not-recorded-here"
    return result
