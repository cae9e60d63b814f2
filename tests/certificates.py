"""X.509 material for tests and the lab, built with ``cryptography`` and independent of the
library's own ``charmed_octavia.cloud.tls`` (so tests of that module do not test it with
itself).

One builder for every test-side certificate: the unit tests' PEM options and relation CAs,
an operator's own PKCS#12, the lab's Octavia CA and the lab amphora's listener certificate.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

KeyType = Literal["ec", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class SelfSigned:
    """A self-signed certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def key_pem(self, passphrase: str | None = None, *, traditional: bool = False) -> str:
        """The key as PEM: PKCS#8 (``traditional``: OpenSSL's own format), encrypted with
        ``passphrase`` when one is given."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase.encode())
            if passphrase
            else serialization.NoEncryption()
        )
        fmt = (
            serialization.PrivateFormat.TraditionalOpenSSL
            if traditional
            else serialization.PrivateFormat.PKCS8
        )
        return self.key.private_bytes(serialization.Encoding.PEM, fmt, encryption).decode()


def self_signed(
    common_name: str,
    *,
    key_type: KeyType = "ec",
    ca: bool = False,
    days: float = 1,
    backdate: datetime.timedelta = datetime.timedelta(0),
    serial: int | None = None,
) -> SelfSigned:
    """A certificate for ``common_name`` signed by its own key (a CA when ``ca``)."""
    key: PrivateKey = (
        ec.generate_private_key(ec.SECP256R1())
        if key_type == "ec"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(now - backdate)
        .not_valid_after(now + datetime.timedelta(days=days))
    )
    if ca:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        )
    return SelfSigned(builder.sign(key, hashes.SHA256()), key)


def pem_pair(common_name: str) -> tuple[str, str]:
    """A self-signed certificate and its unencrypted private key, as PEM."""
    made = self_signed(common_name)
    return made.cert_pem, made.key_pem()
