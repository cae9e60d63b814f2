"""TLS material for a TERMINATED_HTTPS listener: a CA, a server certificate and the
unencrypted PKCS#12 bundle Octavia reads from Barbican (as ``openssl pkcs12 -export
-passout pass:`` builds it in the test plan).

The private keys only ever live in memory and inside the bundle; nothing here logs them.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import re
from typing import Any

from charmed_octavia.cloud.outcomes import InvalidParameter, shown

# A DNS name or a single label: what a listener's certificate CN/SAN normally holds.
_HOSTNAME = re.compile(
    r"(\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
MAX_DAYS = 3650
# X.509's upper bound for a common name (RFC 5280 ub-common-name); the CA's is the name plus
# " CA", so the name itself has three characters less.
CN_MAX = 64
CA_SUFFIX = " CA"


@dataclasses.dataclass(frozen=True)
class TlsBundle:
    """A PKCS#12 bundle and what it holds (public facts only)."""

    pkcs12: bytes = dataclasses.field(repr=False)
    subject: str
    issuer: str
    not_after: str
    fingerprint_sha256: str
    chain_length: int
    generated: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "not-after": self.not_after,
            "fingerprint-sha256": self.fingerprint_sha256,
            "chain-length": self.chain_length,
            "generated": self.generated,
        }


def validate_common_name(common_name: str) -> str:
    if not isinstance(common_name, str) or not _HOSTNAME.fullmatch(common_name):
        raise InvalidParameter(f"common-name {shown(common_name)} is not a valid DNS name")
    limit = CN_MAX - len(CA_SUFFIX)
    if len(common_name) > limit:
        raise InvalidParameter(
            f"common-name is longer than {limit} characters (X.509 allows {CN_MAX} for a "
            f"common name, and the generated CA's is the name plus {CA_SUFFIX!r})"
        )
    return common_name


def validate_days(days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidParameter(f"days must be an integer from 1 to {MAX_DAYS}, not {shown(days)}")
    return days


def _describe(pkcs12: bytes, cert: Any, chain_length: int, generated: bool) -> TlsBundle:
    from cryptography.hazmat.primitives import hashes

    return TlsBundle(
        pkcs12=pkcs12,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_after=cert.not_valid_after_utc.isoformat(),
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(":"),
        chain_length=chain_length,
        generated=generated,
    )


def generate_bundle(
    common_name: str, *, days: int = 365, now: datetime.datetime | None = None
) -> TlsBundle:
    """A fresh CA and a server certificate for ``common_name`` signed by it, as PKCS#12."""
    validate_common_name(common_name)
    validate_days(days)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = now or datetime.datetime.now(datetime.timezone.utc)
    # Backdated a little so a clock slightly behind on the amphora accepts it.
    not_before = now - datetime.timedelta(minutes=5)
    not_after = now + datetime.timedelta(days=days)

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "charmed-octavia test plan"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name}{CA_SUFFIX}"),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    data = pkcs12.serialize_key_and_certificates(
        name=common_name.encode(),
        key=key,
        cert=cert,
        cas=[ca_cert],
        encryption_algorithm=serialization.NoEncryption(),
    )
    return _describe(data, cert, chain_length=1, generated=True)


def parse_bundle(data: bytes) -> TlsBundle:
    """Check an operator's PKCS#12: unencrypted, with a private key and a certificate."""
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        key, cert, cas = pkcs12.load_key_and_certificates(data, None)
    except ValueError:
        raise InvalidParameter(
            "bundle is not an unencrypted PKCS#12 (Octavia reads it without a password)"
        ) from None
    if key is None:
        raise InvalidParameter("bundle has no private key")
    if cert is None:
        raise InvalidParameter("bundle has no certificate")
    return _describe(data, cert, chain_length=len(cas or []), generated=False)


def decode_bundle(text: str) -> TlsBundle:
    """The ``bundle`` action parameter: base64 of a PKCS#12."""
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameter("bundle is not valid base64") from None
    if not data:
        raise InvalidParameter("bundle is empty")
    return parse_bundle(data)
