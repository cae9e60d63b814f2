"""The API's TLS as data: the certificate request, Vault's answer, the ssl_* options, the
CA files of the trust store."""

from __future__ import annotations

import json

import pytest
from charmed_octavia.unit import api_tls, machine
from charmed_octavia.unit.config import CharmConfig

from tests.certificates import pem_pair
from tests.unit.charm_data import b64, vault_issued, vault_unit

CN = "octavia.example.com"


@pytest.fixture(scope="module")
def issued() -> dict[str, str]:
    return vault_issued(CN)


def test_request_is_cert_utils_form_keyed_by_the_first_name_with_every_san():
    # Act
    request = api_tls.certificate_request(
        "octavia/0", ["10.5.0.5", "10.6.0.5", "10.5.0.5"], [CN, "octavia.internal"]
    )

    # Assert
    assert request["unit_name"] == "octavia_0"
    assert json.loads(request["cert_requests"]) == {
        CN: {"sans": sorted([CN, "octavia.internal", "10.5.0.5", "10.6.0.5"])}
    }


def test_request_without_names_uses_the_first_address_as_common_name():
    # Act
    request = api_tls.certificate_request("octavia/1", ["10.5.0.6", "10.6.0.6"])

    # Assert
    assert list(json.loads(request["cert_requests"])) == ["10.5.0.6"]


def test_request_with_nothing_to_name_is_refused():
    with pytest.raises(ValueError, match="no address or host name"):
        api_tls.certificate_request("octavia/0", ["", ""])


def test_processed_requests_answer_is_the_certificate_for_the_requested_name(issued):
    # Arrange
    sent = api_tls.certificate_request("octavia/0", ["10.5.0.5"], [CN])
    units = {"vault/0": vault_unit("octavia/0", CN, issued)}

    # Act
    certificate = api_tls.answer(units, "octavia/0", sent)

    # Assert
    assert certificate is not None
    assert certificate.cert == issued["cert"] and certificate.key == issued["key"]
    assert (certificate.ca, certificate.chain) == (issued["ca"], issued["chain"])
    assert certificate.served == issued["cert"] + issued["chain"]
    assert issued["key"] not in repr(certificate)


def test_legacy_server_cert_answer_to_a_common_name_request(issued):
    # Arrange: the databag the reactive charm left (its first request is top-level).
    sent = {"common_name": CN, "sans": json.dumps(["10.5.0.5"]), "unit_name": "octavia_0"}
    units = {"vault/0": vault_unit("octavia/0", CN, issued, legacy=True)}

    # Act
    certificate = api_tls.answer(units, "octavia/0", sent)

    # Assert
    assert certificate is not None and certificate.key == issued["key"]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"egress-subnets": "10.5.0.40/32", "ingress-address": "10.5.0.40"},
        {"ca": "", "octavia_0.processed_requests": "{}"},
    ],
)
def test_no_answer_yet(data):
    # Arrange
    sent = api_tls.certificate_request("octavia/0", ["10.5.0.5"], [CN])

    # Act / Assert
    assert api_tls.answer({"vault/0": data}, "octavia/0", sent) is None


def test_answer_for_another_name_is_not_taken(issued):
    # Arrange: the hostname changed; Vault has not answered the new request yet.
    sent = api_tls.certificate_request("octavia/0", ["10.5.0.5"], ["new.example.com"])
    units = {"vault/0": vault_unit("octavia/0", CN, issued)}

    # Act / Assert
    assert api_tls.answer(units, "octavia/0", sent) is None


def test_answer_with_a_key_of_another_certificate_is_an_error(issued):
    # Arrange
    other = vault_issued("other")
    sent = api_tls.certificate_request("octavia/0", ["10.5.0.5"], [CN])
    units = {"vault/0": vault_unit("octavia/0", CN, {**issued, "key": other["key"]})}

    # Act / Assert
    with pytest.raises(api_tls.CertificateError, match="does not match") as raised:
        api_tls.answer(units, "octavia/0", sent)
    assert "PRIVATE KEY" not in str(raised.value)


def test_options_certificate_chain_and_ca(issued):
    # Act
    found = api_tls.from_options(
        b64(issued["cert"] + issued["chain"]), b64(issued["key"]), b64(issued["ca"])
    )

    # Assert
    assert found.certificate is not None
    assert found.certificate.served == issued["cert"] + issued["chain"]
    assert found.ca == issued["ca"]


def test_ssl_ca_alone_is_only_trusted(issued):
    # Act
    found = api_tls.from_options("", "", b64(issued["ca"]))

    # Assert
    assert found.certificate is None and found.ca == issued["ca"]


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"ssl_cert": "cert"}, "ssl_cert and ssl_key must be set together"),
        ({"ssl_cert": "!!", "ssl_key": "!!"}, "ssl_cert is not base64 of PEM"),
        ({"ssl_ca": b64("not a certificate")}, "ssl_ca: no PEM certificate"),
        ("mismatch", "the private key does not match the certificate"),
    ],
)
def test_invalid_options_are_refused_naming_the_option(
    issued, options: dict[str, str] | str, reason
):
    # Arrange
    if isinstance(options, str):
        options = {"ssl_cert": b64(issued["cert"]), "ssl_key": b64(pem_pair("x")[1])}

    # Act / Assert
    with pytest.raises(ValueError, match=reason):
        CharmConfig(
            ssl_cert=options.get("ssl_cert", ""),
            ssl_key=options.get("ssl_key", ""),
            ssl_ca=options.get("ssl_ca", ""),
        )


def test_keystone_ca_cert_is_base64_and_null_means_none(issued):
    # Act / Assert
    assert api_tls.keystone_ca({"keystone/0": {"ca_cert": b64(issued["ca"])}}) == issued["ca"]
    assert api_tls.keystone_ca({"keystone/0": {"ca_cert": "__null__"}}) == ""


def test_files_are_root_only_and_trust_files_come_and_go(issued):
    # Arrange
    certificate = api_tls.ApiCertificate(issued["cert"], issued["key"], issued["ca"])

    # Act
    files = api_tls.api_files(certificate)
    trust = api_tls.trust_files({"certificates": issued["ca"]})

    # Assert
    for path, mode in ((machine.API_CERT, 0o644), (machine.API_KEY, 0o640)):
        file = files[path]
        assert file is not None and (file.mode, file.owner, file.group) == (mode, "root", "root")
    assert api_tls.api_files(None) == {machine.API_CERT: None, machine.API_KEY: None}
    ca_file = trust[f"{machine.CA_STORE_DIR}/octavia-certificates-ca.crt"]
    assert ca_file is not None and ca_file.content == issued["ca"].encode()
    assert trust[f"{machine.CA_STORE_DIR}/octavia-keystone-ca.crt"] is None
    with pytest.raises(ValueError, match="unknown CA sources"):
        api_tls.trust_files({"elsewhere": issued["ca"]})
