"""Octavia load balancer, listener, pool and member operations with waits.

Every change to a child object puts the load balancer in PENDING_UPDATE; the next change is
only accepted once it is ACTIVE again, so each operation here waits for the load balancer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from charmed_octavia.cloud.waiting import (
    DEFAULT_BACKOFF,
    SYSTEM_CLOCK,
    Backoff,
    Clock,
    wait_for,
    wait_gone,
)

if TYPE_CHECKING:
    from openstack.connection import Connection


def _status(resource: Any) -> str:
    return f"provisioning {resource.provisioning_status}, operating {resource.operating_status}"


def _fault(resource: Any) -> str | None:
    if resource.provisioning_status == "ERROR":
        # Octavia keeps no fault text on the object; the worker log has the cause.
        return (
            f"{_status(resource)} (Octavia records the cause in the octavia-worker log, "
            f"id {resource.id})"
        )
    return None


def _stuck(resource: Any) -> str | None:
    """Who did not act on a load balancer still PENDING_*: Octavia's worker, which does every
    change the API accepts (the API hands it over through the message queue)."""
    status = str(resource.provisioning_status)
    if not status.startswith("PENDING"):
        return None
    return (
        f"the Octavia worker did not process it (still {status}, operating "
        f"{resource.operating_status}; the octavia-worker service or its message queue is "
        "down or behind)"
    )


def wait_lb_active(
    conn: Connection,
    lb_id: str,
    *,
    timeout: float,
    clock: Clock = SYSTEM_CLOCK,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> Any:
    return wait_for(
        f"load balancer {lb_id}",
        lambda: conn.load_balancer.get_load_balancer(lb_id),
        state=_status,
        done=lambda lb: lb.provisioning_status == "ACTIVE",
        fault=_fault,
        timeout=timeout,
        clock=clock,
        backoff=backoff,
        stuck=_stuck,
    )


def wait_lb_not_pending(
    conn: Connection, lb_id: str, *, timeout: float, clock: Clock = SYSTEM_CLOCK
) -> Any:
    """Wait until Octavia accepts changes (ACTIVE or ERROR) to the load balancer."""
    return wait_for(
        f"load balancer {lb_id}",
        lambda: conn.load_balancer.get_load_balancer(lb_id),
        state=_status,
        done=lambda lb: not str(lb.provisioning_status).startswith("PENDING"),
        fault=lambda lb: None,
        timeout=timeout,
        clock=clock,
        stuck=_stuck,
    )


def create_load_balancer(
    conn: Connection, *, name: str, vip_subnet_id: str, flavor_id: str | None, tags: list[str]
) -> Any:
    attrs: dict[str, Any] = {"name": name, "vip_subnet_id": vip_subnet_id, "tags": tags}
    if flavor_id:
        attrs["flavor_id"] = flavor_id
    return conn.load_balancer.create_load_balancer(**attrs)


def create_listener(
    conn: Connection,
    *,
    lb_id: str,
    name: str,
    port: int,
    tls_ref: str,
    connection_limit: int,
    tags: list[str],
) -> Any:
    return conn.load_balancer.create_listener(
        name=name,
        protocol="TERMINATED_HTTPS",
        protocol_port=port,
        loadbalancer_id=lb_id,
        default_tls_container_ref=tls_ref,
        connection_limit=connection_limit,
        tags=tags,
    )


def create_pool(
    conn: Connection,
    *,
    listener_id: str,
    name: str,
    protocol: str,
    lb_algorithm: str,
    tags: list[str],
) -> Any:
    return conn.load_balancer.create_pool(
        name=name, listener_id=listener_id, protocol=protocol, lb_algorithm=lb_algorithm, tags=tags
    )


def add_member(conn: Connection, pool_id: str, *, address: str, port: int, tags: list[str]):
    return conn.load_balancer.create_member(
        pool_id, address=address, protocol_port=port, tags=tags
    )


def remove_member(conn: Connection, pool_id: str, member_id: str) -> None:
    conn.load_balancer.delete_member(member_id, pool_id, ignore_missing=True)


def get_load_balancer(conn: Connection, lb_id: str) -> Any | None:
    from openstack import exceptions

    try:
        lb = conn.load_balancer.get_load_balancer(lb_id)
    except exceptions.NotFoundException:
        return None
    # Octavia shows a deleted load balancer as DELETED for a while before it 404s.
    return None if lb.provisioning_status == "DELETED" else lb


def tagged_load_balancers(conn: Connection, tag: str) -> list[Any]:
    return list(conn.load_balancer.load_balancers(tags=tag))


def tagged_with_prefix(conn: Connection, prefix: str) -> list[Any]:
    return [
        lb
        for lb in conn.load_balancer.load_balancers()
        if any(str(t).startswith(prefix) for t in (lb.tags or []))
    ]


def delete_load_balancer(
    conn: Connection, lb_id: str, *, timeout: float, clock: Clock = SYSTEM_CLOCK
) -> bool:
    """Cascade-delete and wait until gone; False when it was already gone.

    A load balancer in PENDING_* is immutable: wait (within ``timeout``) for Octavia to
    finish what it is doing before deleting.
    """
    lb = get_load_balancer(conn, lb_id)
    if lb is None:
        return False
    # Already being deleted: only wait for it to go.
    if lb.provisioning_status != "PENDING_DELETE":
        if str(lb.provisioning_status).startswith("PENDING"):
            wait_lb_not_pending(conn, lb_id, timeout=timeout, clock=clock)
        conn.load_balancer.delete_load_balancer(lb_id, ignore_missing=True, cascade=True)
    wait_gone(
        f"load balancer {lb_id}",
        lambda: get_load_balancer(conn, lb_id),
        state=_status,
        fault=lambda lb: None,
        timeout=timeout,
        clock=clock,
        stuck=_stuck,
    )
    return True
