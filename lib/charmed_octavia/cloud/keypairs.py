"""Idempotent Nova keypair upload: the amphora SSH key under the name octavia.conf uses.

Nova keypairs belong to the user that uploads them, and Octavia boots amphorae as its
service user: on the unit the plan connects with those credentials, so the keypair lands
where Octavia looks for it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from charmed_octavia.cloud.outcomes import (
    ConflictError,
    Ensured,
    InvalidParameter,
    check_name,
    shown,
)

if TYPE_CHECKING:
    from openstack.connection import Connection


# What Nova takes in a keypair name (API 2.92 and later; earlier ones refuse "@" and ".").
_KEYPAIR_NAME = re.compile(r"[A-Za-z0-9@._ -]+")


def validate_keypair_name(name: str, label: str = "keypair name") -> str:
    """A name Nova takes for a keypair: letters, digits, "@", ".", "_", "-" and spaces."""
    check_name(label, name)
    if not _KEYPAIR_NAME.fullmatch(name):
        raise InvalidParameter(
            f"{label} {shown(name)} has characters Nova refuses in a keypair name "
            "(it takes letters, digits, '@', '.', '_', '-' and spaces)"
        )
    return name


def key_material(public_key: str) -> str:
    """``type base64`` of an OpenSSH public-key line, without its comment."""
    parts = public_key.split()
    if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
        raise InvalidParameter("not an OpenSSH public-key line")
    return f"{parts[0]} {parts[1]}"


def check_keypair(conn: Connection, name: str, public_key: str) -> Any | None:
    """The existing keypair with this key, None if there is none; ConflictError if the name
    holds another key (Nova cannot change a keypair's key)."""
    validate_keypair_name(name)
    wanted = key_material(public_key)
    existing = conn.compute.find_keypair(name, ignore_missing=True)
    if existing is not None and key_material(existing.public_key or "") != wanted:
        raise ConflictError(
            "keypair",
            name,
            [f"public key: existing {existing.fingerprint}, wanted another key"],
        )
    return existing


def ensure_keypair(conn: Connection, name: str, public_key: str) -> Ensured:
    existing = check_keypair(conn, name, public_key)
    if existing is not None:
        return Ensured("keypair", name, name, "reused", {"fingerprint": existing.fingerprint})
    created = conn.compute.create_keypair(name=name, public_key=public_key)
    return Ensured("keypair", name, name, "created", {"fingerprint": created.fingerprint})


def delete_keypair(conn: Connection, name: str) -> bool:
    from openstack import exceptions

    try:
        conn.compute.delete_keypair(name, ignore_missing=False)
    except exceptions.NotFoundException:
        return False
    return True
