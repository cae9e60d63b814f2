"""The README's main job: bring the lab up, run the SRU test plan of LP #2119987 through the
same library the run-test-plan action uses, print the Markdown report and the verdict, bring
the lab down.

Exit status 0 when the plan ran to a verdict (whatever the verdict), 1 when a step failed,
2 when the lab could not be brought up.

    python -m tests.sru_plan [--reload-count N] [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "lib"), str(REPO)]

from charmed_octavia import cloud, report, ssh, testplan  # noqa: E402

KEYPAIR = "amphora-backdoor"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sru_plan", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reload-count", type=int, default=2)
    parser.add_argument("--connection-limit", type=int, default=-1)
    parser.add_argument("--json", type=Path, help="also write the JSON report here")
    args = parser.parse_args(argv)

    from tests.lab.control import Lab, LabError

    work = Path(tempfile.mkdtemp(prefix="sru-plan-"))
    work.chmod(0o700)
    started = time.monotonic()
    # The lab's octavia.conf names the plan's keypair, as the charm's amp-ssh-key-name does.
    lab = Lab(octavia_overrides={"controller_worker": {"amp_ssh_key_name": KEYPAIR}})
    try:
        try:
            lab.up()
        except LabError as e:
            print(f"the lab could not be brought up: {e}", file=sys.stderr)
            return 2
        print(f"lab up in {time.monotonic() - started:.1f} s ({lab.dir})", flush=True)
        conn = cloud.connect_cloud(lab.admin_cloud, lab.clouds_yaml)
        _, public_key = ssh.ensure_keypair(work / "ssh")
        ctx = testplan.PlanContext(
            state_dir=work / "state",
            series="lab (Debian 12 host)",
            origin="PyPI (OpenStack 2024.1 Caracal servers)",
            package_versions=_lab_versions(lab.python),
            amp_ssh_key_name=KEYPAIR,
            public_key=public_key,
            # No lab amphora is wired to the lab's noop Octavia worker here, so the amphora
            # steps report that they did not run and the verdict says so.
            amphora_ssh=None,
            progress=lambda line: print(line, flush=True),
            cloud_label=f"lab {lab.identity_url}",
        )
        params = testplan.PlanParams(
            keypair_name=KEYPAIR,
            # The lab's noop network driver accepts any subnet id; there is no Neutron.
            vip_subnet=str(uuid.uuid4()),
            reload_count=args.reload_count,
            connection_limit=args.connection_limit,
            lb_timeout=300,
            step_timeout=120,
        )
        result = testplan.run_plan(conn, params, ctx)
        data = result.to_dict()
        print()
        print(report.render_markdown(data))
        if args.json:
            args.json.write_text(report.render_json(data))
        print(f"VERDICT: {result.verdict} ({result.verdict_reason})")
        print(f"plan {result.seconds:.1f} s; total {time.monotonic() - started:.1f} s")
        return 1 if result.verdict == "failed" else 0
    finally:
        lab.down()
        print(f"lab down; total {time.monotonic() - started:.1f} s", flush=True)


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
