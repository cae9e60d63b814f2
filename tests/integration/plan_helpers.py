"""Shared helpers of the plan's lab suites: counting what exists, the lab amphora's processes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from charmed_octavia.cloud import connection


def admin_connection(lab: Any) -> Any:
    """The lab's admin cloud through the library's own clouds.yaml loader."""
    return connection.connect_cloud(lab.admin_cloud, lab.clouds_yaml)


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


def haproxy_pids(pids: list[int]) -> list[int]:
    """Those of ``pids`` (a cgroup's processes) that are haproxy."""
    found = []
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "haproxy":
                found.append(pid)
        except OSError:
            continue
    return found


def still_running(pids: list[int], wait: float = 10.0) -> list[int]:
    """Those of ``pids`` still alive after up to ``wait`` seconds (a zombie, dead but not yet
    reaped by its parent, does not count)."""
    deadline = time.monotonic() + wait
    while True:
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in ("Z", "X"):
                alive.append(pid)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)
