"""Shared helpers of the plan's lab suites: counting what exists, the lab amphora's processes."""

from __future__ import annotations

import configparser
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from charmed_octavia.amphora import ssh
from charmed_octavia.cloud import connection
from charmed_octavia.plan.params import PlanContext

from tests.lab import amphora as lab_amphora


def admin_connection(lab: Any) -> Any:
    """The lab's admin cloud through the library's own clouds.yaml loader."""
    return connection.connect_cloud(lab.admin_cloud, lab.clouds_yaml)


def neutron_connection(lab: Any) -> Any:
    """The admin connection, once the lab's catalog has Neutron (else the test is skipped,
    or fails in CI)."""
    from tests.infrastructure import require

    conn = admin_connection(lab)
    require(
        None
        if "network" in connection.service_types(conn)
        else "no network service in the lab's catalog",
        "Neutron",
    )
    return conn


def amp_key_name(lab: Any) -> str:
    """The lab octavia.conf's amp_ssh_key_name ("" where it sets none)."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(lab.octavia_conf)
    return conf.get("controller_worker", "amp_ssh_key_name", fallback="")


def lab_plan_context(lab: Any, tmp_path: Path, progress: Callable[[str], None]) -> PlanContext:
    """What the charm hands the plan, as the lab's octavia.conf and a fresh client key give it."""
    _, public = ssh.ensure_keypair(tmp_path / "ssh")
    return PlanContext(
        state_dir=tmp_path / "state",
        series="lab",
        origin="pypi",
        package_versions={"octavia": "14.0.2"},
        amp_ssh_key_name=amp_key_name(lab),
        public_key=public,
        progress=progress,
    )


def amphora_plan_context(
    amp: Any,
    key_name: str,
    keys: tuple[Path, str],
    tmp_path: Path,
    progress: Callable[[str], None],
) -> PlanContext:
    """What the charm hands the plan for a run on the lab amphora ``amp``, whose octavia.conf
    names ``key_name``; ``keys``: the client's private key and its public key."""
    private, public = keys
    return PlanContext(
        state_dir=tmp_path / "state",
        series="lab",
        origin="pypi",
        package_versions={
            "octavia": "14.0.2",
            # The report names what rendered the amphora's haproxy.cfg (templater, patch).
            lab_amphora.TEMPLATER_REPORT_KEY: amp.templater_description(),
        },
        amp_ssh_key_name=key_name,
        public_key=public,
        amphora_ssh=amp.ssh_settings(private, tmp_path / "known_hosts"),
        amphora_haproxy_dir=amp.octavia_dir,
        oom_since_margin=1.0,
        progress=progress,
    )


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


def remove_charm_resources(conn: Any, keypair: str = "") -> None:
    """Delete what configure-resources and the health-manager ports make, found by the
    charm's tags and names: ports on its networks, its router's interfaces, router, networks,
    security groups, the flavor ``charm-octavia`` and ``keypair`` (when named)."""
    from charmed_octavia.cloud import tags

    net = conn.network
    for router in net.routers(tags=tags.TAG):
        for port in net.ports(device_id=router.id):
            for ip in port.fixed_ips:
                net.remove_interface_from_router(router, ip["subnet_id"])
        net.delete_router(router)
    for network in net.networks(tags=tags.TAG):
        for port in net.ports(network_id=network.id):
            net.delete_port(port)
        net.delete_network(network)
    for tag in (tags.TAG, tags.HEALTH_TAG):
        for group in net.security_groups(tags=tag):
            net.delete_security_group(group)
    flavor = conn.compute.find_flavor("charm-octavia", ignore_missing=True)
    if flavor is not None:
        conn.compute.delete_flavor(flavor)
    if keypair:
        conn.compute.delete_keypair(keypair, ignore_missing=True)
