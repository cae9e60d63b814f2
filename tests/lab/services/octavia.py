"""Octavia: the lab's load-balancer API, worker, health manager and housekeeping, and the CA
the worker needs for amphora certificates even with the noop amphora driver. The API checks
flavors against Nova and VIPs against Neutron (``API_DRIVERS``); the worker's drivers are noop
unless overridden (the lab amphora's replace the amphora and compute drivers).

The health manager listens for heartbeats on a free UDP port of 127.0.0.1, which is also
``controller_ip_port_list`` (what the worker writes into each amphora's agent configuration).
Failover is off (``FAILOVER_OFF_TIMEOUT``) unless a test lowers ``heartbeat_timeout``: the
health manager fails over an amphora whose heartbeats stopped, which in the lab is one whose
lab amphora a test has stopped."""

from __future__ import annotations

import datetime
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tests.lab import procs
from tests.lab.files import Sections, merge_sections, read_ini, write_ini, write_private
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

PROCESSES = ("octavia-api", "octavia-worker", "octavia-health-manager", "octavia-housekeeping")
# The API's drivers over octavia.conf's: Nova checks a flavor's compute flavor; Neutron (the
# allowed-address-pairs driver) checks the VIP subnet and network, and creates the VIP port
# on it. The worker keeps the noop network driver: plugging a VIP port needs a Nova server's
# interface, and its amphorae are the noop compute's.
API_DRIVERS = {
    "compute_driver": "compute_nova_driver",
    "network_driver": "allowed_address_pairs_driver",
}
# The worker logs this once its RPC consumer has declared its queues on RabbitMQ.
WORKER_READY_MARK = "Creating fanout queue: octavia_provisioning_v2"
# Housekeeping logs this once it has read its configuration and starts its threads.
HOUSEKEEPING_READY_MARK = "Starting house keeping at"
# The amphorae's heartbeat interval (the agent's default is 10 s): a test sees its amphora
# reported within seconds.
HEARTBEAT_INTERVAL = 3
# An amphora is stale once no heartbeat came for heartbeat_timeout; a day outlives any lab
# (LAB_TTL, 2 h by default), so none is ever failed over, and the health manager's check
# (which first waits that long) never runs. A test that wants failover overrides it.
FAILOVER_OFF_TIMEOUT = 86400


def conf_path(lab_dir: Path) -> Path:
    """The octavia.conf of API and worker."""
    return lab_dir / "octavia" / "octavia.conf"


def ca_paths(lab_dir: Path) -> tuple[Path, Path]:
    """The CA's certificate and (encrypted) private key."""
    return lab_dir / "octavia" / "ca.pem", lab_dir / "octavia" / "ca.key"


def write_ca(ctx: Context) -> tuple[Path, Path]:
    """A self-signed CA (RSA) whose key is encrypted with ``ctx.passwords["ca"]``, in OpenSSL's
    traditional format as ``[certificates] ca_private_key`` is read."""
    # Built in the test process (cryptography); no lab venv process imports tests.certificates.
    from tests.certificates import self_signed

    ca = self_signed(
        "charmed-octavia lab CA",
        key_type="rsa",
        ca=True,
        days=30,
        backdate=datetime.timedelta(minutes=5),
    )
    cert_path, key_path = ca_paths(ctx.dir)
    cert_path.write_text(ca.cert_pem)
    write_private(key_path, ca.key_pem(ctx.passwords["ca"], traditional=True))
    return cert_path, key_path


def _certificates(ctx: Context) -> dict[str, str]:
    cert, key = ca_paths(ctx.dir)
    return {
        "cert_manager": "barbican_cert_manager",
        "barbican_auth": "barbican_acl_auth",
        "ca_certificate": str(cert),
        "ca_private_key": str(key),
        "ca_private_key_passphrase": ctx.passwords["ca"],
        "server_certs_key_passphrase": secrets.token_hex(16),
        "region_name": REGION,
        "endpoint_type": "internal",
        # Barbican's client (the listeners' TLS bundles), in the TLS lab.
        **ctx.cafile("ca_certificates_file"),
    }


def _controller_worker(ctx: Context) -> dict[str, str]:
    return {
        "amphora_driver": "amphora_noop_driver",
        "compute_driver": "compute_noop_driver",
        "network_driver": "network_noop_driver",
        "image_driver": "image_noop_driver",
        "volume_driver": "volume_noop_driver",
        "amp_ssh_key_name": "amphora-backdoor",
        "amp_image_tag": "amphora",
        "amp_flavor_id": "amphora",
        # The lab's lab-amp-boot-net, once Neutron has made it (use_management_network).
        "amp_boot_network_list": "",
        "amp_secgroup_list": "00000000-0000-4000-8000-000000000002",
        "loadbalancer_topology": "SINGLE",
        "client_ca": str(ca_paths(ctx.dir)[0]),
        "workers": "1",
    }


def _health_manager(ctx: Context) -> dict[str, str]:
    port = ctx.ports["health_manager"]
    return {
        "bind_ip": "127.0.0.1",
        "bind_port": str(port),
        "controller_ip_port_list": f"127.0.0.1:{port}",
        "heartbeat_key": secrets.token_hex(16),
        "heartbeat_interval": str(HEARTBEAT_INTERVAL),
        "heartbeat_timeout": str(FAILOVER_OFF_TIMEOUT),
        "health_check_interval": "3",
        "failover_threads": "1",
        # One process each for the health and the statistics updates (default: one per CPU).
        "health_update_threads": "1",
        "stats_update_threads": "1",
    }


def _sections(ctx: Context) -> Sections:
    port = ctx.ports["octavia"]
    authtoken = keystone.authtoken(ctx, "octavia")
    return {
        "DEFAULT": {"debug": "false", "transport_url": rabbitmq.transport_url(ctx)},
        "api_settings": {
            "bind_host": "127.0.0.1",
            "bind_port": str(port),
            "auth_strategy": "keystone",
            "api_base_uri": ctx.url("octavia"),
        },
        "database": {"connection": mariadb.url(ctx, "octavia")},
        "keystone_authtoken": authtoken,
        "service_auth": {
            k: v
            for k, v in authtoken.items()
            if k not in ("www_authenticate_uri", "service_token_roles_required")
        },
        "certificates": _certificates(ctx),
        "controller_worker": _controller_worker(ctx),
        "haproxy_amphora": {"server_ca": str(ca_paths(ctx.dir)[0])},
        "health_manager": _health_manager(ctx),
        "task_flow": {"jobboard_enabled": "false"},
        # Each client's CA option as Octavia names it (the TLS lab's CA; none in the plain lab).
        "nova": {
            "region_name": REGION,
            "endpoint_type": "internal",
            **ctx.cafile("ca_certificates_file"),
        },
        "neutron": {"region_name": REGION, "valid_interfaces": "internal", **ctx.cafile()},
        "glance": {
            "region_name": REGION,
            "valid_interfaces": "internal",
            **ctx.cafile("ca_certificates_file"),
        },
        "cinder": {
            "region_name": REGION,
            "valid_interfaces": "internal",
            **ctx.cafile("ca_certificates_file"),
        },
        "oslo_concurrency": {"lock_path": str(ctx.dir / "octavia" / "lock")},
        "oslo_policy": POLICY,
    }


def configure(ctx: Context, *, overrides: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """One octavia.conf for API and worker (with the lab's ``overrides``), and the API's
    extra file adding the Nova compute driver. Needs the CA (``write_ca``) first."""
    (ctx.dir / "octavia" / "lock").mkdir()
    write_ini(conf_path(ctx.dir), merge_sections(_sections(ctx), overrides))
    write_ini(ctx.dir / "octavia" / "octavia-api.conf", {"controller_worker": API_DRIVERS})


def use_management_network(ctx: Context, network_id: str) -> None:
    """Put the lab's management network into octavia.conf's ``amp_boot_network_list``."""
    sections = read_ini(conf_path(ctx.dir))
    sections["controller_worker"]["amp_boot_network_list"] = network_id
    write_ini(conf_path(ctx.dir), sections)


def start(
    ctx: Context,
    *,
    broker_ready: Callable[[], object],
    networks_ready: Callable[[], object] = lambda: None,
    worker_pythonpath: Sequence[Path] = (),
) -> None:
    """Migrate the schema, start the API under gunicorn once ``networks_ready`` returns (the
    management network is in octavia.conf), the health manager and housekeeping, then (once
    ``broker_ready`` returns) the worker. ``worker_pythonpath`` is the PYTHONPATH of the worker
    and of the health manager and housekeeping, which run the worker's flows themselves
    (failover, certificate rotation) with its drivers."""
    conf = conf_path(ctx.dir)
    ctx.run(
        "octavia-api",
        [str(ctx.venv_bin / "octavia-db-manage"), "--config-file", str(conf), "upgrade", "head"],
    )
    networks_ready()
    svc = ctx.gunicorn("octavia-api", ctx.ports["octavia"], conf)
    svc.env["LAB_APP_EXTRA_CONFIG"] = str(ctx.dir / "octavia" / "octavia-api.conf")
    ctx.spawn(svc)
    for name in ("octavia-health-manager", "octavia-housekeeping"):
        ctx.spawn(_controller_service(ctx, name, worker_pythonpath))
    broker_ready()
    ctx.spawn(_controller_service(ctx, "octavia-worker", worker_pythonpath))


def _controller_service(ctx: Context, name: str, pythonpath: Sequence[Path]) -> Service:
    env = ctx.venv_env(name)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    argv = [str(ctx.venv_bin / name), "--config-file", str(conf_path(ctx.dir))]
    port = ctx.ports["health_manager"] if name == "octavia-health-manager" else None
    return Service(name, argv, env, ctx.log(name), port=port)


def probe(service: Service, token: str | None) -> bool:
    # Only this process's lines: a restarted process's log still holds the last one's mark.
    if service.name == "octavia-worker":
        return WORKER_READY_MARK in service.log_since_start()
    if service.name == "octavia-housekeeping":
        return HOUSEKEEPING_READY_MARK in service.log_since_start()
    if service.name == "octavia-health-manager":
        # Its listener logs before it binds: the bound socket is what says it listens.
        return service.port is not None and procs.udp_bound(service.port)
    return http_ok(service, "/v2/lbaas/loadbalancers", token)
