"""The charm's options as one typed value: refusals name the option, never a secret."""

from __future__ import annotations

import dataclasses
import re
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
        ({"connection_max_retries": 0}, "connection-max-retries must be from 1 to"),
        ({"connection_retry_interval": 0}, "connection-retry-interval must be from 1 to"),
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
        ({"worker_multiplier": -0.5}, "worker-multiplier must be from 0 to 64"),
        ({"worker_multiplier": float("nan")}, "worker-multiplier must be from 0 to 64"),
        ({"worker_multiplier": 1e300}, "worker-multiplier must be from 0 to 64"),
        ({"haproxy_server_timeout": -1}, "haproxy-server-timeout must be from 0 to"),
        ({"haproxy_connect_timeout": 2**40}, "haproxy-connect-timeout must be from 0 to"),
        ({"os_internal_network": "10.5.0.0"}, "os-internal-network: '10.5.0.0' is not a network"),
        ({"os_admin_network": "10.5.0.0/40"}, "os-admin-network: '10.5.0.0/40' is not a network"),
        ({"volume_size": 0}, "volume-size must be from 1 to"),
        ({"volume_type": "  "}, "volume-type must not be blank"),
        ({"volume_type": " ssd"}, "volume-type must not start or end with a space"),
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
    assert str(err.value) == "options incomplete, missing: lb-mgmt-controller-cert"


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

    # Assert: an option without a default (unset, as the existing charm's) is None here.
    assert {k.replace("-", "_"): v.get("default") for k, v in options.items()} == fields


def _pem(text: str) -> str:
    return b64(text)


def _garbage_in_armour() -> str:
    return "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"


def _broken(kind: str) -> dict[str, Any]:
    """lb-mgmt options of one PKI with one part broken as ``kind`` says."""
    from tests.certificates import amphora_pki, self_signed, signed_by

    pki = amphora_pki()
    other = self_signed("other", key_type="rsa", ca=True)
    options = {k.replace("-", "_"): v for k, v in tls_options().items()}
    passphrase = options["lb_mgmt_issuing_ca_key_passphrase"]
    if kind == "garbage":
        options["lb_mgmt_issuing_cacert"] = _pem(_garbage_in_armour())
    elif kind == "ca-key-mismatch":
        options["lb_mgmt_issuing_cacert"] = _pem(other.cert_pem)
    elif kind == "not-a-ca":
        options["lb_mgmt_issuing_cacert"] = _pem(signed_by(other, "leaf", key_type="rsa").cert_pem)
    elif kind == "wrong-passphrase":
        options["lb_mgmt_issuing_ca_key_passphrase"] = "not-" + passphrase
    elif kind == "unencrypted-with-passphrase":
        options["lb_mgmt_issuing_cacert"] = _pem(pki.issuing_ca.cert_pem)
        options["lb_mgmt_issuing_ca_private_key"] = _pem(pki.issuing_ca.key_pem())
    elif kind == "encrypted-without-passphrase":
        options["lb_mgmt_issuing_ca_key_passphrase"] = ""
    elif kind == "controller-key-mismatch":
        options["lb_mgmt_controller_cert"] = _pem(pki.controller.cert_pem + other.key_pem())
    elif kind == "controller-not-signed":
        own = self_signed("controller")
        options["lb_mgmt_controller_cert"] = _pem(own.cert_pem + own.key_pem())
    return options


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("garbage", "lb-mgmt-issuing-cacert does not hold a valid certificate"),
        (
            "ca-key-mismatch",
            "lb-mgmt-issuing-ca-private-key is not the key of lb-mgmt-issuing-cacert",
        ),
        ("not-a-ca", "lb-mgmt-issuing-cacert is not a CA certificate"),
        ("wrong-passphrase", "lb-mgmt-issuing-ca-key-passphrase does not decrypt it"),
        (
            "unencrypted-with-passphrase",
            "passphrase is set but lb-mgmt-issuing-ca-private-key is not encrypted",
        ),
        (
            "encrypted-without-passphrase",
            "lb-mgmt-issuing-ca-private-key is encrypted: set lb-mgmt-issuing-ca-key-passphrase",
        ),
        (
            "controller-key-mismatch",
            "the private key in lb-mgmt-controller-cert is not its certificate's",
        ),
        (
            "controller-not-signed",
            "lb-mgmt-controller-cert is not signed by lb-mgmt-controller-cacert",
        ),
    ],
)
def test_amphora_pki_that_octavia_could_not_use_is_refused_with_the_reason(kind, message):
    # Arrange
    options = _broken(kind)

    # Act
    with pytest.raises(ValueError) as err:
        CharmConfig(**options)

    # Assert: the reason names the option, never a value of it.
    assert message in str(err.value)
    assert (
        options["lb_mgmt_issuing_ca_key_passphrase"] not in str(err.value)
        or not options["lb_mgmt_issuing_ca_key_passphrase"]
    )


def test_a_whole_amphora_pki_is_accepted():
    options: dict[str, Any] = {k.replace("-", "_"): v for k, v in tls_options().items()}
    assert CharmConfig(**options).tls().issuing_ca.startswith("-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"os_public_hostname": "host:8080"}, "os-public-hostname must be a bare host name"),
        ({"os_internal_hostname": "[fd00::1]"}, "os-internal-hostname must be a bare host"),
        ({"health_manager_bind_ip": "fe80::1%eth0"}, "is not an IP address (without a scope)"),
        ({"controller_ip_port_list": "fe80::1%eth0:5555"}, "is not an IP address"),
    ],
)
def test_values_octavia_or_the_catalog_would_misread_are_refused(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        CharmConfig(**options)


def test_an_ipv6_address_is_a_bare_host():
    assert CharmConfig(os_public_hostname="fd00::1").os_public_hostname == "fd00::1"


def test_the_options_kept_for_the_existing_charms_bundles_are_taken_unset_or_in_range():
    # Act
    unset = CharmConfig()
    given = CharmConfig(
        worker_multiplier=0.25,
        haproxy_server_timeout=90000,
        haproxy_client_timeout=0,
        haproxy_queue_timeout=9000,
        haproxy_connect_timeout=9000,
        os_public_network="172.16.0.0/24",
    )

    # Assert
    assert unset.worker_multiplier is None and unset.haproxy_server_timeout is None
    assert unset.api_processes(16) == 4
    assert given.api_processes(16) == 4 and given.api_processes(32) == 8
