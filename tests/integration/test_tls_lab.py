"""The TLS lab (``Lab(tls=True)``): every API over https only, with a certificate from a lab CA,
and the SRU test plan run end to end against it (the fixed templater's lab amphora, so that
every step runs), its clients trusting the CA only through clouds.yaml's ``cacert``."""

from __future__ import annotations

import http.client
import json
import ssl
import time
import urllib.error
import urllib.request

import pytest
from charmed_octavia.amphora import ssh
from charmed_octavia.cloud import connection
from charmed_octavia.plan import run
from charmed_octavia.plan.params import PlanParams
from openstack import exceptions as sdk_exceptions

from tests.infrastructure import require
from tests.integration.conftest import start_lab
from tests.integration.plan_helpers import amphora_plan_context, inventory
from tests.lab import amphora as lab_amphora
from tests.lab.networks import EXT_SUBNET

pytestmark = [pytest.mark.lab, pytest.mark.amphora]
KEYPAIR = "amphora-backdoor"
# What would let a client trust a CA other than through clouds.yaml.
CA_VARIABLES = (
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "OS_CACERT",
)


def _catalog_urls(conn) -> list[str]:
    catalog = conn.session.auth.get_access(conn.session).service_catalog.catalog
    return [e["url"] for entry in catalog for e in entry["endpoints"]]


def _plain_http_answers(port: int) -> bool:
    try:
        # S310: a loopback URL built here.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10):
            return True
    except urllib.error.HTTPError:
        return True  # an HTTP status is an HTTP answer
    except (urllib.error.URLError, http.client.HTTPException, OSError):
        return False


def test_the_plan_runs_end_to_end_on_the_tls_lab_trusting_its_ca_only_through_clouds_yaml(
    tmp_path, monkeypatch, capsys
):
    require(lab_amphora.unavailable_reason(), "the lab amphora")
    # Arrange: no CA but the lab's clouds.yaml's, a lab amphora, and the TLS lab driving it.
    for name in CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    private, public = ssh.ensure_keypair(tmp_path / "ssh")
    logs: list[str] = []
    with lab_amphora.LabAmphora(memory_bytes=1 << 30, templater="fixed") as amp:
        overrides = amp.octavia_overrides()
        overrides["controller_worker"]["amp_ssh_key_name"] = KEYPAIR
        begun = time.monotonic()
        lab = start_lab(
            octavia_overrides=overrides, worker_pythonpath=amp.worker_pythonpath(), tls=True
        )
        try:
            started, rss = time.monotonic() - begun, lab.rss_bytes()
            assert lab.tls is not None and lab.ca_file is not None
            amp.authorize(public)
            clouds = json.loads(lab.clouds_yaml.read_text())
            without_ca = tmp_path / "clouds-without-ca.yaml"
            for cloud in clouds["clouds"].values():
                cloud.pop("cacert")
            without_ca.write_text(json.dumps(clouds))
            untrusting = connection.connect_cloud(lab.admin_cloud, without_ca)
            conn = connection.connect_cloud(lab.admin_cloud, lab.clouds_yaml)
            before = inventory(conn)
            ctx = amphora_plan_context(amp, KEYPAIR, (private, public), tmp_path, logs.append)
            params = PlanParams(
                keypair_name=KEYPAIR,
                vip_subnet=EXT_SUBNET,
                reload_count=1,
                lb_timeout=300,
                step_timeout=120,
            )

            # Act
            with pytest.raises(sdk_exceptions.SDKException) as refused:
                untrusting.authorize()
            system_trust = ssl.create_default_context()
            with pytest.raises(urllib.error.URLError) as unverified:
                # S310: a loopback URL built here.
                urllib.request.urlopen(lab.identity_url, timeout=10, context=system_trust)  # noqa: S310
            plain = {
                name: _plain_http_answers(lab.ports[name]) for name in ("keystone", "neutron")
            }
            urls = _catalog_urls(conn)
            planned = time.monotonic()
            result = run.run_plan(conn, params, ctx)
            plan_seconds = time.monotonic() - planned
            after = inventory(conn)
            ca_key_mode = lab.tls.ca_key_file.stat().st_mode & 0o777
            tls_dir_mode = lab.tls.ca_key_file.parent.stat().st_mode & 0o777
        finally:
            lab.down()

    # Assert: TLS is on (no answer over http, no trust without the CA), on every endpoint.
    assert "certificate verify failed" in str(refused.value).lower()
    assert isinstance(unverified.value.reason, ssl.SSLCertVerificationError)
    assert plain == {"keystone": False, "neutron": False}
    assert urls and all(u.startswith("https://127.0.0.1:") for u in urls), urls
    assert lab.identity_url.startswith("https://")
    assert (ca_key_mode, tls_dir_mode) == (0o600, 0o700)
    # The whole plan ran over TLS to the fixed templater's verdict, and cleaned up.
    assert result.verdict == "fixed", (result.verdict_reason, result.failure, logs)
    assert result.failed_step is None
    for step in result.steps:
        assert step.status in ("ok", "warning", "reused"), (step.name, step.evidence)
    assert result.step("cleanup").status == "ok"
    assert after == before
    with capsys.disabled():
        print(
            f"\nTLS lab: up in {started:.1f} s (its phases: {lab.timings['up']:.1f} s), "
            f"RSS {rss >> 20} MiB; plan {plan_seconds:.1f} s"
        )
