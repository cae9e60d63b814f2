"""The three relations of the Octavia charm, as plain data.

What this unit publishes, and the parsing of what the providers answer into dataclasses that
exist only when the data is complete (the contracts of the existing charms: charm-keystone,
charm-mysql-router and charm-rabbitmq-server all write plain strings in their unit databags).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from charmed_octavia.cloud.outcomes import CONTROL

SERVICE = "octavia"
API_PORT = 9876
DATABASE = "octavia"
DB_USERNAME = "octavia"
AMQP_USERNAME = "octavia"
AMQP_VHOST = "openstack"
AMQP_PORT = 5672
REQUESTED_ROLES = (
    "load-balancer_observer",
    "load-balancer_global_observer",
    "load-balancer_member",
    "load-balancer_quota_admin",
    "load-balancer_admin",
)

# Keystone writes this for "no value".
_NULL = "__null__"

IDENTITY_REQUIRED = (
    "service_host",
    "service_protocol",
    "service_port",
    "auth_host",
    "auth_protocol",
    "auth_port",
    "service_tenant",
    "service_username",
    "service_password",
    "service_tenant_id",
)

# Remote data: unit name -> that unit's databag.
UnitData = Mapping[str, Mapping[str, str]]


def _clean(data: Mapping[str, str]) -> dict[str, str]:
    """The set values; one with a control character (it could end a line of octavia.conf)
    counts as not set, so the relation reads as incomplete."""
    return {k: v for k, v in data.items() if v not in ("", _NULL) and not CONTROL.search(v)}


def _unit_order(name: str) -> tuple[str, int]:
    app, _, number = name.rpartition("/")
    return (app, int(number) if number.isdigit() else -1)


def host_for_url(host: str) -> str:
    """``host`` as it goes in a URL: IPv6 addresses in brackets."""
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]"
    except ValueError:
        pass
    return host


def api_url(host: str, scheme: str = "http") -> str:
    """The Octavia API's URL on ``host``, as published in the Keystone catalog."""
    return f"{scheme}://{host_for_url(host)}:{API_PORT}"


# -- neutron-api (neutron-load-balancer) ------------------------------------------------------


def load_balancer_info(base_url: str) -> dict[str, str]:
    """What neutron-api's lbaasv2-proxy reads: the name and the URL of the load-balancer API,
    each JSON-encoded (the reactive interface publishes through charms.reactive's JSON view,
    and neutron-api json.loads both)."""
    return {"name": json.dumps("octavia"), "base_url": json.dumps(base_url)}


# -- identity-service ------------------------------------------------------------------------


def identity_request(
    *, region: str, public_url: str, internal_url: str, admin_url: str
) -> dict[str, str]:
    """The unit databag this unit writes on identity-service."""
    roles = ",".join(REQUESTED_ROLES)
    return {
        "service": SERVICE,
        "region": region,
        "public_url": public_url,
        "internal_url": internal_url,
        "admin_url": admin_url,
        "requested_roles": roles,
        "add_role_to_admin": roles,
    }


@dataclass(frozen=True)
class IdentityCredentials:
    """Service credentials and Keystone endpoints from a complete identity-service answer."""

    service_protocol: str
    service_host: str
    service_port: str
    auth_protocol: str
    auth_host: str
    auth_port: str
    internal_protocol: str
    internal_host: str
    internal_port: str
    username: str
    password: str
    project_name: str
    project_id: str
    user_domain_name: str
    project_domain_name: str
    api_version: str

    @property
    def public_auth_url(self) -> str:
        """Where clients authenticate (WWW-Authenticate of the API)."""
        return f"{self.service_protocol}://{host_for_url(self.service_host)}:{self.service_port}"

    @property
    def admin_auth_url(self) -> str:
        return f"{self.auth_protocol}://{host_for_url(self.auth_host)}:{self.auth_port}"

    @property
    def internal_auth_url(self) -> str:
        return (
            f"{self.internal_protocol}://{host_for_url(self.internal_host)}:{self.internal_port}"
        )

    def auth_url(self, use_internal: bool) -> str:
        """The URL services use to authenticate themselves."""
        return self.internal_auth_url if use_internal else self.admin_auth_url


def missing_identity_keys(units: UnitData) -> list[str]:
    """Required keys no remote unit has set (empty when some unit's data is complete)."""
    best: list[str] | None = None
    for data in units.values():
        clean = _clean(data)
        missing = [k for k in IDENTITY_REQUIRED if k not in clean]
        if best is None or len(missing) < len(best):
            best = missing
    return list(IDENTITY_REQUIRED) if best is None else best


def parse_identity(units: UnitData) -> IdentityCredentials | None:
    """Credentials from the first remote unit (keystone's leader) whose data is complete."""
    for name in sorted(units, key=_unit_order):
        data = _clean(units[name])
        if any(k not in data for k in IDENTITY_REQUIRED):
            continue
        # Without a service_domain (Keystone v2 style) the users live in the default domain.
        domain = data.get("service_domain", "Default")
        return IdentityCredentials(
            service_protocol=data["service_protocol"],
            service_host=data["service_host"],
            service_port=data["service_port"],
            auth_protocol=data["auth_protocol"],
            auth_host=data["auth_host"],
            auth_port=data["auth_port"],
            # Older keystone charms do not publish internal_*: fall back to the admin side.
            internal_protocol=data.get("internal_protocol", data["auth_protocol"]),
            internal_host=data.get("internal_host", data["auth_host"]),
            internal_port=data.get("internal_port", data["auth_port"]),
            username=data["service_username"],
            password=data["service_password"],
            project_name=data["service_tenant"],
            project_id=data["service_tenant_id"],
            user_domain_name=domain,
            project_domain_name=domain,
            api_version=data.get("api_version", "3"),
        )
    return None


# -- shared-db -------------------------------------------------------------------------------


def database_request(hostname: str) -> dict[str, str]:
    """The unit databag this unit writes on shared-db."""
    return {"database": DATABASE, "username": DB_USERNAME, "hostname": hostname}


@dataclass(frozen=True)
class DatabaseCredentials:
    host: str
    port: int
    password: str
    # PEM of the CA to verify the server with, if the router offers TLS.
    ssl_ca: str = ""
    wait_timeout: int | None = None

    def url(self, *, ssl_ca_path: str = "") -> str:
        """The SQLAlchemy URL for [database] connection."""
        password = quote(self.password, safe="")
        url = (
            f"mysql+pymysql://{DB_USERNAME}:{password}@{host_for_url(self.host)}:{self.port}"
            f"/{DATABASE}"
        )
        if ssl_ca_path:
            url += f"?ssl_ca={quote(ssl_ca_path)}"
        return url


def database_wait_reason(units: UnitData, unit_name: str) -> str | None:
    """Why the shared-db data is not usable yet; None when it is."""
    if not units:
        return "no mysql-router unit yet"
    reasons = [_db_reason(_clean(d), unit_name) for d in units.values()]
    if any(r is None for r in reasons):
        return None
    return next(r for r in reasons if r is not None)


def _db_reason(data: Mapping[str, str], unit_name: str) -> str | None:
    if data.get("cluster-series-upgrading", "").lower() == "true":
        return "the database cluster is upgrading its series"
    missing = [k for k in ("db_host", "password") if k not in data]
    if missing:
        return f"missing {', '.join(missing)}"
    if unit_name not in data.get("allowed_units", "").split():
        return f"{unit_name} not yet in allowed_units"
    if not data.get("db_port", "3306").isdigit():
        return "db_port is not a number"
    return None


def parse_database(units: UnitData, unit_name: str) -> DatabaseCredentials | None:
    """The database answer for this unit, once complete and usable."""
    for name in sorted(units, key=_unit_order):
        data = _clean(units[name])
        if _db_reason(data, unit_name) is not None:
            continue
        wait = data.get("wait_timeout", "")
        return DatabaseCredentials(
            host=data["db_host"],
            port=int(data.get("db_port", "3306")),
            password=data["password"],
            ssl_ca=_decode_ca(data.get("ssl_ca", "")),
            wait_timeout=int(wait) if wait.isdigit() else None,
        )
    return None


# -- amqp ------------------------------------------------------------------------------------


def amqp_request(private_address: str) -> dict[str, str]:
    """The unit databag this unit writes on amqp."""
    return {"username": AMQP_USERNAME, "vhost": AMQP_VHOST, "private-address": private_address}


@dataclass(frozen=True)
class AmqpServer:
    host: str
    password: str


@dataclass(frozen=True)
class AmqpCredentials:
    servers: tuple[AmqpServer, ...]
    port: int = AMQP_PORT
    # PEM of the CA when the servers offer TLS (ssl_port and ssl_ca both set).
    ssl_ca: str = ""

    @property
    def transport_url(self) -> str:
        """One URL listing every ready rabbitmq unit, in unit order."""
        hosts = ",".join(
            f"{AMQP_USERNAME}:{quote(s.password, safe='')}@{host_for_url(s.host)}:{self.port}"
            for s in self.servers
        )
        return f"rabbit://{hosts}/{AMQP_VHOST}"


def parse_amqp(units: UnitData) -> AmqpCredentials | None:
    """Every rabbitmq unit that has set password and private-address; None if there is none."""
    servers: list[AmqpServer] = []
    ssl_port, ssl_ca = "", ""
    for name in sorted(units, key=_unit_order):
        data = _clean(units[name])
        if "password" not in data or "private-address" not in data:
            continue
        servers.append(AmqpServer(data["private-address"], data["password"]))
        if data.get("ssl_port", "").isdigit() and data.get("ssl_ca") and not ssl_port:
            ssl_port, ssl_ca = data["ssl_port"], data["ssl_ca"]
    if not servers:
        return None
    if ssl_port:
        return AmqpCredentials(tuple(servers), int(ssl_port), _decode_ca(ssl_ca))
    return AmqpCredentials(tuple(servers))


_PEM = re.compile(r"-----BEGIN CERTIFICATE-----")


def _decode_ca(value: str) -> str:
    """A CA certificate given as PEM or base64 of PEM, as PEM; "" if neither."""
    if not value:
        return ""
    if _PEM.search(value):
        return value.strip() + "\n"
    import base64
    import binascii

    try:
        text = base64.b64decode(value, validate=False).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return text.strip() + "\n" if _PEM.search(text) else ""


# -- neutron-openvswitch (neutron-plugin) and ovsdb-subordinate -------------------------------

NEUTRON_OPENVSWITCH = "neutron-openvswitch"
OVSDB_SUBORDINATE = "ovsdb-subordinate"
HOSTNAME = "hostname"
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


@dataclass(frozen=True)
class BindingHost:
    """The host the health-manager port is bound to, and what named it: one of the two
    relations, or ``hostname`` (this machine's own name) when neither did."""

    host: str
    source: str


def _host(value: str) -> str:
    return value if _HOST.fullmatch(value) else ""


def _chassis_name(value: str) -> str:
    """ovsdb-subordinate publishes through charms.reactive's JSON view: a JSON string."""
    try:
        decoded = json.loads(value)
    except ValueError:
        decoded = value
    return _host(decoded) if isinstance(decoded, str) else ""


def binding_host(
    neutron_openvswitch: UnitData | None, ovsdb_subordinate: UnitData | None, hostname: str
) -> BindingHost:
    """Where Neutron binds the health-manager port, as the existing charm chooses it: the
    neutron-openvswitch unit's ``host`` (its FQDN, published with use-fqdn-hint), else the
    ovsdb-subordinate unit's ``chassis-name`` (the OVS hostname ovn-controller registers the
    chassis by), else this machine's hostname."""
    for data in (neutron_openvswitch or {}).values():
        host = _host(_clean(data).get("host", ""))
        if host:
            return BindingHost(host, NEUTRON_OPENVSWITCH)
    for data in (ovsdb_subordinate or {}).values():
        host = _chassis_name(_clean(data).get("chassis-name", ""))
        if host:
            return BindingHost(host, OVSDB_SUBORDINATE)
    return BindingHost(hostname, HOSTNAME)
