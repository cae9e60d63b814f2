"""Benchmark: the bug's test plan typed as `openstack` CLI commands versus the library's plan,
both against the same lab, measured in one run. Goal: the plan at least 5x faster.

    .venv/bin/python -m tests.bench.bench_plan_vs_cli

The CLI (python-openstackclient with the Octavia and Barbican plugins) is installed into its
own virtualenv, built once under ~/.cache/charmed-octavia. The CLI side runs the test plan's
commands with ``--wait`` as the test plan does, openssl for the PKCS#12, and deletes everything
at the end (the plan cleans up too). One step cannot be typed here: ``loadbalancer create``
and ``loadbalancer delete`` ask Neutron (VIP subnet, VIP port), which the lab does not run;
those two calls are made with openstacksdk on the CLI side (the calls the plan makes, so they
only narrow the ratio) and their ``--wait`` is the CLI's ``loadbalancer show`` polled every
3 s, as octaviaclient's ``--wait`` polls.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "lib"), str(REPO)]

from charmed_octavia.amphora import ssh  # noqa: E402
from charmed_octavia.cloud import connection  # noqa: E402
from charmed_octavia.plan import params as plan_params  # noqa: E402
from charmed_octavia.plan import run  # noqa: E402

CLI_PACKAGES = ("python-openstackclient", "python-octaviaclient", "python-barbicanclient")
KEYPAIR = "amphora-backdoor"


def cli_venv() -> Path:
    key = hashlib.sha256(" ".join(CLI_PACKAGES).encode()).hexdigest()[:12]
    root = Path.home() / ".cache" / "charmed-octavia" / f"cli-venv-{key}"
    if not (root / "bin" / "openstack").exists():
        subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
        subprocess.run([str(root / "bin" / "pip"), "install", "-q", *CLI_PACKAGES], check=True)
    return root


class Cli:
    def __init__(self, venv: Path, clouds_yaml: Path, cloud_name: str) -> None:
        self.exe = str(venv / "bin" / "openstack")
        self.env = {
            **os.environ,
            "OS_CLIENT_CONFIG_FILE": str(clouds_yaml),
            "OS_CLOUD": cloud_name,
        }
        self.commands = 0

    def succeeds(self, *args: str) -> bool:
        try:
            self(*args)
        except RuntimeError:
            return False
        return True

    def __call__(self, *args: str) -> str:
        self.commands += 1
        done = subprocess.run(
            [self.exe, *args], env=self.env, capture_output=True, text=True, timeout=600
        )
        if done.returncode:
            raise RuntimeError(f"openstack {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip()


def run_cli(cli: Cli, conn, work: Path, public_key: str) -> float:
    openssl = ["openssl"]
    start = time.monotonic()
    key_file = work / "id.pub"
    key_file.write_text(public_key + "\n")
    cli("keypair", "create", "--public-key", str(key_file), KEYPAIR)
    cli(
        "flavor",
        "create",
        "--ram",
        "32768",
        "--disk",
        "10",
        "--vcpus",
        "4",
        "--id",
        "10",
        "m1.xxlarge",
    )
    cli(
        "loadbalancer",
        "flavorprofile",
        "create",
        "--name",
        "o1.xxlarge",
        "--provider",
        "amphora",
        "--flavor-data",
        '{"compute_flavor": "10"}',
    )
    cli(
        "loadbalancer",
        "flavor",
        "create",
        "--name",
        "o1.xxlarge",
        "--flavorprofile",
        "o1.xxlarge",
        "--description",
        "Extra large LB",
        "--enable",
    )
    # A CA and a server certificate with openssl, then the PKCS#12, as the test plan does.
    for argv in (
        [
            *openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "365",
            "-subj",
            "/CN=xxlarge.devstack CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        [
            *openssl,
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=xxlarge.devstack",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
        ],
        [
            *openssl,
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "365",
            "-out",
            "srv.pem",
        ],
        [
            *openssl,
            "pkcs12",
            "-export",
            "-inkey",
            "srv.key",
            "-in",
            "srv.pem",
            "-certfile",
            "ca.pem",
            "-passout",
            "pass:",
            "-out",
            "xxlarge.devstack.p12",
        ],
    ):
        subprocess.run(argv, cwd=work, check=True, capture_output=True)
    import base64

    payload = base64.b64encode((work / "xxlarge.devstack.p12").read_bytes()).decode()
    href = cli(
        "secret",
        "store",
        "--name=xxlarge.devstack.p12",
        "-t",
        "application/octet-stream",
        "-e",
        "base64",
        f"--payload={payload}",
        "-f",
        "value",
        "-c",
        "Secret href",
    )
    flavor_id = cli("loadbalancer", "flavor", "show", "o1.xxlarge", "-f", "value", "-c", "id")
    lb = conn.load_balancer.create_load_balancer(
        name="lb1-xxlarge", vip_subnet_id=str(uuid.uuid4()), flavor_id=flavor_id
    )
    while (
        cli("loadbalancer", "show", lb.id, "-f", "value", "-c", "provisioning_status") != "ACTIVE"
    ):
        time.sleep(3)
    cli(
        "loadbalancer",
        "listener",
        "create",
        "--wait",
        "--name",
        "thttps",
        "--protocol",
        "TERMINATED_HTTPS",
        "--protocol-port",
        "443",
        "--default-tls-container-ref",
        href,
        lb.id,
    )
    cli(
        "loadbalancer",
        "pool",
        "create",
        "--name",
        "xxlarge_p1",
        "--lb-algorithm",
        "ROUND_ROBIN",
        "--listener",
        "thttps",
        "--protocol",
        "HTTP",
        "--wait",
    )
    # Cleanup, as the plan does.
    # `loadbalancer delete` also asks Neutron about the VIP: same sdk call, CLI-polled wait.
    conn.load_balancer.delete_load_balancer(lb.id, cascade=True)
    while cli.succeeds("loadbalancer", "show", lb.id, "-f", "value", "-c", "id"):
        time.sleep(3)
    cli("secret", "delete", href)
    cli("loadbalancer", "flavor", "delete", "o1.xxlarge")
    cli("loadbalancer", "flavorprofile", "delete", "o1.xxlarge")
    cli("flavor", "delete", "10")
    cli("keypair", "delete", KEYPAIR)
    return time.monotonic() - start


def run_plan(conn, work: Path, public_key: str) -> tuple[float, str]:
    ctx = plan_params.PlanContext(
        state_dir=work / "state", amp_ssh_key_name=KEYPAIR, public_key=public_key
    )
    params = plan_params.PlanParams(
        keypair_name=KEYPAIR,
        vip_subnet=str(uuid.uuid4()),
        prepare_amphora=False,
        check_amphorae=False,
        lb_timeout=300,
        step_timeout=120,
    )
    start = time.monotonic()
    result = run.run_plan(conn, params, ctx)
    elapsed = time.monotonic() - start
    if result.failed_step:
        raise RuntimeError(f"plan failed at {result.failed_step}: {result.failure}")
    return elapsed, result.verdict


def main() -> int:
    from tests.lab.control import Lab

    venv = cli_venv()
    with (
        Lab(octavia_overrides={"controller_worker": {"amp_ssh_key_name": KEYPAIR}}) as lab,
        tempfile.TemporaryDirectory() as tmp,
    ):
        work = Path(tmp)
        conn = connection.connect_cloud(lab.admin_cloud, lab.clouds_yaml)
        _, public_key = ssh.ensure_keypair(work / "ssh")
        cli = Cli(venv, lab.clouds_yaml, lab.admin_cloud)
        # Warm both paths once (token caches, first-request costs in the services).
        cli("catalog", "list")
        plan_warm, _ = run_plan(conn, work / "warm", public_key)
        cli_s = run_cli(cli, conn, work, public_key)
        plan_s, verdict = run_plan(conn, work / "measured", public_key)
    print(f"CLI ({cli.commands} openstack commands + openssl, --wait): {cli_s:.1f} s")
    print(
        f"library plan (same steps + cleanup, verdict {verdict}): {plan_s:.1f} s "
        f"(warm-up run {plan_warm:.1f} s)"
    )
    print(f"ratio CLI / plan: {cli_s / plan_s:.1f}x (goal >= 5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
