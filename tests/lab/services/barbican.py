"""Barbican: the lab's key manager (simple_crypto store), where listeners' TLS bundles live."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

from tests.lab.files import write_ini
from tests.lab.services import POLICY, Context, Service, http_ok, keystone, mariadb, rabbitmq

PROCESSES = ("barbican",)


def _home(ctx: Context) -> Path:
    # Barbican's plugins read only the default locations, i.e. HOME/.barbican/.
    return ctx.dir / "barbican" / "home"


def configure(ctx: Context) -> None:
    """barbican.conf in HOME/.barbican/ and a copy of the venv's API paste file."""
    conf_dir = _home(ctx) / ".barbican"
    conf_dir.mkdir(parents=True, mode=0o700)
    shutil.copy(
        ctx.venv_root / "etc" / "barbican" / "barbican-api-paste.ini",
        ctx.dir / "barbican" / "barbican-api-paste.ini",
    )
    write_ini(
        conf_dir / "barbican.conf",
        {
            "DEFAULT": {
                "debug": "false",
                "host_href": ctx.url("barbican"),
                "transport_url": rabbitmq.transport_url(ctx),
            },
            "database": {"connection": mariadb.url(ctx, "barbican")},
            "secretstore": {
                "namespace": "barbican.secretstore.plugin",
                "enabled_secretstore_plugins": "store_crypto",
            },
            "crypto": {
                "namespace": "barbican.crypto.plugin",
                "enabled_crypto_plugins": "simple_crypto",
            },
            "simple_crypto_plugin": {"kek": base64.b64encode(os.urandom(32)).decode()},
            "keystone_authtoken": keystone.authtoken(ctx, "barbican"),
            "queue": {"enable": "false"},
            "keystone_notifications": {"enable": "false"},
            "oslo_policy": POLICY,
        },
    )


def start(ctx: Context) -> None:
    """Migrate the schema, then the API under gunicorn."""
    home = _home(ctx)
    ctx.run(
        "barbican",
        [
            str(ctx.venv_bin / "barbican-manage"),
            "db",
            "upgrade",
            "--db-url",
            mariadb.url(ctx, "barbican"),
        ],
        env=ctx.venv_env("barbican", home=home),
    )
    svc = ctx.gunicorn("barbican", ctx.ports["barbican"], home / ".barbican" / "barbican.conf")
    svc.env["HOME"] = str(home)
    svc.env["LAB_APP_PASTE"] = str(ctx.dir / "barbican" / "barbican-api-paste.ini")
    ctx.spawn(svc)


def probe(service: Service, token: str | None) -> bool:
    return http_ok(service, "/v1/secrets?limit=1", token)
