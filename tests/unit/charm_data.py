"""Remote relation data exactly as the providers write it (charm-keystone, mysql-router and
rabbitmq-server unit databags), and the charm's options set as an operator would."""

from __future__ import annotations

from tests.certificates import lb_mgmt_options, pem_pair

__all__ = ["pem_pair"]

KEYSTONE_PASSWORD = "ks-Secret/pa:ss"
DB_PASSWORD = "db-Secret@pass"
RABBIT_PASSWORD = "rmq-Secret+pass"

# charm-keystone's leader, in its unit databag (plain strings; "__null__" means unset).
KEYSTONE_UNIT = {
    "admin_domain_id": "a8e3f5d2c0b14f1c9d7e6b5a4c3d2e1f",
    "admin_project_id": "b1c2d3e4f5a6478899aabbccddeeff00",
    "admin_user_id": "c0ffee00c0ffee00c0ffee00c0ffee00",
    "admin_role": "Admin",
    "api_version": "3",
    "auth_host": "10.5.0.10",
    "auth_port": "35357",
    "auth_protocol": "http",
    "ca_cert": "__null__",
    "created_roles": "load-balancer_observer,load-balancer_member,load-balancer_admin",
    "egress-subnets": "10.5.0.10/32",
    "ingress-address": "10.5.0.10",
    "internal_host": "10.5.0.11",
    "internal_port": "5000",
    "internal_protocol": "http",
    "private-address": "10.5.0.10",
    "region": "RegionOne",
    "service_domain": "service_domain",
    "service_domain_id": "d00d00d00d00d00d00d00d00d00d00d0",
    "service_host": "10.5.0.10",
    "service_password": KEYSTONE_PASSWORD,
    "service_port": "5000",
    "service_protocol": "http",
    "service_tenant": "services",
    "service_tenant_id": "0086b84a8dcf44b5b425abbddbbbd8c3",
    "service_type": "load-balancer",
    "service_user_id": "e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1",
    "service_username": "octavia",
}

# mysql-router, the subordinate beside the unit.
MYSQL_ROUTER_UNIT = {
    "allowed_units": "octavia/0 octavia/1",
    "db_host": "127.0.0.1",
    "db_port": "3306",
    "password": DB_PASSWORD,
    "wait_timeout": "3600",
    "egress-subnets": "10.5.0.30/32",
    "ingress-address": "10.5.0.30",
    "private-address": "10.5.0.30",
}


def rabbit_unit(address: str) -> dict[str, str]:
    """A clustered rabbitmq-server unit's databag."""
    return {
        "clustered": "true",
        "egress-subnets": f"{address}/32",
        "hostname": address,
        "ingress-address": address,
        "password": RABBIT_PASSWORD,
        "private-address": address,
    }


def b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def tls_options(passphrase: str = "issuing-Passphrase") -> dict[str, str]:  # noqa: S107
    """The five lb-mgmt-* options, set as an operator would (tests.certificates)."""
    return lb_mgmt_options(passphrase, days=365)


# Every option set to a non-default value.
FULL_CONFIG = {
    "openstack-origin": "cloud:jammy-caracal",
    "debug": True,
    "region": "RegionTwo",
    "use-internal-endpoints": True,
    "os-public-hostname": "octavia.example.com",
    "os-internal-hostname": "octavia.internal.example.com",
    "os-admin-hostname": "octavia.admin.example.com",
    "amp-image-tag": "amphora-jammy",
    "amp-image-owner-id": "0086b84a8dcf44b5b425abbddbbbd8c3",
    "amp-ssh-key-name": "amphora-backdoor",
    "amp-flavor-id": "10",
    "amp-boot-network-list": "3e4d1c2b-aaaa-4bbb-8ccc-000000000001",
    "amp-secgroup-list": (
        "5f6e7d8c-aaaa-4bbb-8ccc-000000000002,5f6e7d8c-aaaa-4bbb-8ccc-000000000003"
    ),
    "loadbalancer-topology": "ACTIVE_STANDBY",
    "enable-anti-affinity": True,
    "anti-affinity-policy": "soft-anti-affinity",
    "connection-max-retries": 300,
    "connection-retry-interval": 2,
    "active-connection-max-retries": 30,
    "active-connection-retry-interval": 3,
    "amp-active-retries": 240,
    "amp-active-wait": 15,
    "spare-pool-size": 2,
    "create-mgmt-network": False,
    "mgmt-network-ipv4-cidr": "172.31.0.0/22",
    "enable-amphora": True,
    "health-manager-bind-ip": "fc00:8c8e:8682:b866::1",
    "controller-ip-port-list": "fc00:8c8e:8682:b866::1:5555,fc00:8c8e:8682:b866::2:5555",
}


def full_render_input(with_tls: bool = True, passphrase: str = "issuing-Passphrase"):  # noqa: S107
    """A RenderInput from every relation (TLS towards MySQL and RabbitMQ) and every option."""
    from charmed_octavia.unit import relations
    from charmed_octavia.unit.config import CharmConfig
    from charmed_octavia.unit.render import RenderInput

    ca, _ = pem_pair("service-ca")
    options = {**FULL_CONFIG, **(tls_options(passphrase) if with_tls else {})}
    config = CharmConfig(**{k.replace("-", "_"): v for k, v in options.items()})
    identity = relations.parse_identity({"keystone/0": KEYSTONE_UNIT})
    database = relations.parse_database(
        {"mysql-router/0": {**MYSQL_ROUTER_UNIT, "ssl_ca": b64(ca)}}, "octavia/0"
    )
    amqp = relations.parse_amqp(
        {
            f"rabbitmq-server/{i}": {
                **rabbit_unit(f"10.5.0.2{i}"),
                "ssl_port": "5671",
                "ssl_ca": b64(ca),
            }
            for i in range(3)
        }
    )
    assert identity and database and amqp
    from charmed_octavia.unit.api_tls import ApiCertificate

    issued = vault_issued("octavia.example.com")
    return RenderInput(
        config=config,
        identity=identity,
        database=database,
        amqp=amqp,
        heartbeat_key="h" * 32,
        server_certs_key_passphrase="p" * 32,
        unit_address="10.5.0.5",
        tls=config.tls(),
        # configure-resources found the keypair amp-ssh-key-name names.
        shared={"amp-ssh-keypair": "amphora-backdoor"},
        api_certificate=ApiCertificate(
            issued["cert"], issued["key"], issued["ca"], issued["chain"]
        ),
        trusts_installed_ca=True,
    )


# -- Vault on the certificates relation (tls-certificates) -----------------------------------


def vault_issued(common_name: str) -> dict[str, str]:
    """What Vault's PKI issues: its CA (charm-pki-local's intermediate), the chain up to the
    root, and a server certificate with its key for ``common_name``."""
    from tests.certificates import signed_by

    root = signed_by(None, "Vault Root Certificate Authority", ca=True, days=30)
    intermediate = signed_by(root, "Vault Intermediate Certificate Authority", ca=True, days=30)
    server = signed_by(intermediate, common_name, days=30)
    return {
        "ca": intermediate.cert_pem,
        "chain": root.cert_pem,
        "cert": server.cert_pem,
        "key": server.key_pem(traditional=True),
    }


def vault_unit(unit_name: str, common_name: str, issued: dict[str, str], *, legacy=False):
    """The vault unit's databag once it answered ``unit_name``'s request, as charm-vault
    writes it through the tls-certificates interface: ``ca`` and ``chain`` raw,
    ``<unit>.processed_requests`` JSON for cert_requests (charms.reactive's JSON view sorts
    keys), or ``<unit>.server.cert``/``.server.key`` for a top-level common_name request."""
    import json

    name = unit_name.replace("/", "_")
    data = {
        "egress-subnets": "10.5.0.40/32",
        "ingress-address": "10.5.0.40",
        "private-address": "10.5.0.40",
        "ca": issued["ca"],
        "chain": issued["chain"],
    }
    if legacy:
        data[f"{name}.server.cert"] = issued["cert"]
        data[f"{name}.server.key"] = issued["key"]
    else:
        bundle = {common_name: {"cert": issued["cert"], "key": issued["key"]}}
        data[f"{name}.processed_requests"] = json.dumps(bundle, sort_keys=True)
    return data
