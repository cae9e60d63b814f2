"""The amphora PKI the leader generates when the operator sets none of the lb-mgmt-* options.

Laid out as Octavia's certificate guide recommends: two CAs (RSA 4096, 20 years), the issuing
CA signing each amphora agent's certificate with its key encrypted by a passphrase, and the
controller CA signing the controllers' client certificate (RSA 2048). The whole PKI is one
Juju secret's content (``SECRET_KEYS``); the controller CA's key is kept there, never on disk,
so that ``renew_controller`` can sign a new client certificate that every amphora, which
trusts the controller CA, keeps accepting.
"""

from __future__ import annotations

import datetime
import secrets
import string
from collections.abc import Mapping
from typing import Any

from charmed_octavia.unit.pki import TLSMaterial, private_key_blocks

CA_KEY_BITS = 4096
CONTROLLER_KEY_BITS = 2048
# The guide's "-days 7300" for the CAs and the controller certificate.
VALIDITY = datetime.timedelta(days=7300)
# Long enough for an operator to plan a rotation (or a CA change) before anything breaks.
EXPIRY_WARNING = datetime.timedelta(days=30)

ISSUING_CA = "issuing-ca"
ISSUING_CA_KEY = "issuing-ca-key"
ISSUING_CA_PASSPHRASE = "issuing-ca-passphrase"  # noqa: S105 - a secret content key
CONTROLLER_CA = "controller-ca"
CONTROLLER_CA_KEY = "controller-ca-key"
CONTROLLER_CERT = "controller-cert"
SECRET_KEYS = (
    ISSUING_CA,
    ISSUING_CA_KEY,
    ISSUING_CA_PASSPHRASE,
    CONTROLLER_CA,
    CONTROLLER_CA_KEY,
    CONTROLLER_CERT,
)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _rsa(bits: int) -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _key_pem(key: Any, passphrase: str = "") -> str:
    from cryptography.hazmat.primitives import serialization

    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def _cert_pem(cert: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _certificate(
    name: str, key: Any, *, issuer: Any = None, issuer_key: Any = None, now: datetime.datetime
) -> Any:
    """A certificate for ``key``: a CA signed by itself when ``issuer`` is None, else a client
    certificate that ``issuer`` (with ``issuer_key``) signs."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca = issuer is None
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if ca else issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # clock skew between units
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    usage = dict.fromkeys(
        (
            "content_commitment",
            "data_encipherment",
            "key_agreement",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=False,
                key_cert_sign=True,
                crl_sign=True,
                **usage,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                key_cert_sign=False,
                crl_sign=False,
                **usage,
            ),
            critical=True,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())


def _controller_cert(controller_ca: Any, controller_ca_key: Any, now: datetime.datetime) -> str:
    key = _rsa(CONTROLLER_KEY_BITS)
    cert = _certificate(
        "octavia-controller", key, issuer=controller_ca, issuer_key=controller_ca_key, now=now
    )
    return _cert_pem(cert) + _key_pem(key)


def generate(now: datetime.datetime | None = None) -> dict[str, str]:
    """A new amphora PKI as the secret's content (``SECRET_KEYS``)."""
    now = now or _now()
    alphabet = string.ascii_letters + string.digits
    passphrase = "".join(secrets.choice(alphabet) for _ in range(32))
    issuing_key = _rsa(CA_KEY_BITS)
    issuing = _certificate("octavia-amphora-issuing-ca", issuing_key, now=now)
    controller_ca_key = _rsa(CA_KEY_BITS)
    controller_ca = _certificate("octavia-controller-ca", controller_ca_key, now=now)
    return {
        ISSUING_CA: _cert_pem(issuing),
        ISSUING_CA_KEY: _key_pem(issuing_key, passphrase),
        ISSUING_CA_PASSPHRASE: passphrase,
        CONTROLLER_CA: _cert_pem(controller_ca),
        CONTROLLER_CA_KEY: _key_pem(controller_ca_key),
        CONTROLLER_CERT: _controller_cert(controller_ca, controller_ca_key, now),
    }


def renew_controller(
    content: Mapping[str, str], now: datetime.datetime | None = None
) -> dict[str, str]:
    """``content`` with a new controller key and certificate, signed by the same controller
    CA; both CAs and the issuing CA's key unchanged."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    missing = [k for k in SECRET_KEYS if not content.get(k)]
    if missing:
        raise ValueError(f"the amphora PKI secret lacks {', '.join(missing)}")
    ca = x509.load_pem_x509_certificate(content[CONTROLLER_CA].encode())
    ca_key = serialization.load_pem_private_key(content[CONTROLLER_CA_KEY].encode(), None)
    return {**content, CONTROLLER_CERT: _controller_cert(ca, ca_key, now or _now())}


def material(content: Mapping[str, str]) -> TLSMaterial:
    """The files' texts from the secret's content (the controller CA's key stays out)."""
    return TLSMaterial(
        issuing_ca=content.get(ISSUING_CA, ""),
        issuing_ca_key=content.get(ISSUING_CA_KEY, ""),
        issuing_ca_passphrase=content.get(ISSUING_CA_PASSPHRASE, ""),
        controller_ca=content.get(CONTROLLER_CA, ""),
        controller_cert=content.get(CONTROLLER_CERT, ""),
    )


def secret_values(content: Mapping[str, str]) -> list[str]:
    """The texts of ``content`` that must never reach a log."""
    values = [
        content.get(k, "") for k in (ISSUING_CA_KEY, ISSUING_CA_PASSPHRASE, CONTROLLER_CA_KEY)
    ]
    values.extend(private_key_blocks(content.get(CONTROLLER_CERT, "")))
    return values
