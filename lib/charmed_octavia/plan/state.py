"""What one test-plan run knows while it runs (``PlanRun``), and its bookkeeping: every
resource is recorded before its create call and settled after it, so that cleanup can always
find what the run may have created."""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from charmed_octavia.plan.records import ResourceRecord, RunRecord, RunStore, run_tag

if TYPE_CHECKING:
    from openstack.connection import Connection

    from charmed_octavia.amphora.discovery import Amphora
    from charmed_octavia.amphora.results import AmphoraResult
    from charmed_octavia.plan.params import PlanContext, PlanParams
    from charmed_octavia.plan.results import StepResult


@dataclasses.dataclass
class Made:
    """The ids the steps hand on to later steps, each written by one step."""

    vip_subnet_id: str = ""  # preflight
    nova_flavor_id: str = ""  # nova-flavor
    flavorprofile_id: str = ""  # flavorprofile
    lb_flavor_id: str = ""  # lb-flavor
    secret_href: str = ""  # tls-bundle
    lb_id: str = ""  # loadbalancer
    listener_id: str = ""  # listener
    pool_id: str = ""  # pool


@dataclasses.dataclass
class PlanRun:
    conn: Connection
    params: PlanParams
    ctx: PlanContext
    record: RunRecord
    steps: list[StepResult]
    made: Made = dataclasses.field(default_factory=Made)
    # Discovered once, by the first amphora step that needs them.
    amphorae: list[Amphora] | None = None
    amphora_results: list[AmphoraResult] = dataclasses.field(default_factory=list)
    check_ran: bool = False
    failed_step: str | None = None
    failure: str | None = None
    verdict: str = ""
    verdict_reason: str = ""
    cleanup_rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    started_epoch: float = dataclasses.field(default_factory=time.time)

    @property
    def store(self) -> RunStore:
        return RunStore(self.ctx.state_dir)

    @property
    def tags(self) -> list[str]:
        return [run_tag(self.record.run_id)]

    def log(self, message: str) -> None:
        self.ctx.progress(message)

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

    def forget_unsent(self, error: BaseException) -> None:
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
