"""Placement: the lab's resource-provider API, which Nova's API asks to drop a server's
allocations when that server is deleted. No compute node reports here: it holds no resource
provider and no allocation."""

from __future__ import annotations

from tests.lab.files import write_ini
from tests.lab.services import POLICY, Context, Service, http_ok, keystone, mariadb

PROCESSES = ("placement-api",)


def configure(ctx: Context) -> None:
    """placement.conf, in the directory the WSGI application reads it from."""
    write_ini(
        ctx.dir / "placement" / "placement.conf",
        {
            "DEFAULT": {"debug": "false"},
            "api": {"auth_strategy": "keystone"},
            "placement_database": {"connection": mariadb.url(ctx, "placement")},
            "keystone_authtoken": keystone.authtoken(ctx, "placement"),
            "oslo_policy": POLICY,
        },
    )


def start(ctx: Context) -> None:
    """The schema (from the lab's cache when this venv has migrated it before), then the API
    under gunicorn."""
    conf = ctx.dir / "placement" / "placement.conf"
    manage = [str(ctx.venv_bin / "placement-manage"), "--config-file", str(conf), "db", "sync"]
    mariadb.migrate_cached(
        ctx, "placement-api", "placement", lambda: ctx.run("placement-api", manage)
    )
    ctx.spawn(ctx.gunicorn("placement-api", ctx.ports["placement"], conf))


def probe(service: Service, token: str | None) -> bool:
    return http_ok(service, "/resource_providers", token)
