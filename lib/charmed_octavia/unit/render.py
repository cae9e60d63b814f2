"""The files the Octavia services read, rendered from templates/ with jinja2.

``desired_files`` turns the configuration and the relations' data into every managed file's
content and ownership, or None for a managed file that must not exist (the paths, and which
service reads which file, are the machine's: ``machine``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from charmed_octavia.cloud.outcomes import CONTROL
from charmed_octavia.unit import api_tls, health_manager, resources
from charmed_octavia.unit.config import HEALTH_MANAGER_PORT, CharmConfig
from charmed_octavia.unit.machine import (
    AMQP_CA,
    APACHE_SITE,
    API_CERT,
    API_KEY,
    CONTROLLER_CA,
    CONTROLLER_CERT,
    DB_CA,
    ISSUING_CA,
    ISSUING_CA_KEY,
    OCTAVIA_CONF,
    SYSTEM_CA_BUNDLE,
    TLS_FILES,
    File,
)
from charmed_octavia.unit.pki import TLSMaterial
from charmed_octavia.unit.relations import (
    API_PORT,
    AmqpCredentials,
    DatabaseCredentials,
    IdentityCredentials,
)

# Files readable by the services' group only: they hold passwords and keys.
_PRIVATE = {"mode": 0o640, "owner": "root", "group": "octavia"}
# The amphora certificates and keys: read by the services, changed by the charm alone.
_CERTS = {"mode": 0o440, "owner": "root", "group": "octavia"}


@dataclass(frozen=True)
class RenderInput:
    """Everything the rendered files depend on."""

    config: CharmConfig
    identity: IdentityCredentials
    database: DatabaseCredentials
    amqp: AmqpCredentials
    # Shared by every unit through the peer relation (the leader makes them).
    heartbeat_key: str
    server_certs_key_passphrase: str
    # The unit's address that amphorae send heartbeats to, when not configured and before
    # the unit has its health-manager port.
    unit_address: str
    # The amphora PKI: the operator's lb-mgmt-* options or the one the leader generated.
    tls: TLSMaterial = field(default_factory=TLSMaterial)
    # The peer relation's application data: the amphora resources' ids (``resources``) and
    # every health manager's address (``health_manager``).
    shared: Mapping[str, str] = field(default_factory=dict)
    # This unit's health-manager port's address (``health_manager.ADDRESS``), once it has one.
    hm_address: str = ""
    # The API's certificate: apache serves the API with TLS when there is one.
    api_certificate: api_tls.ApiCertificate | None = None
    # Whether the charm installed a CA in the system trust store: the clients then verify
    # with the system bundle (which holds it).
    trusts_installed_ca: bool = False
    # The machine's CPUs: the API's mod_wsgi processes follow them (worker-multiplier).
    cpus: int = 1


def oslo_value(value: object) -> str:
    """A value as oslo.config reads it back unchanged: "$" doubled (oslo interpolates
    "$name"), and quoted when oslo would strip its surrounding spaces or quotes."""
    text = "" if value is None else str(value)
    if CONTROL.search(text):
        raise ValueError("a value for octavia.conf holds a control character")
    text = text.replace("$", "$$")
    if text != text.strip() or (len(text) > 1 and text[0] == text[-1] and text[0] in "\"'"):
        text = f'"{text}"'
    return text


def environment(templates_dir: Path, *, oslo: bool = False) -> jinja2.Environment:
    """The templates' environment; ``oslo``: every value written as ``oslo_value``."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - INI and apache config, not HTML
        finalize=oslo_value if oslo else None,
    )


def octavia_context(inp: RenderInput) -> dict[str, object]:
    """The values octavia.conf.j2 uses."""
    cfg = inp.config
    tls = inp.tls
    internal = cfg.use_internal_endpoints
    bind_ip = cfg.health_manager_bind_ip or inp.hm_address or inp.unit_address
    # Octavia splits each entry at its last colon: IPv6 addresses go without brackets.
    controllers = (
        cfg.controller_ip_port_list
        or health_manager.controller_ip_port_list(health_manager.shared_addresses(inp.shared))
        or f"{bind_ip}:{HEALTH_MANAGER_PORT}"
    )
    db = inp.database
    # Recycle pooled connections before the server drops them for idling.
    recycle = min(3600, max(1, db.wait_timeout - 10)) if db.wait_timeout else None
    anti_affinity, policy = cfg.anti_affinity()
    return {
        "debug": cfg.debug,
        "transport_url": inp.amqp.transport_url,
        "amqp_ca": AMQP_CA if inp.amqp.ssl_ca else "",
        "database_url": db.url(ssl_ca_path=DB_CA if db.ssl_ca else ""),
        "database_recycle": recycle,
        "identity": inp.identity,
        "auth_url": inp.identity.auth_url(internal),
        "www_authenticate_uri": inp.identity.public_auth_url,
        "region": cfg.region,
        "endpoint_type": "internalURL" if internal else "publicURL",
        "interface": "internal" if internal else "public",
        "config": cfg,
        "amphora": resources.amphora_resources(cfg, inp.shared),
        "anti_affinity": anti_affinity,
        "anti_affinity_policy": policy,
        "tls": bool(tls.issuing_ca),
        "issuing_ca": ISSUING_CA,
        "issuing_ca_key": ISSUING_CA_KEY,
        "issuing_ca_passphrase": tls.issuing_ca_passphrase,
        "controller_ca": CONTROLLER_CA,
        "controller_cert": CONTROLLER_CERT,
        "server_certs_key_passphrase": inp.server_certs_key_passphrase,
        "health_manager_bind_ip": bind_ip,
        "health_manager_port": HEALTH_MANAGER_PORT,
        "controller_ip_port_list": controllers,
        "heartbeat_key": inp.heartbeat_key,
        "cafile": SYSTEM_CA_BUNDLE if inp.trusts_installed_ca else "",
    }


def desired_files(inp: RenderInput, templates_dir: Path) -> dict[str, File | None]:
    """Every managed file: its wanted content, or None if it must not exist."""
    env = environment(templates_dir)
    oslo = environment(templates_dir, oslo=True)
    tls = inp.tls
    files: dict[str, File | None] = {
        OCTAVIA_CONF: File(
            OCTAVIA_CONF,
            oslo.get_template("octavia.conf.j2").render(octavia_context(inp)).encode(),
            **_PRIVATE,
        ),
        APACHE_SITE: File(
            APACHE_SITE,
            env.get_template("octavia-api.conf.j2")
            .render(
                port=API_PORT,
                processes=inp.config.api_processes(inp.cpus),
                api_cert=API_CERT if inp.api_certificate else "",
                api_key=API_KEY,
            )
            .encode(),
        ),
        **api_tls.api_files(inp.api_certificate),
    }
    for path, pem in (
        (ISSUING_CA, tls.issuing_ca),
        (ISSUING_CA_KEY, tls.issuing_ca_key),
        (CONTROLLER_CA, tls.controller_ca),
        (CONTROLLER_CERT, tls.controller_cert),
    ):
        files[path] = File(path, pem.encode(), **_CERTS) if pem else None
    for path, pem in (
        (DB_CA, inp.database.ssl_ca),
        (AMQP_CA, inp.amqp.ssl_ca),
    ):
        files[path] = File(path, pem.encode(), **_PRIVATE) if pem else None
    return files


def managed_paths() -> tuple[str, ...]:
    """Every path ``desired_files`` may write."""
    return (OCTAVIA_CONF, APACHE_SITE, API_CERT, API_KEY, *TLS_FILES, DB_CA, AMQP_CA)
