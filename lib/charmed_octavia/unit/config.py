"""The charm's configuration options as one validated, typed value.

Field names are the Juju option names with dashes as underscores (the charm loads them with
``CharmBase.load_config``). Invalid values raise ``ValueError`` with a message that names the
option and never repeats the value of a secret option.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass, fields

from charmed_octavia.cloud.flavors import INT32_MAX, check_nova_id
from charmed_octavia.cloud.keypairs import key_material, validate_keypair_name
from charmed_octavia.cloud.networks import check_ipv4_cidr
from charmed_octavia.cloud.outcomes import shown
from charmed_octavia.unit import api_tls, endpoints, pki, workers
from charmed_octavia.unit.pki import TLSMaterial

TOPOLOGIES = ("SINGLE", "ACTIVE_STANDBY")
# "auto" and "disable" as the existing charm: auto is soft-anti-affinity for ACTIVE_STANDBY.
ANTI_AFFINITY_POLICIES = ("auto", "disable", "anti-affinity", "soft-anti-affinity")
HEALTH_MANAGER_PORT = 5555

# Values go verbatim into an INI file and apache config: a control character could add lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A Linux network device name (IFNAMSIZ: 15 characters).
_IFACE = re.compile(r"[A-Za-z0-9_.:@-]{1,15}")
_LIST_ITEM = re.compile(r"[A-Za-z0-9_.:-]+")
# A DNS name (letters, digits, inner dashes; dots between labels): what goes into a URL.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_NAGIOS_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_DAYS_MAX = 3650
# A Keystone project id: hex for SQL-backed projects, other word characters with LDAP.
_PROJECT_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# Names and ids hold at most 255 characters (Keystone, Nova, Glance); lists a few dozen.
_TEXT_MAX = 255
_LIST_MAX = 4096
_POSITIVE = (
    "connection_max_retries",
    "connection_retry_interval",
    "active_connection_max_retries",
    "active_connection_retry_interval",
    "amp_active_retries",
    "amp_active_wait",
)
# Accepted for the existing charm's bundles: no haproxy fronts the API here.
_HAPROXY_TIMEOUTS = tuple(
    f"haproxy_{kind}_timeout" for kind in ("server", "client", "queue", "connect")
)
_LIST_OPTIONS = frozenset(
    {
        "amp_boot_network_list",
        "amp_secgroup_list",
        "controller_ip_port_list",
        "amp_ssh_pub_key",
        "vip",
    }
)
# PEM options go to files of their own, not into the INI text, and may be multi-line PEM.
_PEM_OPTIONS = frozenset(
    {
        "lb_mgmt_issuing_cacert",
        "lb_mgmt_issuing_ca_private_key",
        "lb_mgmt_controller_cacert",
        "lb_mgmt_controller_cert",
        "ssl_cert",
        "ssl_key",
        "ssl_ca",
    }
)


@dataclass(frozen=True)
class CharmConfig:
    """Every option of config.yaml; defaults mirror config.yaml for direct construction."""

    openstack_origin: str = "distro"
    action_managed_upgrade: bool = False
    nagios_context: str = "juju"
    nagios_servicegroups: str = "juju"
    tls_warn_days: int = 30
    tls_crit_days: int = 14
    debug: bool = False
    region: str = "RegionOne"
    use_internal_endpoints: bool = False
    os_public_hostname: str = ""
    os_internal_hostname: str = ""
    os_admin_hostname: str = ""
    os_public_network: str = ""
    os_internal_network: str = ""
    os_admin_network: str = ""
    vip: str = ""
    vip_iface: str = "eth0"
    vip_cidr: int = 24
    dns_ha: bool = False
    amp_image_tag: str = "octavia-amphora"
    amp_image_owner_id: str = ""
    amp_ssh_key_name: str = ""
    amp_ssh_pub_key: str = ""
    amp_flavor_id: str = ""
    custom_amp_flavor_id: str = ""
    create_mgmt_network: bool = True
    mgmt_network_ipv4_cidr: str = ""
    enable_amphora: bool = True
    spare_pool_size: int = 0
    amp_active_retries: int = 180
    amp_active_wait: int = 10
    amp_boot_network_list: str = ""
    amp_secgroup_list: str = ""
    loadbalancer_topology: str = "SINGLE"
    enable_anti_affinity: bool = False
    anti_affinity_policy: str = "auto"
    connection_max_retries: int = 120
    connection_retry_interval: int = 5
    active_connection_max_retries: int = 15
    active_connection_retry_interval: int = 2
    health_manager_bind_ip: str = ""
    controller_ip_port_list: str = ""
    lb_mgmt_issuing_cacert: str = ""
    lb_mgmt_issuing_ca_private_key: str = ""
    lb_mgmt_issuing_ca_key_passphrase: str = ""
    lb_mgmt_controller_cacert: str = ""
    lb_mgmt_controller_cert: str = ""
    ssl_cert: str = ""
    ssl_key: str = ""
    ssl_ca: str = ""
    # Unset (None) in config.yaml, as the existing charm's: unset means the default rule.
    worker_multiplier: float | None = None
    haproxy_server_timeout: int | None = None
    haproxy_client_timeout: int | None = None
    haproxy_queue_timeout: int | None = None
    haproxy_connect_timeout: int | None = None
    enable_volume_based_amphora: bool = False
    volume_size: int = 16
    volume_type: str = ""
    use_policyd_override: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _PEM_OPTIONS:
                continue
            if isinstance(value, str) and _CONTROL.search(value):
                raise ValueError(
                    f"{_option(f.name)} must be a single line without control characters"
                )
            limit = _LIST_MAX if f.name in _LIST_OPTIONS else _TEXT_MAX
            if isinstance(value, str) and len(value) > limit:
                raise ValueError(f"{_option(f.name)} is longer than {limit} characters")
        self._check_monitoring()
        if not self.region.strip():
            raise ValueError("region must not be empty")
        if not self.amp_image_tag.strip():
            raise ValueError("amp-image-tag must not be empty")
        if self.amp_ssh_key_name:
            validate_keypair_name(self.amp_ssh_key_name, "amp-ssh-key-name")
        if self.amp_ssh_pub_key:
            self.public_key()
        if self.mgmt_network_ipv4_cidr:
            check_ipv4_cidr(self.mgmt_network_ipv4_cidr, "mgmt-network-ipv4-cidr")
        if self.amp_image_owner_id and not _PROJECT_ID.fullmatch(self.amp_image_owner_id):
            raise ValueError(
                f"amp-image-owner-id {shown(self.amp_image_owner_id)} is not a project id"
            )
        for name in ("amp_flavor_id", "custom_amp_flavor_id"):
            if getattr(self, name):
                check_nova_id(_option(name), getattr(self, name))
        if self.loadbalancer_topology not in TOPOLOGIES:
            raise ValueError(f"loadbalancer-topology must be one of {', '.join(TOPOLOGIES)}")
        if self.anti_affinity_policy not in ANTI_AFFINITY_POLICIES:
            raise ValueError(
                f"anti-affinity-policy must be one of {', '.join(ANTI_AFFINITY_POLICIES)}"
            )
        for name in _POSITIVE:
            if not 1 <= getattr(self, name) <= INT32_MAX:
                raise ValueError(f"{_option(name)} must be from 1 to {INT32_MAX}")
        if not 0 <= self.spare_pool_size <= INT32_MAX:
            raise ValueError(f"spare-pool-size must be from 0 to {INT32_MAX}")
        for name in ("amp_boot_network_list", "amp_secgroup_list"):
            for item in _split(getattr(self, name)):
                if not _LIST_ITEM.fullmatch(item):
                    raise ValueError(f"{_option(name)}: {shown(item)} is not an id or name")
        for name in ("os_public_hostname", "os_internal_hostname", "os_admin_hostname"):
            _host(getattr(self, name), _option(name))
        for kind in endpoints.ENDPOINT_TYPES:
            endpoints.parse_network(getattr(self, f"os_{kind}_network"), f"os-{kind}-network")
        self.vips()  # raises ValueError naming a bad address
        self._check_api_options()
        if not _IFACE.fullmatch(self.vip_iface):
            raise ValueError(f"vip_iface {shown(self.vip_iface)} is not a network device name")
        if not 1 <= self.vip_cidr <= 128:
            raise ValueError("vip_cidr must be a prefix length from 1 to 128")
        if self.health_manager_bind_ip:
            _ip(self.health_manager_bind_ip, "health-manager-bind-ip")
        for item in _split(self.controller_ip_port_list):
            host, sep, port = item.rpartition(":")
            if not sep or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"controller-ip-port-list: {shown(item)} is not <ip>:<port>")
            # Octavia splits at the last colon and uses the rest as is: no brackets.
            _ip(host, "controller-ip-port-list")
        self.tls()  # decodes, raising ValueError on bad material
        self.api_tls()

    def _check_api_options(self) -> None:
        multiplier = self.worker_multiplier
        if multiplier is not None and not 0 <= multiplier <= workers.MAX_MULTIPLIER:
            # NaN fails both comparisons, so it lands here too.
            raise ValueError(f"worker-multiplier must be from 0 to {workers.MAX_MULTIPLIER}")
        for name in _HAPROXY_TIMEOUTS:
            value = getattr(self, name)
            if value is not None and not 0 <= value <= INT32_MAX:
                raise ValueError(f"{_option(name)} must be from 0 to {INT32_MAX} (ms)")
        if not 1 <= self.volume_size <= INT32_MAX:
            raise ValueError(f"volume-size must be from 1 to {INT32_MAX} (GB)")
        if self.volume_type and not self.volume_type.strip():
            raise ValueError("volume-type must not be blank")
        if self.volume_type != self.volume_type.strip():
            raise ValueError("volume-type must not start or end with a space")

    def api_processes(self, cpus: int) -> int:
        """The octavia-api mod_wsgi processes on a machine of ``cpus`` CPUs."""
        return workers.api_processes(self.worker_multiplier, cpus)

    def api_tls(self) -> api_tls.OptionsTLS:
        """The API's certificate and CA from ssl_cert, ssl_key and ssl_ca, checked."""
        return api_tls.from_options(self.ssl_cert, self.ssl_key, self.ssl_ca)

    def _check_monitoring(self) -> None:
        # Both go into Nagios object names and file names.
        if not _NAGIOS_NAME.fullmatch(self.nagios_context):
            raise ValueError(f"nagios_context {shown(self.nagios_context)} is not [A-Za-z0-9_.-]+")
        for group in _split(self.nagios_servicegroups):
            if not _NAGIOS_NAME.fullmatch(group):
                raise ValueError(f"nagios_servicegroups: {shown(group)} is not [A-Za-z0-9_.-]+")
        if not 1 <= self.tls_crit_days <= self.tls_warn_days <= _DAYS_MAX:
            raise ValueError(
                f"tls_crit_days and tls_warn_days must be 1 <= tls_crit_days <= tls_warn_days"
                f" <= {_DAYS_MAX}"
            )

    def public_key(self) -> str:
        """The OpenSSH public-key line of amp-ssh-pub-key (base64 of it, as the existing charm
        takes it, or the line itself)."""
        value = self.amp_ssh_pub_key.strip()
        if not value.startswith(("ssh-", "ecdsa-", "sk-")):
            try:
                value = base64.b64decode(value, validate=True).decode().strip()
            except ValueError:
                raise ValueError(
                    "amp-ssh-pub-key is not base64 of an OpenSSH public key"
                ) from None
        try:
            key_material(value)
        except ValueError:
            raise ValueError("amp-ssh-pub-key is not an OpenSSH public-key line") from None
        if _CONTROL.search(value):
            raise ValueError("amp-ssh-pub-key must be a single line")
        return value

    def anti_affinity(self) -> tuple[bool, str]:
        """[nova] enable_anti_affinity and anti_affinity_policy, as the existing charm sets
        them: "disable" and SINGLE without (unless enable-anti-affinity), "auto" soft."""
        policy = self.anti_affinity_policy
        if policy == "disable":
            return False, "anti-affinity"
        chosen = "soft-anti-affinity" if policy == "auto" else policy
        wanted = self.enable_anti_affinity or self.loadbalancer_topology == "ACTIVE_STANDBY"
        return wanted, chosen

    def vips(self) -> tuple[str, ...]:
        """The ``vip`` option's addresses."""
        return endpoints.parse_vips(self.vip)

    @property
    def boot_networks(self) -> list[str]:
        return _split(self.amp_boot_network_list)

    @property
    def secgroups(self) -> list[str]:
        return _split(self.amp_secgroup_list)

    def tls(self) -> TLSMaterial:
        """The decoded lb-mgmt-* material; all or none of the certificate options are set."""
        issuing_ca = _pem(self.lb_mgmt_issuing_cacert, "lb_mgmt_issuing_cacert", "CERTIFICATE")
        issuing_key = _pem(
            self.lb_mgmt_issuing_ca_private_key, "lb_mgmt_issuing_ca_private_key", "PRIVATE KEY"
        )
        controller_ca = _pem(
            self.lb_mgmt_controller_cacert, "lb_mgmt_controller_cacert", "CERTIFICATE"
        )
        controller_cert = _pem(
            self.lb_mgmt_controller_cert, "lb_mgmt_controller_cert", "CERTIFICATE"
        )
        if controller_cert and "PRIVATE KEY-----" not in controller_cert:
            raise ValueError(
                "lb-mgmt-controller-cert must hold the certificate and its private key"
            )
        given = {
            "lb-mgmt-issuing-cacert": issuing_ca,
            "lb-mgmt-issuing-ca-private-key": issuing_key,
            "lb-mgmt-controller-cacert": controller_ca,
            "lb-mgmt-controller-cert": controller_cert,
        }
        if any(given.values()) and not all(given.values()):
            missing = ", ".join(k for k, v in given.items() if not v)
            raise pki.PKIError(f"options incomplete, missing: {missing}")
        if self.lb_mgmt_issuing_ca_key_passphrase and not issuing_key:
            raise pki.PKIError("lb-mgmt-issuing-ca-key-passphrase is set without a private key")
        material = TLSMaterial(
            issuing_ca=issuing_ca,
            issuing_ca_key=issuing_key,
            issuing_ca_passphrase=self.lb_mgmt_issuing_ca_key_passphrase,
            controller_ca=controller_ca,
            controller_cert=controller_cert,
        )
        if issuing_ca:
            pki.check(material)
        return material


# Options whose names keep their underscores, as the existing charm spells them.
_UNDERSCORED = frozenset(
    {
        "vip_iface",
        "vip_cidr",
        "nagios_context",
        "nagios_servicegroups",
        "tls_warn_days",
        "tls_crit_days",
    }
)


def _option(field_name: str) -> str:
    return field_name if field_name in _UNDERSCORED else field_name.replace("_", "-")


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _ip(value: str, option: str) -> None:
    # A scoped IPv6 address (fe80::1%eth0) is an address to Python, not to Octavia's IPOpt.
    try:
        ipaddress.ip_address(value)
        valid = "%" not in value
    except ValueError:
        valid = False
    if not valid:
        raise ValueError(f"{option}: {shown(value)} is not an IP address (without a scope)")


def _host(value: str, option: str) -> None:
    """A bare host name or IP address: the charm adds the scheme and the API's port."""
    if not value:
        return
    try:
        _ip(value, option)
    except ValueError:
        pass
    else:
        return
    # "host:8080" would publish http://host:8080:9876; a path or a user would break the URL.
    if not _DNS_NAME.fullmatch(value):
        raise ValueError(
            f"{option} must be a bare host name or address (no scheme, port or path), "
            f"not {shown(value)}"
        )


def _pem(value: str, field_name: str, kind: str) -> str:
    """Base64 of PEM (as the existing charm takes it), or PEM itself, to PEM text."""
    if not value:
        return ""
    option = _option(field_name)
    # Values are never quoted back: some are secret.
    if "-----BEGIN" in value:
        text = value
    else:
        try:
            text = base64.b64decode(value, validate=True).decode()
        except ValueError:  # binascii.Error, non-ASCII text, bytes that are not UTF-8
            raise ValueError(f"{option} is not base64-encoded PEM") from None
    if not re.search(rf"-----BEGIN [A-Z ]*{kind}-----", text):
        raise ValueError(f"{option} does not hold a PEM {kind.lower()}")
    return text.strip() + "\n"
