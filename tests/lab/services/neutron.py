"""Neutron: the lab's networking API, ``neutron-server`` with the ML2 plugin and its OVN
mechanism driver (and OVN's L3 router plugin) against the lab's ``ovn-central``.

No chassis runs with the lab itself (the amphorae are the noop compute's, the lab amphora's VIPs
live in its own network namespace); a test that needs a port bound starts the lab's chassis
(``tests/lab/chassis.py``: Open vSwitch and ovn-controller). Networks, subnets, ports, security
groups and routers are real Neutron objects, and each is written to OVN's northbound database
as on a cloud.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from tests.lab.files import write_ini
from tests.lab.services import (
    POLICY,
    Context,
    Service,
    http_ok,
    keystone,
    mariadb,
    ovn,
    rabbitmq,
)

PROCESSES = ("neutron-server",)
# The flat provider network the lab's external network is on (no bridge behind it).
PHYSNET = "physnet1"


def _files(ctx: Context) -> list[str]:
    d = ctx.dir / "neutron"
    return [str(d / "neutron.conf"), str(d / "ml2_conf.ini")]


def _config_args(ctx: Context) -> list[str]:
    return [arg for path in _files(ctx) for arg in ("--config-file", path)]


def configure(ctx: Context) -> None:
    """neutron.conf, ml2_conf.ini (the OVN driver and its databases), the API paste file."""
    d = ctx.dir / "neutron"
    shutil.copy(ctx.venv_root / "etc" / "neutron" / "api-paste.ini", d / "api-paste.ini")
    (d / "lock").mkdir()
    tls: dict[str, dict[str, str]] = {}
    if ctx.tls:
        # neutron-server's own eventlet server (oslo.service's [ssl] options); its Nova client
        # (no notifications in the lab, but configured as on a cloud) trusts the lab CA.
        tls = {
            "ssl": {"cert_file": str(ctx.tls.cert_file), "key_file": str(ctx.tls.key_file)},
            "nova": ctx.cafile(),
        }
    write_ini(
        d / "neutron.conf",
        {
            "DEFAULT": {
                "debug": "false",
                "bind_host": "127.0.0.1",
                "bind_port": str(ctx.ports["neutron"]),
                "core_plugin": "ml2",
                "service_plugins": "ovn-router",
                "auth_strategy": "keystone",
                "transport_url": rabbitmq.transport_url(ctx),
                "state_path": str(d),
                "api_paste_config": str(d / "api-paste.ini"),
                "host": f"lab-{ctx.ports['neutron']}",
                # Two CPUs: one API worker, RPC in the server itself (OVN has no agents).
                "api_workers": "1",
                "rpc_workers": "0",
                "rpc_state_report_workers": "0",
                # No nova-compute to tell about port changes.
                "notify_nova_on_port_status_changes": "false",
                "notify_nova_on_port_data_changes": "false",
                **({"use_ssl": "true"} if ctx.tls else {}),
            },
            "database": {"connection": mariadb.url(ctx, "neutron")},
            "keystone_authtoken": keystone.authtoken(ctx, "neutron"),
            "oslo_concurrency": {"lock_path": str(d / "lock")},
            "oslo_policy": POLICY,
            **tls,
        },
    )
    write_ini(
        d / "ml2_conf.ini",
        {
            "ml2": {
                "type_drivers": "flat,geneve",
                "tenant_network_types": "geneve",
                "mechanism_drivers": "ovn",
                "extension_drivers": "port_security",
                "overlay_ip_version": "4",
            },
            "ml2_type_flat": {"flat_networks": PHYSNET},
            "ml2_type_geneve": {"vni_ranges": "1:65536", "max_header_size": "38"},
            "securitygroup": {"enable_security_group": "true"},
            "ovn": {
                "ovn_nb_connection": ovn.db_url(ctx, "nb"),
                "ovn_sb_connection": ovn.db_url(ctx, "sb"),
                "ovn_l3_scheduler": "leastloaded",
                "ovn_metadata_enabled": "false",
            },
        },
    )


def start(ctx: Context, *, backends_ready: Callable[[], object]) -> None:
    """The schema (restored from the lab's cache when this venv has migrated it before), then,
    once ``backends_ready`` returns (RabbitMQ and OVN's databases answer), the server."""
    manage = [str(ctx.venv_bin / "neutron-db-manage"), *_config_args(ctx), "upgrade", "heads"]
    mariadb.migrate_cached(
        ctx, "neutron-server", "neutron", lambda: ctx.run("neutron-server", manage)
    )
    backends_ready()
    ctx.spawn(
        Service(
            "neutron-server",
            [str(ctx.venv_bin / "neutron-server"), *_config_args(ctx)],
            ctx.venv_env("neutron-server"),
            ctx.log("neutron-server"),
            port=ctx.ports["neutron"],
            ca_file=ctx.ca_file,
        )
    )


def endpoint(ctx: Context) -> str:
    """The catalog's URL of the network service."""
    return ctx.url("neutron")


def probe(service: Service, token: str | None) -> bool:
    return http_ok(service, "/v2.0/networks?limit=1", token)
