"""Finding resources by the tags the existing Octavia charm puts on what it creates.

``charm-octavia`` marks the management network, its subnets, its router and the amphorae's
security group; ``charm-octavia-health`` the health managers' security group. What carries the
tag is adopted, so a deployment that the existing charm set up is reused, never duplicated.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from charmed_octavia.cloud.outcomes import ConflictError

TAG = "charm-octavia"
HEALTH_TAG = "charm-octavia-health"


def one_tagged(found: Iterable[Any], kind: str, tag: str) -> Any | None:
    """The one resource of ``found`` (already filtered by ``tag``), None if there is none;
    two or more are a conflict: which one Octavia should use is the operator's call."""
    items = list(found)
    if len(items) > 1:
        ids = ", ".join(sorted(str(i.id) for i in items))
        raise ConflictError(
            kind, tag, [f"{len(items)} are tagged {tag} ({ids}): remove the tag from all but one"]
        )
    return items[0] if items else None


def refuse_untagged_namesake(found: Iterable[Any], kind: str, name: str, tag: str) -> None:
    """A resource named ``name`` without ``tag`` is someone else's (or a half-made one): it is
    neither adopted nor shadowed by a second one of the same name."""
    items = [i for i in found if tag not in (getattr(i, "tags", None) or [])]
    if items:
        raise ConflictError(
            kind,
            name,
            [
                f"{items[0].id} has that name but not the tag {tag}: tag it to adopt it "
                f"(openstack {kind} set --tag {tag} {items[0].id}) or rename it"
            ],
        )


def add_tag(conn: Any, resource: Any, tag: str) -> None:
    resource.add_tag(conn.network, tag)
