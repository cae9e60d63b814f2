"""Keystone: the lab's identity service (fernet tokens), its users, roles and catalog."""

from __future__ import annotations

import base64
import json
import os
import shutil
import urllib.request
from pathlib import Path
from typing import Any

from tests.lab.files import write_ini, write_private
from tests.lab.services import POLICY, REGION, Context, Service, http_ok, mariadb

PROCESSES = ("keystone",)
SETUP_SCRIPT = Path(__file__).resolve().parent.parent / "keystone_setup.py"
SERVICE_USERS = ("barbican", "nova", "placement", "neutron", "glance", "octavia")
# Octavia's roles, and Barbican's "creator" for the member's secrets.
EXTRA_ROLES = (
    "load-balancer_observer",
    "load-balancer_global_observer",
    "load-balancer_member",
    "load-balancer_admin",
    "load-balancer_quota_admin",
    "creator",
)


def authtoken(ctx: Context, user: str) -> dict[str, str]:
    """The ``[keystone_authtoken]`` section of a service user (project ``service``)."""
    return {
        "www_authenticate_uri": ctx.identity_url,
        "auth_url": ctx.identity_url,
        "auth_type": "password",
        "username": user,
        "password": ctx.passwords[user],
        "project_name": "service",
        "user_domain_name": "Default",
        "project_domain_name": "Default",
        "region_name": REGION,
        "service_token_roles_required": "true",
        # keystonemiddleware's and each service user's session: the lab CA, in the TLS lab.
        **ctx.cafile(),
    }


def configure(ctx: Context) -> None:
    """Fernet and credential keys, keystone.conf, and the spec of ``keystone_setup.py``."""
    ks = ctx.dir / "keystone"
    shutil.copy(SETUP_SCRIPT, ctx.dir / "bin" / SETUP_SCRIPT.name)
    for repo in ("fernet-keys", "credential-keys"):
        (ks / repo).mkdir(mode=0o700)
        for index in ("0", "1"):
            write_private(ks / repo / index, base64.urlsafe_b64encode(os.urandom(32)))
    write_ini(
        ks / "keystone.conf",
        {
            "DEFAULT": {"debug": "false"},
            "database": {"connection": mariadb.url(ctx, "keystone")},
            "token": {"provider": "fernet"},
            "fernet_tokens": {"key_repository": str(ks / "fernet-keys")},
            "fernet_receipts": {"key_repository": str(ks / "fernet-keys")},
            "credential": {"key_repository": str(ks / "credential-keys")},
            "cache": {"enabled": "false"},
            "oslo_policy": POLICY,
        },
    )
    write_private(ks / "setup.json", json.dumps(_setup_spec(ctx)))


def _setup_spec(ctx: Context) -> dict[str, Any]:
    """What ``keystone_setup.py`` creates: admin, projects, roles, users, catalog."""
    users = [
        {
            "username": svc,
            "password": ctx.passwords[svc],
            "project": "service",
            "roles": ["admin", "service"],
        }
        for svc in SERVICE_USERS
    ]
    users.append(
        {
            "username": "member",
            "password": ctx.passwords["member"],
            "project": "lab",
            "roles": ["member", "load-balancer_member", "creator"],
        }
    )
    catalog = (
        ("nova", "compute", ctx.url("nova", "/v2.1")),
        ("octavia", "load-balancer", ctx.url("octavia")),
        ("barbican", "key-manager", ctx.url("barbican")),
        ("neutron", "network", ctx.url("neutron")),
        ("glance", "image", ctx.url("glance")),
        ("placement", "placement", ctx.url("placement")),
    )
    return {
        "config": str(ctx.dir / "keystone" / "keystone.conf"),
        "region": REGION,
        "identity_url": ctx.identity_url,
        "admin": {"username": "admin", "password": ctx.passwords["admin"], "project": "admin"},
        "projects": ["service", "lab"],
        "extra_roles": list(EXTRA_ROLES),
        "users": users,
        "services": [{"name": n, "type": t, "url": u} for n, t, u in catalog],
    }


def start(ctx: Context) -> None:
    """Schema, bootstrap and catalog in one venv process, then the API under gunicorn."""
    ks = ctx.dir / "keystone"
    ctx.run(
        "keystone",
        [str(ctx.python), str(ctx.dir / "bin" / SETUP_SCRIPT.name), str(ks / "setup.json")],
    )
    ctx.spawn(ctx.gunicorn("keystone", ctx.ports["keystone"], ks / "keystone.conf"))


def probe(service: Service, token: str | None) -> bool:
    return http_ok(service, "/v3", token)


def admin_token(ctx: Context) -> str:
    """A project-scoped token of the lab's admin (for the other APIs' probes)."""
    body = json.dumps(
        {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "admin",
                            "domain": {"id": "default"},
                            "password": ctx.passwords["admin"],
                        }
                    },
                },
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
            }
        }
    ).encode()
    req = urllib.request.Request(  # noqa: S310 (loopback URL built here)
        ctx.identity_url + "/auth/tokens",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    # S310: a loopback URL; in the TLS lab verified against the lab CA only.
    with urllib.request.urlopen(req, timeout=30, context=ctx.ssl_context()) as resp:  # noqa: S310
        return resp.headers["X-Subject-Token"]
