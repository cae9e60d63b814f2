"""Glance: the lab's image service (a file store under the lab directory), where the amphora
image Octavia's Nova compute driver looks up by tag lives, and which Nova's API reads when it
validates a server's image."""

from __future__ import annotations

import shutil

from tests.lab.files import write_ini
from tests.lab.services import POLICY, Context, Service, http_ok, keystone, mariadb

PROCESSES = ("glance-api",)
# The one store, as glance_store's multi-store configuration names it.
STORE = "lab"


def configure(ctx: Context) -> None:
    """glance-api.conf (one file store, the staging and tasks stores beside it) and a copy of
    the venv's API paste file, in the directory the WSGI application reads them from."""
    d = ctx.dir / "glance"
    shutil.copy(ctx.venv_root / "etc" / "glance" / "glance-api-paste.ini", d)
    for store in ("images", "staging", "tasks", "lock"):
        (d / store).mkdir()
    write_ini(
        d / "glance-api.conf",
        {
            "DEFAULT": {"debug": "false", "enabled_backends": f"{STORE}:file"},
            "database": {"connection": mariadb.url(ctx, "glance")},
            "keystone_authtoken": keystone.authtoken(ctx, "glance"),
            "paste_deploy": {"flavor": "keystone"},
            "glance_store": {"default_backend": STORE},
            STORE: {"filesystem_store_datadir": str(d / "images")},
            "os_glance_staging_store": {"filesystem_store_datadir": str(d / "staging")},
            "os_glance_tasks_store": {"filesystem_store_datadir": str(d / "tasks")},
            "oslo_concurrency": {"lock_path": str(d / "lock")},
            "oslo_messaging_notifications": {"driver": "noop"},
            "oslo_policy": POLICY,
        },
    )


def start(ctx: Context) -> None:
    """The schema (from the lab's cache when this venv has migrated it before), then the API
    under gunicorn."""
    conf = ctx.dir / "glance" / "glance-api.conf"
    manage = [str(ctx.venv_bin / "glance-manage"), "--config-file", str(conf), "db_sync"]
    mariadb.migrate_cached(ctx, "glance-api", "glance", lambda: ctx.run("glance-api", manage))
    ctx.spawn(ctx.gunicorn("glance-api", ctx.ports["glance"], conf))


def endpoint(ctx: Context) -> str:
    """The catalog's URL of the image service."""
    return ctx.url("glance")


def probe(service: Service, token: str | None) -> bool:
    return http_ok(service, "/v2/images?limit=1", token)
