"""The charm's options as one typed value: refusals name the option, never a secret."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from charmed_octavia.unit.config import CharmConfig

from tests.unit.charm_data import b64, pem_pair, tls_options

REPO = Path(__file__).resolve().parents[3]


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

    options = yaml.safe_load((REPO / "config.yaml").read_text())["options"]

    # Act
    fields = {f.name: f.default for f in dataclasses.fields(CharmConfig)}

    # Assert
    assert {k.replace("-", "_"): v["default"] for k, v in options.items()} == fields
