"""The PKI the charm generates, used as Octavia uses it: a real TLS handshake on 127.0.0.1.

The charm runs under ops.testing on a fake machine (tests.unit.fake_machine) and renders the
PKI and octavia.conf; Octavia 14.0.x's own ``local_cert_generator`` (in the lab's virtualenv,
tests/lab/venv.py) reads that octavia.conf and signs an amphora agent's certificate with the
issuing CA. Then a server presenting that certificate and requiring a client certificate the
controller CA signed (as the amphora agent does) and a client presenting the controller
certificate and verifying the server against the issuing CA (as the worker does) must
complete a handshake, and must not when either side trusts the wrong CA.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from ops import testing

import charm
from tests.unit.charm.fake_health_ports import use_fake_health_ports
from tests.unit.charm.states import full_state, jammy_machine

SIGN = Path(__file__).with_name("sign_amphora_cert.py")
AMPHORA_ID = "6b2f5b8e-1d3c-4e55-9a0b-3c1f2e4d5a6b"


@pytest.fixture(scope="module")
def pki(octavia_python, tmp_path_factory) -> dict[str, Path]:
    """The files of a generated PKI and an amphora certificate Octavia signed with them."""
    root = tmp_path_factory.mktemp("unit")
    machine = jammy_machine(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(charm.OctaviaCharm, "workload_factory", lambda: machine)
        # Neutron's health-manager port (the peer data names the management network).
        use_fake_health_ports(patch)
        ctx = testing.Context(charm.OctaviaCharm)
        out = ctx.run(ctx.on.install(), full_state())
    assert out.unit_status == testing.ActiveStatus("Unit is ready")
    # octavia.conf names /etc/octavia/certs: point it at the unit's root.
    conf = (root / "etc/octavia/octavia.conf").read_text()
    local_conf = root / "octavia-local.conf"
    local_conf.write_text(conf.replace(" /etc/octavia/certs/", f" {root}/etc/octavia/certs/"))
    amphora = tmp_path_factory.mktemp("amphora")
    proc = subprocess.run(
        [str(octavia_python), str(SIGN), str(local_conf), AMPHORA_ID, str(amphora)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["generator"] == "local_cert_generator"
    return {key: Path(value) for key, value in report.items() if key != "generator"}


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> str:
    """The amphora id the client saw in the server's certificate; raises ssl.SSLError or
    OSError when the handshake fails."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        port = listener.getsockname()[1]
        failure: list[BaseException] = []

        def serve() -> None:
            try:
                conn, _ = listener.accept()
                with server.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
            except (OSError, ssl.SSLError) as e:
                failure.append(e)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                client.wrap_socket(raw, server_hostname=AMPHORA_ID) as tls,
            ):
                assert tls.recv(2) == b"ok"
                der = tls.getpeercert(binary_form=True)
        finally:
            thread.join(10)
        if failure:
            raise failure[0]
    assert der is not None
    subject = x509.load_der_x509_certificate(der).subject
    return str(subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _agent(pki: dict[str, Path], trusts: Path) -> ssl.SSLContext:
    """The amphora agent's server: its certificate, client certificates required."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["amphora_pem"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(trusts)
    return ctx


def _worker(pki: dict[str, Path], trusts: Path) -> ssl.SSLContext:
    """The worker's client: the controller certificate, the server verified against a CA.
    (Octavia checks the amphora id against the certificate's CN itself, not by hostname.)"""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_cert_chain(pki["client_cert"])
    ctx.load_verify_locations(trusts)
    return ctx


def test_worker_and_amphora_agent_complete_a_handshake(pki):
    # Arrange
    server = _agent(pki, trusts=pki["agent_server_ca"])
    client = _worker(pki, trusts=pki["server_ca"])

    # Act
    seen = _handshake(server, client)

    # Assert
    assert seen == AMPHORA_ID


def test_worker_trusting_the_wrong_ca_refuses_the_amphora(pki):
    # Arrange: the controller CA did not sign the amphora's certificate.
    server = _agent(pki, trusts=pki["agent_server_ca"])
    client = _worker(pki, trusts=pki["agent_server_ca"])

    # Act / Assert
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(server, client)


def test_amphora_trusting_the_wrong_ca_refuses_the_worker(pki):
    # Arrange: the issuing CA did not sign the controller's certificate.
    server = _agent(pki, trusts=pki["server_ca"])
    client = _worker(pki, trusts=pki["server_ca"])

    # Act / Assert
    with pytest.raises((ssl.SSLError, OSError)):
        _handshake(server, client)
