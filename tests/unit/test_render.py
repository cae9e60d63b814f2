"""Rendering octavia.conf and the apache site, and validating the options they come from."""

from __future__ import annotations

import configparser
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from charmed_octavia import render
from charmed_octavia.config import CharmConfig

from tests.unit.charm_data import b64, full_render_input, pem_pair, tls_options

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def parse(text: bytes) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=True, default_section="__none__")
    parser.read_string(text.decode())
    return parser


def conf_of(inp) -> configparser.RawConfigParser:
    file = render.desired_files(inp, TEMPLATES)[render.OCTAVIA_CONF]
    assert file is not None
    return parse(file.content)


def test_full_render_has_every_value_in_its_section():
    # Arrange
    inp = full_render_input()

    # Act
    conf = conf_of(inp)

    # Assert
    assert conf["DEFAULT"]["debug"] == "true"
    assert conf["DEFAULT"]["transport_url"].count("@10.5.0.2") == 3
    assert conf["database"]["connection"].endswith("?ssl_ca=/etc/octavia/database-ca.pem")
    assert conf["keystone_authtoken"]["auth_url"] == "http://10.5.0.11:5000"
    assert conf["service_auth"]["project_name"] == "services"
    cw = conf["controller_worker"]
    assert (cw["amp_image_tag"], cw["amp_ssh_key_name"], cw["amp_flavor_id"]) == (
        "amphora-jammy",
        "amphora-backdoor",
        "10",
    )
    assert cw["amp_boot_network_list"] == "3e4d1c2b-aaaa-4bbb-8ccc-000000000001"
    assert cw["amp_secgroup_list"].count(",") == 1
    assert cw["loadbalancer_topology"] == "ACTIVE_STANDBY"
    assert cw["client_ca"] == render.CONTROLLER_CA
    certs = conf["certificates"]
    assert (certs["cert_manager"], certs["region_name"], certs["endpoint_type"]) == (
        "barbican_cert_manager",
        "RegionTwo",
        "internalURL",
    )
    assert conf["haproxy_amphora"]["connection_max_retries"] == "300"
    assert conf["haproxy_amphora"]["server_ca"] == render.ISSUING_CA
    hm = conf["health_manager"]
    assert hm["bind_ip"] == "fc00:8c8e:8682:b866::1"
    assert (
        hm["controller_ip_port_list"] == "fc00:8c8e:8682:b866::1:5555,fc00:8c8e:8682:b866::2:5555"
    )
    assert hm["heartbeat_key"] == "h" * 32
    assert conf["nova"]["enable_anti_affinity"] == "true"
    assert conf["nova"]["anti_affinity_policy"] == "soft-anti-affinity"
    assert conf["neutron"]["valid_interfaces"] == "internal"
    assert conf["oslo_messaging_rabbit"]["ssl_ca_file"] == render.AMQP_CA
    assert conf["oslo_middleware"]["enable_proxy_headers_parsing"] == "true"


def test_defaults_leave_optional_values_out_and_use_the_unit_address():
    # Arrange
    inp = dataclasses.replace(full_render_input(with_tls=False), config=CharmConfig())

    # Act
    conf = conf_of(inp)

    # Assert
    for option in ("amp_flavor_id", "amp_boot_network_list", "amp_secgroup_list", "client_ca"):
        assert option not in conf["controller_worker"]
    assert "ca_private_key" not in conf["certificates"]
    assert conf["health_manager"]["controller_ip_port_list"] == "10.5.0.5:5555"
    assert conf["certificates"]["endpoint_type"] == "publicURL"
    assert conf["keystone_authtoken"]["auth_url"] == "http://10.5.0.10:35357"


def test_files_and_their_ownership():
    # Act
    files = render.desired_files(full_render_input(), TEMPLATES)

    # Assert
    assert set(files) == set(render.managed_paths())
    for path, file in files.items():
        assert file is not None
        if path == render.APACHE_SITE:
            assert (file.mode, file.owner, file.group) == (0o644, "root", "root")
        else:
            assert (file.mode, file.owner, file.group) == (0o640, "root", "octavia")
    key = files[render.ISSUING_CA_KEY]
    assert key is not None and key.content.startswith(b"-----BEGIN PRIVATE KEY-----")


def test_without_tls_the_optional_files_must_not_exist():
    # Act
    files = render.desired_files(full_render_input(with_tls=False), TEMPLATES)

    # Assert
    assert files[render.ISSUING_CA] is None and files[render.CONTROLLER_CERT] is None
    assert files[render.DB_CA] is not None


def test_apache_site_serves_the_wsgi_script_on_9876():
    # Act
    site = render.desired_files(full_render_input(), TEMPLATES)[render.APACHE_SITE]

    # Assert
    assert site is not None
    text = site.content.decode()
    assert "Listen 9876\n" in text and "<VirtualHost *:9876>" in text
    assert "WSGIScriptAlias / /usr/bin/octavia-wsgi" in text
    assert "user=octavia group=octavia" in text


def test_rendering_is_deterministic():
    # Arrange
    inp = full_render_input()

    # Act
    first = render.desired_files(inp, TEMPLATES)
    second = render.desired_files(inp, TEMPLATES)

    # Assert
    assert first == second


def test_readers_restart_only_what_reads_a_file():
    # Act / Assert
    from charmed_octavia.workload import changed_services

    assert changed_services([render.APACHE_SITE], render.READERS) == ["apache2"]
    assert changed_services([render.ISSUING_CA_KEY], render.READERS) == list(
        render.CONTROLLER_SERVICES
    )
    assert changed_services([render.OCTAVIA_CONF], render.READERS) == list(render.SERVICES)
    assert changed_services([], render.READERS) == []


# -- option validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"loadbalancer_topology": "HA"}, "loadbalancer-topology must be one of"),
        ({"anti_affinity_policy": "affinity"}, "anti-affinity-policy must be one of"),
        ({"connection_max_retries": 0}, "connection-max-retries must be at least 1"),
        ({"connection_retry_interval": 0}, "connection-retry-interval must be at least 1"),
        ({"region": " "}, "region must not be empty"),
        ({"amp_image_tag": ""}, "amp-image-tag must not be empty"),
        ({"amp_ssh_key_name": "key\n[DEFAULT]"}, "amp-ssh-key-name must be a single line"),
        ({"amp_boot_network_list": "net 1"}, "amp-boot-network-list: 'net 1' is not an id"),
        ({"os_public_hostname": "http://x"}, "os-public-hostname must be a bare host name"),
        ({"health_manager_bind_ip": "eth0"}, "health-manager-bind-ip: 'eth0' is not an IP"),
        ({"controller_ip_port_list": "10.0.0.1"}, "'10.0.0.1' is not <ip>:<port>"),
        ({"controller_ip_port_list": "[fd00::1]:5555"}, "is not an IP address"),
        ({"lb_mgmt_issuing_cacert": "%%%"}, "lb-mgmt-issuing-cacert is not base64-encoded PEM"),
        ({"lb_mgmt_controller_cacert": b64("hello")}, "does not hold a PEM certificate"),
        ({"lb_mgmt_issuing_ca_key_passphrase": "x"}, "passphrase is set without a private key"),
    ],
)
def test_invalid_options_are_refused_with_the_option_name(options, message):
    # Act
    with pytest.raises(ValueError) as err:
        CharmConfig(**options)

    # Assert
    assert message in str(err.value)


def test_tls_options_must_come_together():
    # Arrange
    options = tls_options()
    del options["lb-mgmt-controller-cert"]
    kwargs: dict[str, Any] = {k.replace("-", "_"): v for k, v in options.items()}

    # Act
    with pytest.raises(ValueError) as err:
        CharmConfig(**kwargs)

    # Assert
    assert str(err.value) == "amphora TLS options are incomplete, missing: lb-mgmt-controller-cert"


def test_controller_cert_needs_its_key():
    # Arrange
    options: dict[str, Any] = {k.replace("-", "_"): v for k, v in tls_options().items()}
    cert, _ = pem_pair("controller")
    options["lb_mgmt_controller_cert"] = b64(cert)

    # Act
    with pytest.raises(ValueError) as err:
        CharmConfig(**options)

    # Assert
    assert "must hold the certificate and its private key" in str(err.value)


def test_secret_values_never_appear_in_errors():
    # Arrange
    secret = "c2VjcmV0LWtleS1tYXRlcmlhbA=="  # base64, but not PEM

    # Act
    with pytest.raises(ValueError) as err:
        CharmConfig(lb_mgmt_issuing_ca_private_key=secret)

    # Assert
    assert secret not in str(err.value) and "secret-key" not in str(err.value)


def test_config_yaml_and_the_config_class_agree():
    # Arrange
    import yaml

    options = yaml.safe_load((TEMPLATES.parent / "config.yaml").read_text())["options"]

    # Act
    fields = {f.name: f.default for f in dataclasses.fields(CharmConfig)}

    # Assert
    assert {k.replace("-", "_"): v["default"] for k, v in options.items()} == fields
