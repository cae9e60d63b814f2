"""TLS bundle generation and parsing, checked with cryptography's own PKCS#12 reader."""

from __future__ import annotations

import base64
import datetime

import pytest
from charmed_octavia.cloud import tls
from charmed_octavia.cloud.outcomes import InvalidParameter
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.certificates import self_signed


def test_generated_bundle_holds_key_server_cert_and_ca():
    # Arrange
    now = datetime.datetime(2026, 2, 2, 22, 0, tzinfo=datetime.timezone.utc)

    # Act
    bundle = tls.generate_bundle("xxlarge.devstack", days=30, now=now)

    # Assert: unencrypted (no password), like `openssl pkcs12 -export -passout pass:`.
    key, cert, cas = pkcs12.load_key_and_certificates(bundle.pkcs12, None)
    assert key is not None and cert is not None
    assert len(cas) == 1
    ca = cas[0]
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == "xxlarge.devstack"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["xxlarge.devstack"]
    assert cert.issuer == ca.subject
    ca.public_key().verify(  # type: ignore[union-attr]
        cert.signature,
        cert.tbs_certificate_bytes,
        *_verify_args(cert),
    )
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert cert.not_valid_after_utc == now + datetime.timedelta(days=30)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]
    assert bundle.generated and bundle.chain_length == 1
    assert bundle.subject == "CN=xxlarge.devstack"


def _verify_args(cert):
    from cryptography.hazmat.primitives.asymmetric import padding

    return (padding.PKCS1v15(), cert.signature_hash_algorithm)


def test_bundle_repr_and_dict_never_show_the_key_material():
    # Arrange
    bundle = tls.generate_bundle("a.example")

    # Act
    shown = repr(bundle) + str(bundle.to_dict())

    # Assert
    assert "pkcs12" not in shown
    assert base64.b64encode(bundle.pkcs12).decode()[:40] not in shown


def test_operator_bundle_is_decoded_and_described():
    # Arrange: an EC key, as an operator might bring, built independently of tls.py.
    made = self_signed("op.example", serial=1)
    data = pkcs12.serialize_key_and_certificates(
        b"op", made.key, made.cert, None, serialization.NoEncryption()
    )
    text = base64.encodebytes(data).decode()  # with newlines, as `base64 < file` prints

    # Act
    bundle = tls.decode_bundle(text)

    # Assert
    assert bundle.pkcs12 == data
    assert bundle.subject == "CN=op.example"
    assert bundle.chain_length == 0
    assert not bundle.generated


def test_password_protected_bundle_is_refused():
    # Arrange
    plain = tls.generate_bundle("p.example").pkcs12
    key, cert, cas = pkcs12.load_key_and_certificates(plain, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    protected = pkcs12.serialize_key_and_certificates(
        b"p", key, cert, cas, serialization.BestAvailableEncryption(b"secret")
    )

    # Act / Assert
    with pytest.raises(InvalidParameter, match="unencrypted PKCS#12"):
        tls.parse_bundle(protected)


def test_bundle_without_private_key_is_refused():
    # Arrange
    _, cert, _ = pkcs12.load_key_and_certificates(tls.generate_bundle("k.example").pkcs12, None)
    no_key = pkcs12.serialize_key_and_certificates(
        b"n", None, cert, None, serialization.NoEncryption()
    )

    # Act / Assert
    with pytest.raises(InvalidParameter, match="no private key"):
        tls.parse_bundle(no_key)


@pytest.mark.parametrize(
    ("text", "message"),
    [("not base64 !!!", "not valid base64"), ("", "empty"), ("aGVsbG8=", "PKCS#12")],
)
def test_bad_bundle_text_is_refused_with_the_reason(text, message):
    with pytest.raises(InvalidParameter, match=message):
        tls.decode_bundle(text)


@pytest.mark.parametrize("name", ["", "-bad.example", "bad_name", "a b", "x" * 64 + ".com"])
def test_invalid_common_names_are_refused(name):
    with pytest.raises(InvalidParameter, match="common-name"):
        tls.generate_bundle(name)


@pytest.mark.parametrize("days", [0, -1, tls.MAX_DAYS + 1, True])
def test_invalid_days_are_refused(days):
    with pytest.raises(InvalidParameter, match="days"):
        tls.generate_bundle("ok.example", days=days)


def _dns_name(length: int) -> str:
    """A valid DNS name of exactly ``length`` characters (labels of 40 or 41)."""
    text = ".".join(["a" * 40] * 10)[:length]
    return text[:-1] + "a" if text.endswith(".") else text


def test_the_longest_common_name_x509_takes_makes_a_bundle():
    # Arrange: 61 characters, the generated CA's CN is then 64 (RFC 5280's ub-common-name).
    name = _dns_name(tls.CN_MAX - len(tls.CA_SUFFIX))
    assert len(name) == 61

    # Act
    bundle = tls.generate_bundle(name)

    # Assert
    assert f"CN={name}" in bundle.subject
    assert f"CN={name}{tls.CA_SUFFIX}" in bundle.issuer


@pytest.mark.parametrize("length", [62, 64, 65, 200])
def test_a_common_name_x509_cannot_hold_is_refused_before_anything(length):
    # Before the fix a 65-character name got past validation and cryptography raised.
    name = _dns_name(length)
    with pytest.raises(InvalidParameter, match="longer than 61 characters"):
        tls.validate_common_name(name)


@pytest.mark.parametrize("name", ["ok.example\n", "ok.example\r\n", "\nok.example"])
def test_a_common_name_with_a_newline_is_refused(name):
    # `$` in a pattern matches before a trailing newline; full matches do not.
    with pytest.raises(InvalidParameter, match="common-name"):
        tls.validate_common_name(name)
