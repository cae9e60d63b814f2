"""The README's main job: run the SRU test plan of LP #2119987 on the lab, end to end.

For each templater it brings up a lab amphora (real haproxy and sshd in a 1 GiB memory
cgroup standing for a 32 GiB amphora) and the lab control plane whose octavia-worker drives
it, runs the plan through the same library the run-test-plan action uses, prints the
Markdown report and the verdict, and brings both down.

By default it runs twice: with the vulnerable templater (the lab's octavia 14.0.x: expected
"reproduced") and with the fixed one (octavia 17.0.1's: expected "fixed"), then prints a
two-line summary. Exit status: 0 when both verdicts are the expected ones (with
``--templater``: when the plan ran to a verdict other than "failed"), 1 otherwise, 2 when the
lab could not be brought up.

    python -m tests.sru_plan [--templater vulnerable|fixed] [--reload-count N] [--json DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "lib"), str(REPO)]

from charmed_octavia.amphora import ssh  # noqa: E402
from charmed_octavia.cloud import connection  # noqa: E402
from charmed_octavia.plan import params as plan_params  # noqa: E402
from charmed_octavia.plan import report, run  # noqa: E402

KEYPAIR = "amphora-backdoor"
# 1 GiB standing for the bug's 32 GiB amphora (the lab amphora scales the connection limit).
AMPHORA_MEMORY = 1 << 30
EXPECTED = {"vulnerable": "reproduced", "fixed": "fixed"}


class LabUnavailable(RuntimeError):
    """The lab or its amphora could not be brought up."""


@dataclasses.dataclass
class Outcome:
    templater: str
    release: str
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
            f"{self.templater} templater (octavia {self.release}): verdict {self.verdict} "
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
    args = parser.parse_args(argv)

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
        conn = connection.connect_cloud(lab.admin_cloud, lab.clouds_yaml)
        private_key, public_key = ssh.ensure_keypair(work / "ssh")
        amp.authorize(public_key)
        versions = _lab_versions(lab.python)
        release = (
            lab_amphora.FIXED_RELEASE
            if templater == "fixed"
            else versions.get("octavia (PyPI)", "14.0.x")
        )
        versions["octavia haproxy.cfg templater (lab amphora)"] = f"{release} ({templater})"
        assert amp.cgroup is not None
        ctx = plan_params.PlanContext(
            state_dir=work / "state",
            series="lab (Debian 12 host)",
            origin="PyPI (OpenStack 2024.1 Caracal servers)",
            package_versions=versions,
            amp_ssh_key_name=KEYPAIR,
            public_key=public_key,
            amphora_ssh=amp.ssh_settings(private_key, work / "known_hosts"),
            amphora_haproxy_dir=amp.octavia_dir,
            # Same clock as this machine; dmesg's times are to the second.
            oom_since_margin=1.0,
            progress=lambda line: print(line, flush=True),
            cloud_label=f"lab {lab.identity_url}",
        )
        params = plan_params.PlanParams(
            keypair_name=KEYPAIR,
            # The lab's noop network driver accepts any subnet id; there is no Neutron.
            vip_subnet=str(uuid.uuid4()),
            reload_count=args.reload_count,
            connection_limit=args.connection_limit,
            lb_timeout=300,
            step_timeout=120,
        )
        result = run.run_plan(conn, params, ctx)
        data = result.to_dict()
        print()
        print(report.render_markdown(data))
        if args.json:
            args.json.mkdir(parents=True, exist_ok=True)
            path = args.json / f"sru-plan-{templater}.json"
            path.write_text(report.render_json(data))
            print(f"JSON report: {path}")
        print(f"VERDICT ({templater} templater): {result.verdict} ({result.verdict_reason})")
        return Outcome(
            templater=templater,
            release=release,
            verdict=result.verdict,
            reason=result.verdict_reason,
            plan_seconds=result.seconds,
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
