"""The lab amphora's haproxy: its ``haproxy.cfg`` from Octavia's own templater (the lab venv's
octavia as released or patched, or 17.0.1's: releases.py), its check, start and reload as the
amphora runs them, and the waits that tell a reload's outcome (a new ready worker, or an OOM
kill in the amphora's cgroup).

Standard library only: the lab amphora's driver uses these from the octavia-worker.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.lab import procs
from tests.lab import venv as lab_venv
from tests.lab.amphora import releases
from tests.lab.amphora.cgroup import cgroup_oom_kills
from tests.lab.files import fill_template, write_executable

HAPROXY = "/usr/sbin/haproxy"
HERE = Path(__file__).resolve().parent
TEMPLATER = HERE / "templater.py"


def child_pids(pid: int) -> list[int]:
    """The children of ``pid`` (haproxy's workers of a master), from /proc."""
    return sorted(p for p, fields in procs.live_processes() if int(fields[1]) == pid)


def _vsz_pages(pids: set[int]) -> list[int] | None:
    try:
        return [int(Path(f"/proc/{p}/statm").read_text().split()[0]) for p in sorted(pids)]
    except (FileNotFoundError, ProcessLookupError):
        return None


def wait_for_reload(
    cgroup_dir: Path, master_pid: int, old_workers: set[int], kills_before: int, settle: float
) -> dict[str, Any]:
    """After a start or reload: wait for a new ready worker or an OOM kill in the cgroup."""
    deadline = time.monotonic() + settle
    new: set[int] = set()
    while time.monotonic() < deadline:
        if cgroup_oom_kills(cgroup_dir) > kills_before:
            time.sleep(1)  # let the kernel finish printing its report
            break
        if not Path(f"/proc/{master_pid}").exists():
            break
        new = set(child_pids(master_pid)) - old_workers
        # A worker is ready once its cache is mapped: its VSZ no longer grows.
        if new:
            before = _vsz_pages(new)
            time.sleep(0.3)
            if before is not None and before == _vsz_pages(new):
                break
        time.sleep(0.2)
    return {
        "oom_kills": cgroup_oom_kills(cgroup_dir) - kills_before,
        "master_alive": Path(f"/proc/{master_pid}").exists(),
        "new_workers": sorted(new),
    }


def run_templater(spec: dict[str, Any], templater: str) -> dict[str, str]:
    """haproxy.cfg for ``spec`` (see templater.py) rendered in the lab venv by ``templater``'s
    octavia (releases.py: its own, patched or 17.0.1)."""
    python = lab_venv.ensure_venv() / "bin" / "python"
    cmd = [str(python), str(TEMPLATER)]
    path = releases.octavia_path(templater)
    if path is not None:
        cmd += ["--octavia-path", str(path)]
    out = subprocess.run(cmd, input=json.dumps(spec), capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"Octavia's templater failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def install_wrapper(root: Path, cgroup_dir: Path) -> None:
    """``<root>/bin/amphora-haproxy`` (scripts/amphora-haproxy.sh): haproxy's check and start
    in the amphora's cgroup, for the lab amphora's driver."""
    write_executable(
        root / "bin/amphora-haproxy",
        fill_template(
            HERE / "scripts" / "amphora-haproxy.sh",
            {"__CGROUP__": str(cgroup_dir), "__HAPROXY__": HAPROXY},
        ),
    )


def check_config(
    args: list[str], preexec_fn: Callable[[], None]
) -> subprocess.CompletedProcess[str]:
    """``haproxy -c`` of the configuration files in ``args``, run as ``preexec_fn`` sets up."""
    return subprocess.run(
        [HAPROXY, "-c", "-q", *args], capture_output=True, text=True, preexec_fn=preexec_fn
    )


def start_master(
    run_dir: Path, args: list[str], preexec_fn: Callable[[], None]
) -> subprocess.Popen[bytes]:
    """haproxy in master-worker mode (foreground), its master socket and pid file in
    ``run_dir``, its log in ``run_dir/haproxy.log``."""
    return subprocess.Popen(
        [
            HAPROXY,
            "-W",
            "-db",
            "-S",
            str(run_dir / "master.sock"),
            *args,
            "-p",
            str(run_dir / "haproxy.pid"),
        ],
        preexec_fn=preexec_fn,
        stdout=subprocess.DEVNULL,
        stderr=open(run_dir / "haproxy.log", "ab"),
    )


def wait_workers(master: subprocess.Popen[bytes], log: Path, count: int, timeout: float) -> None:
    """Wait until the master has ``count`` workers; raise if it exits or none comes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if master.poll() is not None:
            raise RuntimeError(f"haproxy exited: {log.read_text()[-2000:]}")
        if len(child_pids(master.pid)) >= count:
            return
        time.sleep(0.1)
    raise RuntimeError("haproxy started no worker")
