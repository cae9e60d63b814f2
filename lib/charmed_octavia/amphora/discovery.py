"""Which amphorae there are: Octavia's amphora API, one load balancer's or all of them."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openstack.connection import Connection


@dataclasses.dataclass(frozen=True)
class Amphora:
    id: str
    loadbalancer_id: str | None
    lb_network_ip: str | None
    role: str | None = None
    compute_id: str | None = None
    status: str | None = None


def discover(conn: Connection, loadbalancer: str | None = None) -> list[Amphora]:
    """Amphorae of one load balancer (id or name) or of all; deleted ones are left out."""
    query: dict[str, str] = {}
    if loadbalancer:
        lb = conn.load_balancer.find_load_balancer(loadbalancer, ignore_missing=False)
        query["loadbalancer_id"] = lb.id
    found = []
    for amp in conn.load_balancer.amphorae(**query):
        if amp.status == "DELETED":
            continue
        found.append(
            Amphora(
                id=amp.id,
                loadbalancer_id=amp.loadbalancer_id,
                lb_network_ip=amp.lb_network_ip,
                role=amp.role,
                compute_id=amp.compute_id,
                status=amp.status,
            )
        )
    return sorted(found, key=lambda a: (a.loadbalancer_id or "", a.role or "", a.id))
