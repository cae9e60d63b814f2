"""The amphora PKI as the charm holds it: the operator's lb-mgmt-* options, or the PKI the
leader generates (charmed_octavia.unit.amphora_pki) and keeps in one Juju secret.

The secret's id is in the peer relation's application data, never its content; every unit
reads the content with ``get_content(refresh=True)``, so a rotation reaches every unit. The
leader also writes the controller certificate's serial beside the id: a rotation changes it,
which wakes the other units (relation-changed) to render the new certificate.
"""

from __future__ import annotations

import datetime
from collections.abc import MutableMapping

import ops
from charmed_octavia.unit import amphora_pki, pki
from charmed_octavia.unit.config import CharmConfig
from charmed_octavia.unit.machine import WorkloadError
from charmed_octavia.unit.pki import TLSMaterial

# Peer application data keys.
SECRET_ID = "amphora-pki-secret-id"  # noqa: S105 - a databag key, the value is a secret's id
CONTROLLER_SERIAL = "amphora-pki-controller-serial"
LABEL = "amphora-pki"


def operator_owned(config: CharmConfig) -> bool:
    """Whether the operator set the lb-mgmt-* options (then nothing is generated)."""
    return bool(config.tls().issuing_ca)


def controller_serial(content: dict[str, str]) -> str:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(content[amphora_pki.CONTROLLER_CERT].encode())
    return format(cert.serial_number, "x")


def generate(app: ops.Application, shared: MutableMapping[str, str]) -> None:
    """The leader's one-time generation: the PKI into a new secret, its id into ``shared``."""
    if shared.get(SECRET_ID):
        return
    content = amphora_pki.generate()
    try:
        secret = app.add_secret(
            content, label=LABEL, description="Octavia amphora PKI (issuing and controller CAs)"
        )
    except ops.ModelError:
        # Juju's own message is not repeated: it is about the content. The PKI is ~14 KB.
        raise WorkloadError(
            "Amphora certificates: Juju refused the generated PKI's secret (Juju before 3.6.9 "
            "holds at most 8 KiB, it needs about 14 KB); set the lb-mgmt-* options"
        ) from None
    assert secret.id is not None  # add_secret returns the created secret's id
    shared[SECRET_ID] = secret.id
    shared[CONTROLLER_SERIAL] = controller_serial(content)


def secret(model: ops.Model, shared: MutableMapping[str, str]) -> ops.Secret | None:
    """The generated PKI's secret; None until the leader has made it (or if it is gone)."""
    secret_id = shared.get(SECRET_ID)
    if not secret_id:
        return None
    try:
        return model.get_secret(id=secret_id)
    except (ops.SecretNotFoundError, ops.ModelError):
        return None


def content(model: ops.Model, shared: MutableMapping[str, str]) -> dict[str, str] | None:
    """The generated PKI's latest content, or None."""
    found = secret(model, shared)
    if found is None:
        return None
    try:
        return found.get_content(refresh=True)
    except (ops.SecretNotFoundError, ops.ModelError):
        return None


def material(config: CharmConfig, generated: dict[str, str] | None) -> TLSMaterial | None:
    """The PKI the unit renders: the options', else the generated one (None: not yet)."""
    if operator_owned(config):
        return config.tls()
    return amphora_pki.material(generated) if generated else None


def status(tls: TLSMaterial | None, now: datetime.datetime) -> tuple[ops.StatusBase | None, str]:
    """The status the PKI calls for (None: none), and the active status's message."""
    ready = "Unit is ready"
    if tls is None:
        return ops.WaitingStatus("Waiting for the leader's amphora certificates"), ready
    gone = pki.expired(tls, now)
    if gone:
        return ops.BlockedStatus(f"Amphora certificates: {gone}"), ready
    soon = pki.expiring(tls, now, amphora_pki.EXPIRY_WARNING)
    return None, f"{ready}; amphora certificates: {soon}" if soon else ready


def secret_values(config: CharmConfig | None, generated: dict[str, str] | None) -> list[str]:
    """The PKI's texts that never reach a log."""
    values = amphora_pki.secret_values(generated or {})
    if config is not None:
        for option in (config.lb_mgmt_issuing_ca_private_key, config.lb_mgmt_controller_cert):
            values.append(option)
        tls = config.tls()
        values.extend(pki.private_key_blocks(tls.issuing_ca_key + tls.controller_cert))
    return values
