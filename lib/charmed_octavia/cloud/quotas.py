"""The service project's quotas, unlimited as the existing Octavia charm sets them: amphorae
are servers, ports and security groups of Octavia's service project."""

from __future__ import annotations

from typing import TYPE_CHECKING

from charmed_octavia.cloud.outcomes import Ensured

if TYPE_CHECKING:
    from openstack.connection import Connection

UNLIMITED = -1
COMPUTE = ("cores", "ram", "instances")
NETWORK = (
    "ports",
    "security_groups",
    "security_group_rules",
    "networks",
    "subnets",
    "floating_ips",
    "routers",
    "rbac_policies",
)


def ensure_unlimited(conn: Connection) -> Ensured:
    project = conn.current_project_id
    if not project:
        raise RuntimeError("the connection has no project: quotas need a project-scoped token")
    current = conn.compute.get_quota_set(project)
    compute_done = all(getattr(current, k) == UNLIMITED for k in COMPUTE)
    if not compute_done:
        conn.compute.update_quota_set(project, **dict.fromkeys(COMPUTE, UNLIMITED))
    network = conn.network.get_quota(project)
    network_done = all(getattr(network, k) == UNLIMITED for k in NETWORK)
    if not network_done:
        conn.network.update_quota(project, **dict.fromkeys(NETWORK, UNLIMITED))
    action = "reused" if compute_done and network_done else "created"
    return Ensured("quotas", project, "service project", action)
