"""The operator's amphora PKI (the lb-mgmt-* options), checked as Octavia will use it.

Octavia signs each amphora agent's certificate with the issuing CA and its key (decrypted with
the passphrase), amphorae trust controllers whose client certificate the controller CA signed,
and the worker presents that certificate with its key. A mismatch in any of these blocks the
unit with the reason, rather than reaching "active" and failing every load balancer. Messages
name options, never their values.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from charmed_octavia.unit import private_keys

ISSUING_CA = "lb-mgmt-issuing-cacert"
ISSUING_KEY = "lb-mgmt-issuing-ca-private-key"
PASSPHRASE = "lb-mgmt-issuing-ca-key-passphrase"  # noqa: S105 - an option's name
CONTROLLER_CA = "lb-mgmt-controller-cacert"
CONTROLLER_CERT = "lb-mgmt-controller-cert"
_BLOCK = re.compile(r"-----BEGIN (?P<kind>[A-Z0-9 ]+)-----.*?-----END (?P=kind)-----", re.S)


class PKIError(ValueError):
    """The amphora certificates cannot work as Octavia uses them (the message says why)."""


@dataclass(frozen=True)
class TLSMaterial:
    """PEM texts decoded from the lb-mgmt-* options ("" when not configured)."""

    issuing_ca: str = ""
    issuing_ca_key: str = ""
    issuing_ca_passphrase: str = ""
    controller_ca: str = ""
    controller_cert: str = ""


def private_key_blocks(pem: str) -> list[str]:
    """Every private key PEM block in ``pem`` (for redaction)."""
    return [m.group(0) for m in _BLOCK.finditer(pem) if m["kind"].endswith("PRIVATE KEY")]


def expiries(tls: TLSMaterial) -> list[tuple[str, datetime.datetime]]:
    """Each certificate's name and end of validity (issuing CA, controller CA, controller
    certificate: always in this order, so that messages are stable)."""
    from cryptography import x509

    ends = []
    for name, pem in (
        ("issuing CA", tls.issuing_ca),
        ("controller CA", tls.controller_ca),
        ("controller certificate", tls.controller_cert),
    ):
        match = next((m for m in _BLOCK.finditer(pem) if m["kind"] == "CERTIFICATE"), None)
        if match is not None:
            cert = x509.load_pem_x509_certificate(match.group(0).encode())
            ends.append((name, cert.not_valid_after_utc))
    return ends


def expired(tls: TLSMaterial, now: datetime.datetime) -> str:
    """What has expired ("" when nothing has)."""
    gone = [f"the {name} expired on {end:%Y-%m-%d}" for name, end in expiries(tls) if end <= now]
    return ", ".join(gone)


def expiring(tls: TLSMaterial, now: datetime.datetime, within: datetime.timedelta) -> str:
    """What expires within ``within`` of ``now`` ("" when nothing does)."""
    soon = [
        f"the {name} expires on {end:%Y-%m-%d}"
        for name, end in expiries(tls)
        if now < end <= now + within
    ]
    return ", ".join(soon)


def _block(pem: str, option: str, kind: str) -> str:
    """The first PEM block of ``kind`` (CERTIFICATE, or any PRIVATE KEY) in the option."""
    for match in _BLOCK.finditer(pem):
        if match["kind"] == kind or (kind == "PRIVATE KEY" and match["kind"].endswith(kind)):
            return match.group(0) + "\n"
    raise ValueError(f"{option} holds no PEM {kind.lower()}")


def _certificate(pem: str, option: str) -> Any:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(_block(pem, option, "CERTIFICATE").encode())
    except ValueError as exc:
        if str(exc).startswith(option):
            raise
        raise ValueError(f"{option} does not hold a valid certificate") from None


def _private_key(pem: str, option: str, passphrase: str = "") -> bytes:
    """The public half (DER) of the private key in ``pem``."""
    block = _block(pem, option, "PRIVATE KEY").encode()
    try:
        return private_keys.public_key_der(block, passphrase.encode() if passphrase else None)
    except TypeError as exc:  # encrypted without a passphrase, or the other way round
        if "not encrypted" in str(exc):
            raise ValueError(f"{PASSPHRASE} is set but {option} is not encrypted") from None
        raise ValueError(f"{option} is encrypted: set {PASSPHRASE}") from None
    except ValueError:
        reason = f"{PASSPHRASE} does not decrypt it" if passphrase else "it cannot be read"
        raise ValueError(f"{option} is not a usable private key: {reason}") from None


def _same_key(public_der: bytes, cert: Any) -> bool:
    return public_der == private_keys.certificate_public_der(cert)


def _is_ca(cert: Any) -> bool:
    from cryptography import x509

    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def check(tls: TLSMaterial, now: datetime.datetime | None = None) -> None:
    """Raise ``PKIError`` with the reason if the material cannot work as Octavia uses it."""
    try:
        _check(tls)
    except PKIError:
        raise
    except ValueError as e:
        raise PKIError(str(e)) from None
    gone = expired(tls, now or datetime.datetime.now(datetime.timezone.utc))
    if gone:
        raise PKIError(gone)


def _check(tls: TLSMaterial) -> None:
    issuing = _certificate(tls.issuing_ca, ISSUING_CA)
    if not _is_ca(issuing):
        raise ValueError(f"{ISSUING_CA} is not a CA certificate (it signs amphora certificates)")
    issuing_key = _private_key(tls.issuing_ca_key, ISSUING_KEY, tls.issuing_ca_passphrase)
    if not _same_key(issuing_key, issuing):
        raise ValueError(f"{ISSUING_KEY} is not the key of {ISSUING_CA}")
    controller_ca = _certificate(tls.controller_ca, CONTROLLER_CA)
    controller = _certificate(tls.controller_cert, CONTROLLER_CERT)
    if not _same_key(_private_key(tls.controller_cert, CONTROLLER_CERT), controller):
        raise ValueError(f"the private key in {CONTROLLER_CERT} is not its certificate's")
    from cryptography.exceptions import InvalidSignature

    try:
        controller.verify_directly_issued_by(controller_ca)
    except (ValueError, TypeError, InvalidSignature):
        raise ValueError(
            f"{CONTROLLER_CERT} is not signed by {CONTROLLER_CA} (amphorae would refuse the "
            "controllers)"
        ) from None
