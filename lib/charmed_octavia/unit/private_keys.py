"""The public half of a PEM private key, read once per process.

cryptography checks an RSA key's consistency each time it loads one (tens of milliseconds
for 4096 bits), and one hook validates and renders the same keys several times: the
validation of the amphora PKI options, the API's certificate pair, collect-status.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=16)
def public_key_der(block: bytes, password: bytes | None = None) -> bytes:
    """The SubjectPublicKeyInfo (DER) of the PEM private key ``block``.

    Raises what ``load_pem_private_key`` raises: ValueError for a key that cannot be read
    or a wrong password, TypeError for a password given to a plain key or the other way
    round. A failure is not cached.
    """
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(block, password=password)
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def certificate_public_der(cert: object) -> bytes:
    """The SubjectPublicKeyInfo (DER) of a loaded x509 certificate."""
    from cryptography.hazmat.primitives import serialization

    return cert.public_key().public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
