"""The Nagios checks' files in charmhelpers' formats, and the certificate-expiry plugin run
with openssl on real certificates."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path

import pytest
from charmed_octavia.cloud import tls
from charmed_octavia.unit import nrpe
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

SCRIPT = Path(nrpe.__file__).parent / "scripts" / nrpe.CERT_CHECK_NAME


def certificate(path: Path, days: float) -> Path:
    """A server certificate of the charm's own generator valid for ``days`` more days
    (negative: expired)."""
    from cryptography.hazmat.primitives.serialization import pkcs12

    now = datetime.datetime.now(datetime.timezone.utc)
    # Made for 30 days, starting so that ``days`` of them remain.
    bundle = tls.generate_bundle("octavia", days=30, now=now + datetime.timedelta(days=days - 30))
    _, cert, _ = pkcs12.load_key_and_certificates(bundle.pkcs12, None)
    assert cert is not None
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def check(*args: str) -> tuple[int, str]:
    result = subprocess.run(
        ["sh", str(SCRIPT), *args], capture_output=True, text=True, check=False
    )
    return result.returncode, result.stdout.strip()


@pytest.mark.parametrize(
    ("days", "status", "word"),
    [(29, 0, "OK"), (20, 1, "WARNING"), (5, 2, "CRITICAL"), (-1, 2, "CRITICAL")],
)
def test_certificate_check_states(tmp_path, days, status, word):
    # Arrange
    cert = certificate(tmp_path / "controller_cert.pem", days)

    # Act
    code, output = check("14", "25", str(cert))

    # Assert
    assert code == status
    assert output.startswith(f"{word}: {cert}")


@pytest.mark.parametrize(
    "args",
    [("14", "30", "/nonexistent.pem"), ("x", "30", "/etc/hostname"), ("14", "30")],
)
def test_certificate_check_unknown(args):
    # Act
    code, output = check(*args)

    # Assert
    assert code == 3
    assert output.startswith("UNKNOWN: ")


def test_a_key_file_has_no_certificate(tmp_path):
    # Arrange: a controller certificate file may hold the key too; a key alone is no cert.
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    # Act / Assert
    assert check("14", "30", str(path))[0] == 3


def test_checks_and_files_in_charmhelpers_formats():
    # Arrange
    found = nrpe.checks(
        "octavia/0", ["/etc/octavia/certs/issuing_ca.pem"], crit_days=14, warn_days=30
    )

    # Act
    files = nrpe.desired_files(found, hostname="juju-octavia-0", servicegroups="juju", export=True)

    # Assert
    names = [c.shortname for c in found]
    assert names == [
        "octavia-worker",
        "octavia-health-manager",
        "octavia-housekeeping",
        "apache2",
        "cert_issuing_ca",
    ]
    worker = files["/etc/nagios/nrpe.d/check_octavia-worker.cfg"]
    assert worker is not None
    assert worker.content.decode() == (
        "# check octavia-worker\n"
        "# The following header was added automatically by juju\n"
        "# Modifying it will affect nagios monitoring and alerting\n"
        "# servicegroups: juju\n"
        "command[check_octavia-worker]=/usr/local/lib/nagios/plugins/check_systemd.py "
        "octavia-worker\n"
    )
    cert = files["/etc/nagios/nrpe.d/check_cert_issuing_ca.cfg"]
    assert cert is not None
    assert cert.content.decode().endswith(
        "command[check_cert_issuing_ca]=/usr/local/lib/nagios/plugins/check_octavia_cert.sh "
        "14 30 /etc/octavia/certs/issuing_ca.pem\n"
    )
    service = files["/var/lib/nagios/export/service__juju-octavia-0_check_apache2.cfg"]
    assert service is not None
    text = service.content.decode()
    assert "    host_name                       juju-octavia-0\n" in text
    assert (
        "    service_description             juju-octavia-0[apache2] process check {octavia/0}\n"
    ) in text
    assert "    check_command                   check_nrpe!check_apache2\n" in text
    # The checks not wanted are removed; the plugin is always there, executable.
    assert files["/etc/nagios/nrpe.d/check_cert_api.cfg"] is None
    assert files["/etc/nagios/nrpe.d/check_cert_controller_cert.cfg"] is None
    plugin = files[nrpe.CERT_CHECK]
    assert plugin is not None
    assert plugin.mode == 0o755
    assert plugin.content == SCRIPT.read_bytes()
    assert nrpe.monitors(found)["monitors"] == {
        "remote": {"nrpe": {n: {"command": f"check_{n}"} for n in names}}
    }


def test_names_as_charmhelpers_makes_them():
    assert nrpe.nagios_unit_name("octavia/0", "") == "octavia/0"
    assert nrpe.nagios_unit_name("octavia/0", "prod") == "prod:octavia/0"
    assert nrpe.nagios_hostname("juju", "octavia/1", "") == "juju-octavia-1"
    assert nrpe.nagios_hostname("juju", "octavia/1", "prod-octavia-1") == "prod-octavia-1"
    with pytest.raises(ValueError, match="shortname"):
        nrpe.Check("bad name", "", "true")
