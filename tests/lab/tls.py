"""The TLS lab's certificates: a lab CA and the one server certificate it issues for 127.0.0.1
(an IP subjectAltName) and localhost, which every API of the lab serves.

The CA's private key and the server's key stay in the lab directory (mode 0600); clients trust
the CA through ``ca_file`` only (clouds.yaml's ``cacert``, each service's CA options).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from tests.lab.files import write_private

SERVER_NAMES = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class LabTLS:
    """Where the TLS lab's CA and server certificate are."""

    ca_file: Path
    ca_key_file: Path
    cert_file: Path
    key_file: Path


def paths(tls_dir: Path) -> LabTLS:
    return LabTLS(
        ca_file=tls_dir / "ca.pem",
        ca_key_file=tls_dir / "ca.key",
        cert_file=tls_dir / "server.pem",
        key_file=tls_dir / "server.key",
    )


def write_lab_tls(tls_dir: Path) -> LabTLS:
    """A fresh lab CA and its server certificate for ``SERVER_NAMES``, written under
    ``tls_dir`` (the keys unencrypted, 0600: the servers read them at start)."""
    from tests.certificates import self_signed, signed_by

    backdate = datetime.timedelta(minutes=5)
    ca = self_signed(
        "charmed-octavia lab TLS CA", ca=True, days=30, backdate=backdate, key_ids=True
    )
    server = signed_by(
        ca, SERVER_NAMES[0], days=30, backdate=backdate, server_names=SERVER_NAMES, key_ids=True
    )
    made = paths(tls_dir)
    made.ca_file.write_text(ca.cert_pem)
    write_private(made.ca_key_file, ca.key_pem())
    made.cert_file.write_text(server.cert_pem)
    write_private(made.key_file, server.key_pem())
    return made
