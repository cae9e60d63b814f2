"""Nova: the lab's compute API only: flavors, keypairs, and server requests, which it validates
as on a cloud (the image in Glance; the networks, their subnets and the security groups in
Neutron; flavor, keypair and quotas) before it hands them to a conductor. No conductor,
scheduler or compute runs: an accepted server stays in BUILD until it is deleted (Placement,
``services.placement``, is asked to drop its allocations then)."""

from __future__ import annotations

import shutil

from tests.lab.files import write_ini
from tests.lab.services import (
    POLICY,
    REGION,
    Context,
    Service,
    http_ok,
    keystone,
    mariadb,
    rabbitmq,
)

PROCESSES = ("nova-api",)
# Of a service user's keystone_authtoken, what keystoneauth's password plugin takes, and
# its session's CA (the TLS lab's).
PASSWORD_AUTH = (
    "auth_url",
    "auth_type",
    "username",
    "password",
    "project_name",
    "user_domain_name",
    "project_domain_name",
    "region_name",
    "cafile",
)


def configure(ctx: Context) -> None:
    """nova.conf (API and cell databases), a copy of the venv's API paste file, a lock dir."""
    nv = ctx.dir / "nova"
    shutil.copy(ctx.venv_root / "etc" / "nova" / "api-paste.ini", nv / "api-paste.ini")
    (nv / "lock").mkdir()
    service_auth = {k: v for k, v in keystone.authtoken(ctx, "nova").items() if k in PASSWORD_AUTH}
    write_ini(
        nv / "nova.conf",
        {
            "DEFAULT": {
                "debug": "false",
                "transport_url": rabbitmq.transport_url(ctx),
                "state_path": str(nv),
                "host": f"lab-{ctx.ports['nova']}",
                "my_ip": "127.0.0.1",
            },
            "api": {"auth_strategy": "keystone"},
            "api_database": {"connection": mariadb.url(ctx, "nova_api")},
            "database": {"connection": mariadb.url(ctx, "nova")},
            "keystone_authtoken": keystone.authtoken(ctx, "nova"),
            # Found in the catalog. Nova asks Neutron as admin for a requested network's
            # provider details, and Placement to drop a deleted server's allocations: both
            # with its own credentials.
            # service_auth carries the lab CA in the TLS lab; Glance's section needs its own.
            "glance": {"region_name": REGION, "valid_interfaces": "internal", **ctx.cafile()},
            "neutron": {**service_auth, "valid_interfaces": "internal"},
            "placement": {**service_auth, "valid_interfaces": "internal"},
            "oslo_concurrency": {"lock_path": str(nv / "lock")},
            "wsgi": {"api_paste_config": str(nv / "api-paste.ini")},
            "oslo_policy": POLICY,
        },
    )


def start(ctx: Context) -> None:
    """Migrate both schemas, then the API under gunicorn."""
    conf = ctx.dir / "nova" / "nova.conf"
    manage = str(ctx.venv_bin / "nova-manage")
    ctx.run("nova-api", [manage, "--config-file", str(conf), "api_db", "sync"])
    # db sync reads the API database's cell mappings: it must come second.
    ctx.run("nova-api", [manage, "--config-file", str(conf), "db", "sync"])
    svc = ctx.gunicorn("nova-api", ctx.ports["nova"], conf)
    # The API runs under gunicorn's threads, not eventlet.
    svc.env["OS_NOVA_DISABLE_EVENTLET_PATCHING"] = "1"
    ctx.spawn(svc)


def probe(service: Service, token: str | None) -> bool:
    return http_ok(service, "/v2.1/flavors", token)
