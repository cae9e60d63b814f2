"""X.509 material for tests and the lab, built with ``cryptography`` and independent of the
library's own ``charmed_octavia.cloud.tls`` (so tests of that module do not test it with
itself).

One builder for every test-side certificate: the unit tests' PEM options and relation CAs,
an operator's own PKCS#12, the lab's Octavia CA, the lab amphora's listener certificate, and
the amphora PKI an operator gives the charm (``amphora_pki``).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

KeyType = Literal["ec", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class CertKey:
    """A certificate and its private key."""

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


def self_signed(common_name: str, **options: Any) -> CertKey:
    """A certificate for ``common_name`` signed by its own key (a CA when ``ca``); the
    options are ``signed_by``'s."""
    return signed_by(None, common_name, **options)


def signed_by(
    issuer: CertKey | None,
    common_name: str,
    *,
    key_type: KeyType = "ec",
    ca: bool = False,
    days: float = 1,
    backdate: datetime.timedelta = datetime.timedelta(0),
    serial: int | None = None,
    server_names: Sequence[str] = (),
    key_ids: bool = False,
) -> CertKey:
    """A certificate for ``common_name`` signed by ``issuer`` (by its own key when None).

    ``server_names``: its subjectAltName (IP addresses as IP entries, the rest as DNS names),
    for a TLS server; ``key_ids``: subject and authority key identifiers, as a CA's chain
    carries them."""
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
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(now - backdate)
        .not_valid_after(now + datetime.timedelta(days=days))
    )
    if ca:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        )
    if server_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in server_names]), critical=False
        )
    if key_ids:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        ).add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                (issuer.key if issuer else key).public_key()
            ),
            critical=False,
        )
    return CertKey(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def pem_pair(common_name: str) -> tuple[str, str]:
    """A self-signed certificate and its unencrypted private key, as PEM."""
    made = self_signed(common_name)
    return made.cert_pem, made.key_pem()


@dataclass(frozen=True)
class AmphoraPKI:
    """The certificates an operator gives the charm for amphorae (the lb-mgmt-* options)."""

    issuing_ca: CertKey  # signs each amphora agent's certificate
    controller_ca: CertKey  # the amphorae trust controllers it signed
    controller: CertKey  # the controllers' client certificate, signed by controller_ca


def amphora_pki(
    *, days: float = 1, backdate: datetime.timedelta = datetime.timedelta(0)
) -> AmphoraPKI:
    controller_ca = self_signed("controller-ca", ca=True, days=days, backdate=backdate)
    return AmphoraPKI(
        issuing_ca=self_signed(
            "issuing-ca", key_type="rsa", ca=True, days=days, backdate=backdate
        ),
        controller_ca=controller_ca,
        controller=signed_by(controller_ca, "controller", days=days, backdate=backdate),
    )


def lb_mgmt_options(
    passphrase: str,
    *,
    days: float = 1,
    backdate: datetime.timedelta = datetime.timedelta(0),
) -> dict[str, str]:
    """The charm's five lb-mgmt-* options for a fresh amphora PKI, set as an operator would:
    base64 PEM, the issuing CA's key encrypted with ``passphrase``, the controller's
    certificate (signed by the controller CA) with its key."""
    pki = amphora_pki(days=days, backdate=backdate)

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return {
        "lb-mgmt-issuing-cacert": b64(pki.issuing_ca.cert_pem),
        "lb-mgmt-issuing-ca-private-key": b64(pki.issuing_ca.key_pem(passphrase)),
        "lb-mgmt-issuing-ca-key-passphrase": passphrase,
        "lb-mgmt-controller-cacert": b64(pki.controller_ca.cert_pem),
        "lb-mgmt-controller-cert": b64(pki.controller.cert_pem + pki.controller.key_pem()),
    }


def ssh_public_key() -> str:
    """A new ed25519 public key in OpenSSH's format: Nova computes a keypair's fingerprint,
    and refuses made-up key material."""
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
