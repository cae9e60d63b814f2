"""The installed ``octavia-sru`` (``pip install .`` into a venv of the test's) run as a
verifier runs it, against the lab: the whole plan on the lab amphora for both templaters
(verdict, report files, exit status), check-amphorae and cleanup after a --keep-resources run,
a wrong --os-cloud, and --verbose without a secret."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from charmed_octavia.amphora import ssh
from charmed_octavia.cloud import barbican, connection
from charmed_octavia.commands import cli_cloud
from charmed_octavia.plan import steps

from tests.infrastructure import require
from tests.integration.plan_helpers import admin_connection, inventory
from tests.lab import amphora as lab_amphora
from tests.lab import worker_drivers
from tests.lab.networks import EXT_SUBNET
from tests.octavia_sru_install import install

pytestmark = pytest.mark.lab
KEYPAIR = "amphora-backdoor"
TITLES = {step.name: step.title for step in steps.STEPS}


@pytest.fixture(scope="session")
def octavia_sru(tmp_path_factory) -> Path:
    return install(os.environ.get("LAB_SRU_PYTHON", "python3"), tmp_path_factory.mktemp("sru"))


def _sru(script: Path, lab, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(lab.clouds_yaml)}
    for name in [n for n in env if n.startswith("OS_") and n != "OS_CLIENT_CONFIG_FILE"]:
        del env[name]
    return subprocess.run(
        [str(script), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _amphora_options(amp, key: Path, tmp_path: Path) -> list[str]:
    return [
        "--ssh-key",
        str(key),
        "--ssh-user",
        "root",
        "--known-hosts",
        str(tmp_path / "known_hosts"),
        # The lab's address map (a named fake): Octavia's noop driver reports 192.0.2.1.
        "--ssh-address",
        f"{lab_amphora.LAB_NETWORK_IP}=127.0.0.1:{amp.ssh_port}",
        "--state-dir",
        str(tmp_path / "state"),
        "--amphora-haproxy-dir",
        amp.octavia_dir,
    ]


@pytest.mark.amphora
@pytest.mark.parametrize(
    ("templater", "verdict", "status"), [("vulnerable", "reproduced", 3), ("fixed", "fixed", 0)]
)
def test_run_test_plan_on_the_lab_amphora_tells_the_verdict_then_check_and_cleanup(
    amphora_worker_lab, octavia_sru, tmp_path, templater, verdict, status
):
    require(lab_amphora.unavailable_reason(), "the lab amphora")
    # Arrange: a 1 GiB lab amphora (for 32 GiB) and a lab whose worker drives it.
    key, public = ssh.ensure_keypair(tmp_path / "ssh")
    report, data = tmp_path / "report.md", tmp_path / "report.json"
    keep = templater == "fixed"  # the fixed run keeps its resources for check and cleanup
    with lab_amphora.LabAmphora(memory_bytes=1 << 30, templater=templater) as amp:
        overrides = amp.octavia_overrides()
        overrides["controller_worker"]["amp_ssh_key_name"] = KEYPAIR
        with worker_drivers.overridden(amphora_worker_lab, overrides) as lab:
            amp.authorize(public)
            conn = admin_connection(lab)
            before = inventory(conn)
            options = _amphora_options(amp, key, tmp_path)

            # Act
            plan = _sru(
                octavia_sru,
                lab,
                "--os-cloud",
                "lab-admin",
                "run-test-plan",
                "--keypair-name",
                KEYPAIR,
                "--vip-subnet",
                EXT_SUBNET,
                "--reload-count",
                "1",
                "--lb-timeout",
                "300",
                "--step-timeout",
                "120",
                "--keep-resources" if keep else "--no-keep-resources",
                *options,
                "--oom-since-margin",
                "1",
                "--octavia-conf",
                str(lab.octavia_conf),
                "--package-version",
                f"octavia haproxy.cfg templater (lab amphora)={templater}",
                "--report",
                str(report),
                "--json",
                str(data),
            )
            kept = inventory(conn)
            check = cleanup = None
            if keep:
                check = _sru(
                    octavia_sru, lab, "--os-cloud", "lab-admin", "check-amphorae", *options
                )
                cleanup = _sru(octavia_sru, lab, "--os-cloud", "lab-admin", "cleanup", *options)
            after = inventory(conn)

    # Assert: the exit status and the reports tell the verdict; progress came on stderr.
    assert plan.returncode == status, plan.stderr
    assert plan.stdout == ""  # the report went to --report
    parsed = json.loads(data.read_text())
    assert parsed["verdict"] == verdict
    markdown = report.read_text()
    assert "**Verdict: " in markdown and parsed["run_id"] in markdown
    # The package version given is among the report's facts.
    assert f"octavia haproxy.cfg templater (lab amphora) {templater}" in markdown
    ran = [s["name"] for s in parsed["steps"] if s["status"] != "not-run"]
    assert {"preflight", "loadbalancer", "oom-check", "cleanup"} <= set(ran)
    for name in ran:  # a line per step as it happened, with the elapsed time
        line = rf"^\[ *\d+\.\d s\] \[\d+/\d+\] {re.escape(TITLES[name])}: "
        assert re.search(line, plan.stderr, re.MULTILINE), name
    assert f"verdict: {verdict} (" in plan.stderr
    # amp_ssh_key_name was read from the octavia.conf given, and matched the keypair.
    assert parsed["environment"]["amp_ssh_key_name"] == KEYPAIR, parsed["environment"]
    if not keep:
        assert after == before
        return
    assert kept != before  # the run kept what it made
    assert check is not None and cleanup is not None
    assert check.returncode == 0, check.stderr
    checked = json.loads(check.stdout)
    (amphora,) = checked["results"]
    assert amphora["verdict"] == "ok" and amphora["oom_events"] == []
    assert cleanup.returncode == 0, cleanup.stderr
    assert json.loads(cleanup.stdout)["runs"] == {parsed["run_id"]: "cleaned"}
    assert after == before, "resources left after cleanup"


def test_a_wrong_os_cloud_is_a_usage_error_saying_so(octavia_sru, lab):
    # Act
    done = _sru(octavia_sru, lab, "--os-cloud", "no-such-cloud", "run-test-plan")

    # Assert
    assert done.returncode == 2
    assert done.stderr == "octavia-sru: error: Cloud no-such-cloud was not found.\n"
    assert done.stdout == ""


def test_verbose_store_tls_bundle_shows_the_calls_and_no_secret(octavia_sru, lab):
    # Arrange
    name = f"sru-verbose-{uuid.uuid4().hex[:8]}.p12"
    conn = admin_connection(lab)

    # Act
    done = _sru(
        octavia_sru, lab, "--os-cloud", "lab-admin", "store-tls-bundle", "--name", name, "-v"
    )

    # Assert
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    try:
        payload = conn.key_manager.get_secret(results["secret-id"]).payload
        assert (
            f"HTTP POST http://127.0.0.1:{lab.ports['barbican']}/v1/secrets -> 201 ("
            in done.stderr
        )
        assert "/v3/auth/tokens -> 201 (" in done.stderr
        text = done.stdout + done.stderr
        secrets = [lab.passwords["admin"], "PRIVATE KEY", "X-Auth-Token", "X-Subject-Token"]
        # The PKCS#12 (private key inside) as it went to Barbican: base64.
        raw = payload if isinstance(payload, bytes) else str(payload).encode()
        encoded = base64.b64encode(raw).decode()
        for secret in [*secrets, encoded[:64], encoded[-64:]]:
            assert secret not in text
    finally:
        barbican.delete_secret(conn, results["secret-href"])


def test_as_octavia_service_user_what_it_stores_belongs_to_octavias_user(octavia_sru, lab):
    # Arrange: the lab's octavia.conf holds its service user's credentials, as a unit's does.
    import configparser

    conf = configparser.ConfigParser(interpolation=None)
    conf.read(lab.octavia_conf)
    username = conf.get("service_auth", "username")
    name = f"sru-service-user-{uuid.uuid4().hex[:8]}.p12"
    conn = admin_connection(lab)

    # Act
    done = _sru(
        octavia_sru,
        lab,
        "--octavia-service-user",
        "--octavia-conf",
        str(lab.octavia_conf),
        "store-tls-bundle",
        "--name",
        name,
    )

    # Assert
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    octavia_user = connection.connect(
        **{k: conf.get("service_auth", k) for k in cli_cloud.SERVICE_AUTH_KEYS},
        region_name="RegionOne",
        interface="public",
    )
    try:
        # The admin's project cannot read it (Barbican's ACL); Octavia's user can, as its own.
        meta = octavia_user.session.get(results["secret-href"]).json()
        assert meta["creator_id"] == conn.identity.find_user(username, ignore_missing=False).id
        assert conf.get("service_auth", "password") not in done.stdout + done.stderr
    finally:
        barbican.delete_secret(octavia_user, results["secret-href"])
