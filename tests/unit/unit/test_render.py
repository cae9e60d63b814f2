"""Rendering octavia.conf and the apache site from the config and the relations' data."""

from __future__ import annotations

import configparser
import dataclasses
from pathlib import Path

from charmed_octavia.unit import machine, render
from charmed_octavia.unit.config import CharmConfig

from tests.unit.charm_data import full_render_input

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"


def parse(text: bytes) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=True, default_section="__none__")
    parser.read_string(text.decode())
    return parser


def conf_of(inp) -> configparser.RawConfigParser:
    file = render.desired_files(inp, TEMPLATES)[machine.OCTAVIA_CONF]
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
    assert cw["client_ca"] == machine.CONTROLLER_CA
    certs = conf["certificates"]
    assert (certs["cert_manager"], certs["region_name"], certs["endpoint_type"]) == (
        "barbican_cert_manager",
        "RegionTwo",
        "internalURL",
    )
    assert conf["haproxy_amphora"]["connection_max_retries"] == "300"
    assert conf["haproxy_amphora"]["active_connection_max_retries"] == "30"
    assert conf["haproxy_amphora"]["active_connection_retry_interval"] == "3"
    assert (cw["amp_active_retries"], cw["amp_active_wait_sec"]) == ("240", "15")
    assert conf["haproxy_amphora"]["server_ca"] == machine.ISSUING_CA
    hm = conf["health_manager"]
    assert hm["bind_ip"] == "fc00:8c8e:8682:b866::1"
    assert (
        hm["controller_ip_port_list"] == "fc00:8c8e:8682:b866::1:5555,fc00:8c8e:8682:b866::2:5555"
    )
    assert hm["heartbeat_key"] == "h" * 32
    assert conf["nova"]["enable_anti_affinity"] == "true"
    assert conf["nova"]["anti_affinity_policy"] == "soft-anti-affinity"
    assert conf["neutron"]["valid_interfaces"] == "internal"
    assert conf["oslo_messaging_rabbit"]["ssl_ca_file"] == machine.AMQP_CA
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
        if path == machine.APACHE_SITE:
            assert (file.mode, file.owner, file.group) == (0o644, "root", "root")
        elif path == machine.API_CERT:
            # Public; nagios' expiry check reads it too.
            assert (file.mode, file.owner, file.group) == (0o644, "root", "root")
        elif path == machine.API_KEY:
            # apache's master process reads it as root.
            assert (file.mode, file.owner, file.group) == (0o640, "root", "root")
        elif path in machine.TLS_FILES:
            # Read by the services, written by the charm alone.
            assert (file.mode, file.owner, file.group) == (0o440, "root", "octavia")
        else:
            assert (file.mode, file.owner, file.group) == (0o640, "root", "octavia")
    key = files[machine.ISSUING_CA_KEY]
    assert key is not None and key.content.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")


def test_without_tls_the_optional_files_must_not_exist():
    # Act
    files = render.desired_files(full_render_input(with_tls=False), TEMPLATES)

    # Assert
    assert files[machine.ISSUING_CA] is None and files[machine.CONTROLLER_CERT] is None
    assert files[machine.DB_CA] is not None


def test_apache_site_serves_the_wsgi_script_on_9876():
    # Act
    site = render.desired_files(full_render_input(), TEMPLATES)[machine.APACHE_SITE]

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


# -- values as oslo.config reads them (tests/conformance reads them with Octavia's own) ----------


def test_oslo_value_doubles_dollars_and_quotes_what_oslo_would_strip():
    assert render.oslo_value("pa$word") == "pa$$word"
    assert render.oslo_value(" padded ") == '" padded "'
    assert render.oslo_value("'quoted'") == "\"'quoted'\""
    assert render.oslo_value('"x"') == '""x""'
    assert render.oslo_value("plain") == "plain"
    assert render.oslo_value(300) == "300"


def test_oslo_value_refuses_a_control_character():
    import pytest

    with pytest.raises(ValueError, match="control character"):
        render.oslo_value("line\nnext = 1")


def test_rendered_password_with_dollars_is_escaped_in_the_file():
    # Arrange
    inp = full_render_input()
    inp = dataclasses.replace(inp, identity=dataclasses.replace(inp.identity, password="a$b c"))

    # Act
    conf = conf_of(inp)

    # Assert
    assert conf["keystone_authtoken"]["password"] == "a$$b c"
    assert conf["service_auth"]["password"] == "a$$b c"


def test_apache_site_with_a_certificate_serves_tls_from_the_ssl_dir():
    # Arrange
    inp = full_render_input()
    assert inp.api_certificate is not None

    # Act
    files = render.desired_files(inp, TEMPLATES)

    # Assert
    site = files[machine.APACHE_SITE]
    assert site is not None
    text = site.content.decode()
    assert "    SSLEngine on\n" in text
    assert f"SSLCertificateFile {machine.API_CERT}\n" in text
    assert f"SSLCertificateKeyFile {machine.API_KEY}\n" in text
    served = files[machine.API_CERT]
    assert served is not None
    assert served.content == (inp.api_certificate.cert + inp.api_certificate.chain).encode()


def test_without_a_certificate_the_site_is_plain_http_and_no_key_is_kept():
    # Arrange
    inp = dataclasses.replace(full_render_input(), api_certificate=None)

    # Act
    files = render.desired_files(inp, TEMPLATES)

    # Assert
    site = files[machine.APACHE_SITE]
    assert site is not None and b"SSL" not in site.content
    assert files[machine.API_CERT] is None and files[machine.API_KEY] is None


# Octavia's option for the CA of each client it makes (octavia/common/config.py; keystoneauth's
# session options in [keystone_authtoken], [service_auth] and [neutron]).
CA_OPTIONS = {
    "keystone_authtoken": "cafile",
    "service_auth": "cafile",
    "neutron": "cafile",
    "nova": "ca_certificates_file",
    "glance": "ca_certificates_file",
    "cinder": "ca_certificates_file",
    "certificates": "ca_certificates_file",
}


def test_every_client_verifies_with_the_system_bundle_when_the_charm_installed_a_ca():
    # Act
    conf = conf_of(full_render_input())

    # Assert
    for section, option in CA_OPTIONS.items():
        assert conf[section][option] == machine.SYSTEM_CA_BUNDLE, section


def test_no_cafile_when_the_charm_installed_no_ca():
    # Act
    conf = conf_of(dataclasses.replace(full_render_input(), trusts_installed_ca=False))

    # Assert
    for section, option in CA_OPTIONS.items():
        assert option not in conf[section], section


def test_the_api_processes_follow_the_cpus_and_worker_multiplier():
    # Arrange
    inp = full_render_input()
    cases = {
        (None, 1): "processes=2",
        (None, 8): "processes=4",
        (0.5, 8): "processes=4",
        (2.0, 8): "processes=16",
        (0.1, 2): "processes=1",
    }

    # Act
    found = {}
    for multiplier, cpus in cases:
        config = dataclasses.replace(inp.config, worker_multiplier=multiplier)
        site = render.desired_files(dataclasses.replace(inp, config=config, cpus=cpus), TEMPLATES)[
            machine.APACHE_SITE
        ]
        assert site is not None
        found[multiplier, cpus] = site.content.decode().split("octavia-api ", 2)[1].split()[0]

    # Assert
    assert found == cases


def test_haproxy_timeouts_render_nothing():
    # Arrange
    inp = full_render_input()
    timed = dataclasses.replace(
        inp,
        config=dataclasses.replace(
            inp.config,
            haproxy_server_timeout=1,
            haproxy_client_timeout=2,
            haproxy_queue_timeout=3,
            haproxy_connect_timeout=4,
        ),
    )

    # Act
    before = render.desired_files(inp, TEMPLATES)
    after = render.desired_files(timed, TEMPLATES)

    # Assert
    assert after == before
