"""Storing a PKCS#12 bundle in Barbican the way the test plan does: an opaque secret,
base64-encoded, content type application/octet-stream."""

from __future__ import annotations

import base64
import dataclasses
from typing import TYPE_CHECKING, Any

from charmed_octavia.cloud.outcomes import check_name

if TYPE_CHECKING:
    from openstack.connection import Connection

    from charmed_octavia.cloud.tls import TlsBundle


@dataclasses.dataclass(frozen=True)
class StoredSecret:
    href: str
    id: str
    name: str

    def to_dict(self) -> dict[str, Any]:
        return {"href": self.href, "id": self.id, "name": self.name}


def secret_id(href: str) -> str:
    return href.rstrip("/").rsplit("/", 1)[-1]


def store_bundle(conn: Connection, name: str, bundle: TlsBundle) -> StoredSecret:
    """Store ``bundle``; every call stores a new secret (Barbican names are not unique and a
    secret is never reused: its payload cannot be compared without reading the key back)."""
    check_name("secret", name)
    secret = conn.key_manager.create_secret(
        name=name,
        secret_type="opaque",  # noqa: S106 - a Barbican type name, not a password
        payload=base64.b64encode(bundle.pkcs12).decode("ascii"),
        payload_content_type="application/octet-stream",
        payload_content_encoding="base64",
    )
    href = secret.secret_ref
    if not href:
        raise RuntimeError("Barbican did not return a secret reference")
    return StoredSecret(href=href, id=secret_id(href), name=name)


def delete_secret(conn: Connection, href_or_id: str) -> bool:
    """Delete one secret; False when it was already gone."""
    from openstack import exceptions

    try:
        conn.key_manager.delete_secret(secret_id(href_or_id), ignore_missing=False)
    except exceptions.NotFoundException:
        return False
    return True


def secrets_named(conn: Connection, name: str) -> list[StoredSecret]:
    return [
        StoredSecret(href=s.secret_ref, id=secret_id(s.secret_ref), name=s.name)
        for s in conn.key_manager.secrets(name=name)
        if s.name == name
    ]
