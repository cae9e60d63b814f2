"""The TLS lab's certificates and its readiness probe over https, against a real TLS server on
127.0.0.1 (the lab suite runs the whole TLS lab: tests/integration/test_tls_lab.py)."""

from __future__ import annotations

import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab.clouds import write_clouds_yaml
from tests.lab.services import Service, http_ok
from tests.lab.tls import LabTLS, write_lab_tls


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tls(tmp_path: Path) -> LabTLS:
    (tmp_path / "tls").mkdir(mode=0o700)
    return write_lab_tls(tmp_path / "tls")


@pytest.fixture
def https_port(tls: LabTLS) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _service(port: int, ca_file: Path | None) -> Service:
    return Service("api", [], {}, Path("/dev/null"), port=port, ca_file=ca_file)


def test_probe_answers_over_https_trusting_the_lab_ca(tls, https_port):
    # Act
    ready = http_ok(_service(https_port, tls.ca_file), "/", None)

    # Assert
    assert ready is True


def test_probe_refuses_a_server_the_lab_ca_did_not_issue(tls, https_port, tmp_path):
    # Arrange: another lab's CA.
    (tmp_path / "other").mkdir()
    other = write_lab_tls(tmp_path / "other")

    # Act / Assert: a broken lab, not one still starting.
    with pytest.raises(ssl.SSLCertVerificationError):
        http_ok(_service(https_port, other.ca_file), "/", None)


def test_keys_are_private_and_the_certificate_names_loopback(tls):
    # Act
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(tls.cert_file.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value

    # Assert
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {p.stat().st_mode & 0o777 for p in (tls.ca_key_file, tls.key_file)} == {0o600}


def test_clouds_yaml_names_the_ca_only_when_given(tls, tmp_path):
    # Arrange
    users = {"lab-admin": ("admin", "admin")}
    with_ca, plain = tmp_path / "with.yaml", tmp_path / "plain.yaml"

    # Act
    url = "https://127.0.0.1:1/v3"
    write_clouds_yaml(with_ca, url, users, {"admin": "pw"}, cacert=tls.ca_file)
    write_clouds_yaml(plain, "http://127.0.0.1:1/v3", users, {"admin": "pw"})

    # Assert
    assert json.loads(with_ca.read_text())["clouds"]["lab-admin"]["cacert"] == str(tls.ca_file)
    assert "cacert" not in json.loads(plain.read_text())["clouds"]["lab-admin"]
