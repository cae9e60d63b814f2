"""The README's main job: run the SRU test plan of LP #2119987 on the lab, end to end.

It installs ``octavia-sru`` as a verifier does (``pip install .`` into a fresh venv). For each
templater it brings up a lab amphora (real haproxy and sshd in a 1 GiB memory cgroup standing
for a 32 GiB amphora) and the lab control plane whose octavia-worker drives it, runs
``octavia-sru --os-cloud lab-admin run-test-plan ...`` (the library the run-test-plan action
uses), which prints its progress and the Markdown report, then the verdict, and brings both
down. ``--via library`` runs the plan in this process instead, as the action's handler does.

By default it runs twice: with the vulnerable templater (the lab's octavia 14.0.2 as released:
expected "reproduced") and with the fixed one (the same 14.0.2 with the upstream change for
LP #2119987 applied, tests/lab/amphora/patches/: expected "fixed"), so that the two runs differ
in the fix alone, then prints a two-line summary. ``--templater upstream`` runs once with
octavia 17.0.1's templater (expected "fixed"). Exit status: 0 when both verdicts are the
expected ones (with ``--templater``: when the plan ran to a verdict other than "failed"), 1
otherwise, 2 when the lab could not be brought up.

    python -m tests.sru_plan [--templater vulnerable|fixed|upstream] [--reload-count N]
                             [--json DIR]
                             [--via command|library]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "lib"), str(REPO)]

from charmed_octavia.amphora import ssh  # noqa: E402

from tests.lab.networks import EXT_SUBNET  # noqa: E402

KEYPAIR = "amphora-backdoor"
# 1 GiB standing for the bug's 32 GiB amphora (the lab amphora scales the connection limit).
AMPHORA_MEMORY = 1 << 30
EXPECTED = {"vulnerable": "reproduced", "fixed": "fixed", "upstream": "fixed"}


class LabUnavailable(RuntimeError):
    """The lab or its amphora could not be brought up."""


@dataclasses.dataclass
class Outcome:
    templater: str
    description: str  # the templater's Octavia (and patch), as the report names it
    verdict: str
    reason: str
    plan_seconds: float
    total_seconds: float

    @property
    def expected(self) -> str:
        return EXPECTED[self.templater]

    def summary(self) -> str:
        mark = "as expected" if self.verdict == self.expected else "UNEXPECTED"
        return (
            f"{self.description}: verdict {self.verdict} "
            f"(expected {self.expected}, {mark}); plan {self.plan_seconds:.1f} s, "
            f"with lab up/down {self.total_seconds:.1f} s"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sru_plan", description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--templater",
        choices=sorted(EXPECTED),
        help="run once, with this templater (default: both, vulnerable first)",
    )
    parser.add_argument("--reload-count", type=int, default=2)
    parser.add_argument("--connection-limit", type=int, default=-1)
    parser.add_argument(
        "--json", type=Path, help="also write each JSON report into this directory"
    )
    parser.add_argument(
        "--via",
        choices=("command", "library"),
        default="command",
        help="run the plan with the installed octavia-sru (default) or in this process",
    )
    args = parser.parse_args(argv)
    args.script = None
    if args.via == "command":
        from tests.octavia_sru_install import install

        begun = time.monotonic()
        args.script = install(sys.executable, Path(tempfile.mkdtemp(prefix="octavia-sru-")))
        print(f"octavia-sru installed (pip install .) in {time.monotonic() - begun:.1f} s")

    templaters = [args.templater] if args.templater else ["vulnerable", "fixed"]
    started = time.monotonic()
    outcomes: list[Outcome] = []
    for templater in templaters:
        begun = time.monotonic()
        try:
            outcome = _run_once(templater, args)
        except LabUnavailable as e:
            print(f"the lab could not be brought up: {e}", file=sys.stderr)
            return 2
        outcome.total_seconds = time.monotonic() - begun
        outcomes.append(outcome)
    print()
    print(f"SUMMARY ({time.monotonic() - started:.1f} s in all)")
    for outcome in outcomes:
        print(outcome.summary())
    if args.templater:
        return 0 if outcomes[0].verdict != "failed" else 1
    return 0 if all(o.verdict == o.expected for o in outcomes) else 1


def _run_once(templater: str, args: argparse.Namespace) -> Outcome:
    from tests.lab import amphora as lab_amphora
    from tests.lab.control import Lab, LabError

    reason = lab_amphora.unavailable_reason()
    if reason:
        raise LabUnavailable(f"lab amphora: {reason}")
    print(f"==== {templater} templater ====", flush=True)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="sru-plan-"))
    work.chmod(0o700)
    amp = lab_amphora.LabAmphora(memory_bytes=AMPHORA_MEMORY, templater=templater)
    lab: Any = None
    try:
        try:
            amp.start()
            overrides = amp.octavia_overrides()
            # The lab's octavia.conf names the plan's keypair, as the charm's
            # amp-ssh-key-name does.
            overrides.setdefault("controller_worker", {})["amp_ssh_key_name"] = KEYPAIR
            lab = Lab(octavia_overrides=overrides, worker_pythonpath=amp.worker_pythonpath())
            lab.up()
        except (LabError, RuntimeError, OSError) as e:
            raise LabUnavailable(str(e)) from e
        print(
            f"lab up in {time.monotonic() - started:.1f} s ({lab.dir}); lab amphora "
            f"{amp.root}: {AMPHORA_MEMORY >> 20} MiB memory cgroup for a 32 GiB amphora, "
            f"connection limit {amp.connection_limit}, sshd 127.0.0.1:{amp.ssh_port}",
            flush=True,
        )
        private_key, public_key = ssh.ensure_keypair(work / "ssh")
        amp.authorize(public_key)
        versions = _lab_versions(lab.python)
        description = amp.templater_description()
        versions[lab_amphora.TEMPLATER_REPORT_KEY] = description
        print(f"haproxy.cfg templater: {description}", flush=True)
        plan = _Plan(lab, amp, work, private_key, public_key, versions, args)
        data = plan.by_command() if args.script else plan.in_process()
        if args.json:
            args.json.mkdir(parents=True, exist_ok=True)
            path = args.json / f"sru-plan-{templater}.json"
            path.write_text(json.dumps(data, indent=1))
            print(f"JSON report: {path}")
        print(f"VERDICT ({templater} templater): {data['verdict']} ({data['verdict_reason']})")
        return Outcome(
            templater=templater,
            description=description,
            verdict=data["verdict"],
            reason=data["verdict_reason"],
            plan_seconds=data["seconds"],
            total_seconds=0.0,
        )
    finally:
        if lab is not None:
            lab.down()
        amp.stop()
        print(
            f"lab and lab amphora down; {templater} run {time.monotonic() - started:.1f} s",
            flush=True,
        )


@dataclasses.dataclass
class _Plan:
    """One run of the plan on a lab that is up, by the command or in this process."""

    lab: Any
    amp: Any
    work: Path
    private_key: Path
    public_key: str
    versions: dict[str, str]
    args: argparse.Namespace
    origin: str = "PyPI (OpenStack 2024.1 Caracal servers)"

    def by_command(self) -> dict[str, Any]:
        from tests.lab import amphora as lab_amphora

        data = self.work / "report.json"
        command = [
            str(self.args.script),
            "--os-cloud",
            self.lab.admin_cloud,
            "run-test-plan",
            *("--keypair-name", KEYPAIR, "--vip-subnet", EXT_SUBNET),
            *("--reload-count", str(self.args.reload_count)),
            *("--connection-limit", str(self.args.connection_limit)),
            *("--lb-timeout", "300", "--step-timeout", "120"),
            *("--ssh-key", str(self.private_key), "--ssh-user", "root"),
            *("--known-hosts", str(self.work / "known_hosts")),
            # The lab's address map (a named fake): Octavia's noop driver reports 192.0.2.1.
            *("--ssh-address", f"{lab_amphora.LAB_NETWORK_IP}=127.0.0.1:{self.amp.ssh_port}"),
            *("--amphora-haproxy-dir", self.amp.octavia_dir),
            # Same clock as this machine; dmesg's times are to the second.
            *("--oom-since-margin", "1"),
            *("--state-dir", str(self.work / "state"), "--origin", self.origin),
            # amp_ssh_key_name from the lab's octavia.conf, as from the unit's.
            *("--octavia-conf", str(self.lab.octavia_conf)),
            *[f"--package-version={k}={v}" for k, v in self.versions.items()],
            *("--json", str(data)),
        ]
        env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(self.lab.clouds_yaml)}
        print("$ " + " ".join(shlex.quote(c) for c in command[:4]) + " ...", flush=True)
        # Progress (stderr) and the Markdown report (stdout) go straight through.
        done = subprocess.run(command, env=env, check=False, timeout=1800)
        if not data.exists():
            raise LabUnavailable(f"octavia-sru exited {done.returncode} without a report")
        from charmed_octavia.commands.cli import VERDICT_EXIT

        result = json.loads(data.read_text())
        expected = VERDICT_EXIT[result["verdict"]]
        print(f"octavia-sru exit status {done.returncode} (verdict {result['verdict']})")
        if done.returncode != expected:
            raise RuntimeError(f"octavia-sru exited {done.returncode}, not {expected}")
        return result

    def in_process(self) -> dict[str, Any]:
        from charmed_octavia.cloud import connection
        from charmed_octavia.plan import params as plan_params
        from charmed_octavia.plan import report, run

        conn = connection.connect_cloud(self.lab.admin_cloud, self.lab.clouds_yaml)
        ctx = plan_params.PlanContext(
            state_dir=self.work / "state",
            series="lab (Debian 12 host)",
            origin=self.origin,
            package_versions=self.versions,
            amp_ssh_key_name=KEYPAIR,
            public_key=self.public_key,
            amphora_ssh=self.amp.ssh_settings(self.private_key, self.work / "known_hosts"),
            amphora_haproxy_dir=self.amp.octavia_dir,
            oom_since_margin=1.0,
            progress=lambda line: print(line, flush=True),
            cloud_label=f"lab {self.lab.identity_url}",
        )
        params = plan_params.PlanParams(
            keypair_name=KEYPAIR,
            # By name, resolved through the lab's Neutron as on a cloud.
            vip_subnet=EXT_SUBNET,
            reload_count=self.args.reload_count,
            connection_limit=self.args.connection_limit,
            lb_timeout=300,
            step_timeout=120,
        )
        data = run.run_plan(conn, params, ctx).to_dict()
        print()
        print(report.render_markdown(data))
        return data


def _lab_versions(python: Path) -> dict[str, str]:
    """Versions of the servers in the lab's venv (what the report calls package versions)."""
    import subprocess

    code = (
        "import importlib.metadata as m\n"
        "for n in ('octavia', 'keystone', 'barbican', 'nova'):\n"
        "    print(n, m.version(n))\n"
    )
    try:
        out = subprocess.run(
            [str(python), "-c", code], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {
        f"{name} (PyPI)": version for name, version in (line.split() for line in out.splitlines())
    }


if __name__ == "__main__":
    sys.exit(main())
