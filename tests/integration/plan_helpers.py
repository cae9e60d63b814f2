"""Shared helpers of the plan's lab suites: counting what exists, a fresh SSH key."""

from __future__ import annotations

from typing import Any

from charmed_octavia import cloud


def admin_connection(lab: Any) -> Any:
    """The lab's admin cloud through the library's own clouds.yaml loader."""
    return cloud.connect_cloud(lab.admin_cloud, lab.clouds_yaml)


def inventory(conn: Any) -> dict[str, set[str]]:
    """Ids of every resource kind the plan may create, as the admin sees them."""
    return {
        "nova-flavors": {f.id for f in conn.compute.flavors(details=False, is_public="none")},
        "keypairs": {k.name for k in conn.compute.keypairs()},
        "flavorprofiles": {p.id for p in conn.load_balancer.flavor_profiles()},
        "lb-flavors": {f.id for f in conn.load_balancer.flavors()},
        "secrets": {s.secret_ref for s in conn.key_manager.secrets()},
        "loadbalancers": {
            lb.id
            for lb in conn.load_balancer.load_balancers()
            if lb.provisioning_status != "DELETED"
        },
    }


def added(before: dict[str, set[str]], after: dict[str, set[str]]) -> dict[str, set[str]]:
    return {k: after[k] - before[k] for k in after if after[k] - before[k]}
