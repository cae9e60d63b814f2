"""The amphora's compute path with the charm's resources, on the unit of ``tests.lab.charm_api``.

octavia-worker runs with Octavia's Nova compute and Glance image drivers over the charm's
octavia.conf, so that a load balancer's amphora is asked of the lab's Nova API with what
configure-resources made and the charm rendered (``amp_boot_network_list``,
``amp_secgroup_list``, ``amp_flavor_id``, ``amp_ssh_key_name``) and the image tagged
``amp_image_tag`` in the lab's Glance. Nova validates the request as on a cloud: the image in
Glance; the network, its subnet and the security group in Neutron; the flavor, the octavia
user's keypair and the service project's quotas.

No Nova compute runs here (it would boot a VM): the accepted server stays in BUILD, Octavia's
wait for it runs out (``amp_active_retries`` lowered to seconds), its revert deletes the
server, and the load balancer ends in ERROR. A second worker names a network Neutron does not
have in ``amp_boot_network_list``: Nova refuses that server, which shows that the first
acceptance was a validation and not a formality.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.lab.procs import started, wait_for
from tests.lab.services.octavia import WORKER_READY_MARK

if TYPE_CHECKING:
    from tests.lab.charm_unit import OctaviaUnit
    from tests.lab.control import Lab

# Over the noop overlay: the compute and image drivers a cloud's worker uses, and a wait for
# ACTIVE that gives up in seconds instead of the charm's 30 minutes.
NOVA_CONF = "/etc/octavia/lab-nova-compute.conf"
NOVA_OVERLAY = {
    "controller_worker": {
        "compute_driver": "compute_nova_driver",
        "image_driver": "image_glance_driver",
        "amp_active_retries": "6",
        "amp_active_wait_sec": "1",
    },
}
# The same, with a boot network no Neutron has.
UNKNOWN_NETWORK = "0d9c6a7e-5b4f-4e3d-8c2b-1a0f9e8d7c6b"
UNKNOWN_NETWORK_CONF = "/etc/octavia/lab-unknown-network.conf"
UNKNOWN_NETWORK_OVERLAY = {
    "controller_worker": {
        **NOVA_OVERLAY["controller_worker"],
        "amp_boot_network_list": UNKNOWN_NETWORK,
    },
}
# What Nova answers Octavia for a network Neutron does not know.
NOVA_REFUSAL = f"Network {UNKNOWN_NETWORK} could not be found"


def place_overlays(unit: OctaviaUnit) -> None:
    """Both workers' extra config files (placed before the unit is mounted)."""
    unit.overlay(NOVA_OVERLAY, NOVA_CONF)
    unit.overlay(UNKNOWN_NETWORK_OVERLAY, UNKNOWN_NETWORK_CONF)


def upload_amphora_image(admin: Any, tag: str) -> str:
    """An image tagged ``tag``, public, as an operator uploads the amphora image; its id.
    (Nova checks the image is active; nothing boots it.)"""
    image = admin.image.create_image(
        name="lab-amphora",
        data=b"lab amphora image\n",
        disk_format="qcow2",
        container_format="bare",
        visibility="public",
        tags=[tag],
    )
    return image.id


def _server(admin: Any, compute_id: str) -> dict[str, Any]:
    """What Nova holds of the server Octavia asked for ({} once it is gone)."""
    server = admin.compute.find_server(compute_id, ignore_missing=True, all_projects=True)
    if server is None:
        return {}
    flavor = server.flavor or {}
    return {
        "status": server.status,
        "name": server.name,
        "flavor": flavor.get("original_name") or flavor.get("id"),
        "key_name": server.key_name,
        "image": (server.image or {}).get("id"),
        "project": server.project_id,
    }


def _one_load_balancer(
    unit: OctaviaUnit, lab: Lab, log: Path, conf: str, vip_subnet: str
) -> dict[str, Any]:
    """A worker with the overlay ``conf``; a load balancer until ACTIVE or ERROR, the server
    Nova held for its amphora meanwhile, and whether that server outlived the revert."""
    admin = lab.connect(lab.admin_cloud)
    member = lab.connect(lab.member_cloud)
    with started(unit.start_worker(log, extra=(conf,))) as worker:
        wait_for(
            "octavia-worker consuming", lambda: WORKER_READY_MARK in log.read_text(), proc=worker
        )
        lb = member.load_balancer.create_load_balancer(
            name=f"charm-compute-{uuid.uuid4().hex[:8]}", vip_subnet_id=vip_subnet
        )
        statuses = [lb.provisioning_status]
        seen: dict[str, Any] = {}

        def settled() -> bool:
            for amp in admin.load_balancer.amphorae(loadbalancer_id=lb.id):
                if amp.compute_id and not seen:
                    seen.update(compute_id=amp.compute_id, server=_server(admin, amp.compute_id))
            current = member.load_balancer.get_load_balancer(lb.id).provisioning_status
            if statuses[-1] != current:
                statuses.append(current)
            return current in ("ACTIVE", "ERROR")

        wait_for("the load balancer settled", settled, proc=worker)
        text = log.read_text(errors="replace")
        result = {
            "statuses": statuses,
            "server_while_waiting": seen.get("server", {}),
            "server_after": _server(admin, seen["compute_id"]) if seen else {},
            "nova_refused_unknown_network": NOVA_REFUSAL in text,
            # Octavia gave up waiting for ACTIVE and deleted the server it had asked for.
            "reverted_compute_create": bool(seen)
            and f"compute id: {seen['compute_id']}" in text
            and "Reverting compute create failed" not in text,
            "worker_alive": worker.poll() is None,
        }
        # Tidy up; the namespace goes with the run in any case.
        member.load_balancer.delete_load_balancer(lb.id, cascade=True)
    return result


def exercise(unit: OctaviaUnit, lab: Lab, logs: Path, image_tag: str, vip_subnet: str) -> dict:
    """The amphora image uploaded, then a load balancer with each worker (module docstring)."""
    admin = lab.connect(lab.admin_cloud)
    image = upload_amphora_image(admin, image_tag)
    return {
        "image": image,
        "accepted": _one_load_balancer(
            unit, lab, logs / "octavia-worker-nova.log", NOVA_CONF, vip_subnet
        ),
        "unknown_network": _one_load_balancer(
            unit,
            lab,
            logs / "octavia-worker-unknown-network.log",
            UNKNOWN_NETWORK_CONF,
            vip_subnet,
        ),
    }
