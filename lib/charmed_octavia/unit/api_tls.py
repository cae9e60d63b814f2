"""TLS of the Octavia API, and the CAs the charm's clients trust, as plain data.

The certificate comes from the ``ssl_cert``/``ssl_key`` options (base64 PEM, as the existing
charm takes them; they win, as in the OpenStack charms) or from the ``certificates`` relation
(``tls-certificates`` as Vault serves the OpenStack charms: charmhelpers' ``cert_utils``
request, ``unit_name`` and ``cert_requests`` JSON keyed by common name; Vault answers
``<unit_name>.processed_requests`` JSON ``{cn: {cert, key}}`` beside ``ca`` and ``chain``, or
``<unit_name>.server.cert``/``.server.key`` to a unit that asked with ``common_name``, as
the reactive charms' first request does). Messages name options, never their values.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from charmed_octavia.unit import private_keys
from charmed_octavia.unit.machine import API_CERT, API_KEY, CA_STORE_DIR, File
from charmed_octavia.unit.relations import UnitData, decode_ca

_BLOCK = re.compile(r"-----BEGIN (?P<kind>[A-Z0-9 ]+)-----.*?-----END (?P=kind)-----", re.S)
# The trust store's files, one per source, so each one comes and goes with its source.
CA_NAMES = {
    "certificates": "octavia-certificates-ca",
    "chain": "octavia-certificates-chain",
    "ssl_ca": "octavia-ssl-ca",
    "keystone": "octavia-keystone-ca",
}
# The key readable by root only: apache's master process loads it before it drops privileges.
# The certificate is public, and readable by all: nagios' expiry check reads it (nrpe).
_ROOT_ONLY = {"mode": 0o640, "owner": "root", "group": "root"}
_PUBLIC = {"mode": 0o644, "owner": "root", "group": "root"}


@dataclass(frozen=True)
class ApiCertificate:
    """The API's certificate, its key, the CA that signed it and any intermediate chain."""

    cert: str
    key: str = field(repr=False)
    ca: str = ""
    chain: str = ""

    @property
    def served(self) -> str:
        """What apache presents: the certificate, then the chain (apache reads the chain
        from the certificate file since 2.4.8)."""
        return self.cert + self.chain


def _blocks(pem: str, kind: str) -> list[str]:
    return [
        m.group(0) + "\n"
        for m in _BLOCK.finditer(pem)
        if m["kind"] == kind or (kind == "PRIVATE KEY" and m["kind"].endswith(kind))
    ]


def _load_cert(pem: str) -> Any:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem.encode())


def check_pair(cert_pem: str, key_pem: str, what: str) -> tuple[str, str]:
    """The first certificate and the key, normalised; ValueError (naming ``what``, never the
    key) when either cannot be read or they do not belong together."""
    certs, keys = _blocks(cert_pem, "CERTIFICATE"), _blocks(key_pem, "PRIVATE KEY")
    if not certs:
        raise ValueError(f"{what}: no PEM certificate")
    if not keys:
        raise ValueError(f"{what}: no PEM private key")
    try:
        cert = _load_cert(certs[0])
    except ValueError:
        raise ValueError(f"{what}: the certificate cannot be read") from None
    try:
        key = private_keys.public_key_der(keys[0].encode())
    except (TypeError, ValueError):
        raise ValueError(f"{what}: the private key cannot be read (or is encrypted)") from None
    if key != private_keys.certificate_public_der(cert):
        raise ValueError(f"{what}: the private key does not match the certificate")
    return certs[0], keys[0]


def check_certificates(pem: str, what: str) -> str:
    """Every certificate of ``pem``, each readable; ValueError otherwise."""
    certs = _blocks(pem, "CERTIFICATE")
    if not certs:
        raise ValueError(f"{what}: no PEM certificate")
    for cert in certs:
        try:
            _load_cert(cert)
        except ValueError:
            raise ValueError(f"{what}: a certificate cannot be read") from None
    return "".join(certs)


def _b64_pem(value: str, option: str) -> str:
    try:
        return base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, ValueError):
        raise ValueError(f"{option} is not base64 of PEM") from None


@dataclass(frozen=True)
class OptionsTLS:
    """What ``ssl_cert``, ``ssl_key`` and ``ssl_ca`` hold, decoded and checked."""

    certificate: ApiCertificate | None = None
    ca: str = ""


def from_options(ssl_cert: str, ssl_key: str, ssl_ca: str) -> OptionsTLS:
    """The options' certificate (both or neither of ssl_cert and ssl_key) and CA (alone, it
    is only trusted); ValueError naming the option that is wrong."""
    if bool(ssl_cert.strip()) != bool(ssl_key.strip()):
        raise ValueError("ssl_cert and ssl_key must be set together")
    ca = check_certificates(_b64_pem(ssl_ca, "ssl_ca"), "ssl_ca") if ssl_ca.strip() else ""
    if not ssl_cert.strip():
        return OptionsTLS(ca=ca)
    cert_pem = _b64_pem(ssl_cert, "ssl_cert")
    cert, key = check_pair(cert_pem, _b64_pem(ssl_key, "ssl_key"), "ssl_cert and ssl_key")
    # Intermediates given after the certificate are served with it.
    chain = "".join(_blocks(cert_pem, "CERTIFICATE")[1:])
    return OptionsTLS(ApiCertificate(cert=cert, key=key, ca=ca, chain=chain), ca)


# -- the certificates relation ----------------------------------------------------------------


def relation_unit_name(unit_name: str) -> str:
    """The unit's name as the interface spells it in keys ("octavia/0" -> "octavia_0")."""
    return unit_name.replace("/", "_")


def sans(addresses: Sequence[str], names: Sequence[str] = ()) -> tuple[str, list[str]]:
    """The common name and the subject alternative names of the API's certificate.

    ``addresses``: the unit's addresses (its public, internal and admin bindings' first);
    ``names``: the host names the endpoints are published under (``os-*-hostname``, and
    whatever else clients reach the unit by). The first name is the common name, else the
    first address; every name and address is a SAN, so one certificate serves them all."""
    unique = list(dict.fromkeys(n for n in (*names, *addresses) if n))
    if not unique:
        raise ValueError("no address or host name to request a certificate for")
    return unique[0], sorted(unique)


def certificate_request(
    unit_name: str, addresses: Sequence[str], names: Sequence[str] = ()
) -> dict[str, str]:
    """This unit's databag on ``certificates``, as charmhelpers' ``cert_utils`` writes it."""
    cn, alt_names = sans(addresses, names)
    return {
        "unit_name": relation_unit_name(unit_name),
        "cert_requests": json.dumps({cn: {"sans": alt_names}}, sort_keys=True),
    }


def requested_common_name(sent: Mapping[str, str]) -> str:
    """The common name this unit asked for in ``sent`` (its databag)."""
    try:
        requests = json.loads(sent.get("cert_requests", "") or "{}")
    except ValueError:
        requests = {}
    if isinstance(requests, dict) and requests:
        return sorted(requests)[0]
    return sent.get("common_name", "")


class CertificateError(ValueError):
    """The provider answered with something that cannot be served (the message says why)."""


def answer(units: UnitData, unit_name: str, sent: Mapping[str, str]) -> ApiCertificate | None:
    """The certificate the provider issued for this unit's request ``sent``; None while it
    has not answered; CertificateError when its answer cannot be served."""
    name = relation_unit_name(unit_name)
    cn = requested_common_name(sent)
    for unit in sorted(units):
        data = units[unit]
        ca = data.get("ca", "")
        # Without "ca" the provider has not answered yet (charmhelpers: LP#2028683).
        if not ca:
            continue
        bundle: Mapping[str, str] = {}
        try:
            processed = json.loads(data.get(f"{name}.processed_requests", "") or "{}")
        except ValueError:
            processed = {}
        if isinstance(processed, dict) and isinstance(processed.get(cn), dict):
            bundle = processed[cn]
        elif data.get(f"{name}.server.cert") and data.get(f"{name}.server.key"):
            bundle = {"cert": data[f"{name}.server.cert"], "key": data[f"{name}.server.key"]}
        if not bundle.get("cert") or not bundle.get("key"):
            continue
        what = f"the certificate from {unit}"
        try:
            cert, key = check_pair(bundle["cert"], bundle["key"], what)
            ca_pem = check_certificates(ca, f"the CA from {unit}")
            chain = data.get("chain", "")
            chain_pem = check_certificates(chain, f"the chain from {unit}") if chain else ""
        except ValueError as e:
            raise CertificateError(str(e)) from None
        return ApiCertificate(cert=cert, key=key, ca=ca_pem, chain=chain_pem)
    return None


# -- keystone's CA ---------------------------------------------------------------------------


def keystone_ca(units: UnitData) -> str:
    """The CA keystone sends as ``ca_cert`` (base64 of PEM) on identity-service; "" if none."""
    for unit in sorted(units):
        pem = decode_ca(units[unit].get("ca_cert", ""))
        if pem:
            try:
                return check_certificates(pem, "ca_cert")
            except ValueError:
                continue
    return ""


# -- files -----------------------------------------------------------------------------------


def api_files(certificate: ApiCertificate | None) -> dict[str, File | None]:
    """The API's certificate and key files, or None for each when TLS is off."""
    if certificate is None:
        return {API_CERT: None, API_KEY: None}
    return {
        API_CERT: File(API_CERT, certificate.served.encode(), **_PUBLIC),
        API_KEY: File(API_KEY, certificate.key.encode(), **_ROOT_ONLY),
    }


def trust_files(cas: Mapping[str, str]) -> dict[str, File | None]:
    """The trust store's files: ``cas`` maps a source of ``CA_NAMES`` to its PEM ("" none)."""
    unknown = set(cas) - set(CA_NAMES)
    if unknown:
        raise ValueError(f"unknown CA sources: {', '.join(sorted(unknown))}")
    files: dict[str, File | None] = {}
    for source, name in CA_NAMES.items():
        path = f"{CA_STORE_DIR}/{name}.crt"
        pem = cas.get(source, "")
        files[path] = File(path, pem.encode()) if pem else None
    return files
