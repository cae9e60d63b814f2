"""Process groups, the lab's state file and free ports on 127.0.0.1 (standard library only:
the watchdog, and the lab amphora's driver in the lab venv, use it).

Every server the lab starts leads its own process group (``start_new_session``), so stopping
a service signals that group and nothing else: other users' processes of the same programs
are never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

STATE_FILE = "lab-state.json"


def read_state(lab_dir: Path) -> dict:
    try:
        return json.loads((lab_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def write_state(lab_dir: Path, state: dict) -> None:
    tmp = lab_dir / f"{STATE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    os.replace(tmp, lab_dir / STATE_FILE)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0) but is gone for every practical purpose.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def live_processes() -> Iterator[tuple[int, list[str]]]:
    """Every live (not zombie) process: its pid and the fields of /proc/<pid>/stat after the
    command name (state, ppid, pgrp, ...)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            yield int(entry.name), fields


def rss_by_group(groups: dict[int, str]) -> dict[str, int]:
    """The resident memory of the processes of each process group in ``groups`` (its id to a
    name), summed by name."""
    rss = dict.fromkeys(groups.values(), 0)
    for pid, fields in live_processes():
        name = groups.get(int(fields[2]))
        if name is None:
            continue
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss[name] += int(line.split()[1]) * 1024
    return rss


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (identifies it across PID reuse)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def group_is_ours(pgid: int, started: int | None) -> bool:
    """Whether the recorded group (leader PID and start time) is still the one we started.

    PIDs wrap around on a busy machine. While any member of a process group lives, Linux does
    not hand its PGID out as a new PID, so: leader gone but members alive -> still ours; leader
    present with the recorded start time -> ours; leader with another start time -> reused.
    """
    leader = start_time(pgid)
    if leader is None:
        return group_alive(pgid)
    return started is None or leader == started


def recorded_groups(state: dict) -> list[int]:
    """The state's process groups that are alive and still the lab's own."""
    groups = []
    for svc in state.get("services", {}).values():
        pgid = svc.get("pgid")
        if pgid and group_is_ours(int(pgid), svc.get("start")):
            groups.append(int(pgid))
    return groups


def stop_group(pgid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after ``timeout``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return
        # Reap our own children so that they do not linger as zombies.
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(-pgid, os.WNOHANG)
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and group_alive(pgid):
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(-pgid, os.WNOHANG)
        time.sleep(0.05)


def stop_groups(pgids: list[int], timeout: float = 10.0) -> None:
    """Stop several process groups concurrently: TERM all, wait, KILL the stragglers."""
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(group_alive(g) for g in pgids):
        for pgid in pgids:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(-pgid, os.WNOHANG)
        time.sleep(0.05)
    for pgid in pgids:
        if group_alive(pgid):
            stop_group(pgid, timeout=0)


def free_ports(count: int) -> list[int]:
    """Distinct free ports on 127.0.0.1 (held together so that none is handed out twice)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    """A free port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_udp_port() -> int:
    """A free UDP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def udp_bound(port: int, host: str = "127.0.0.1", table: Path = Path("/proc/net/udp")) -> bool:
    """Whether a UDP socket is bound to ``host:port`` (read from the kernel's table: binding
    the port to find out would take it from the server about to bind it)."""
    octets = socket.inet_aton(host)
    wanted = f"{int.from_bytes(octets, sys.byteorder):08X}:{port:04X}"
    try:
        lines = table.read_text().splitlines()[1:]
    except OSError:
        return False
    return any(line.split()[1] == wanted for line in lines if line.strip())


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def teardown_from_state(lab_dir: Path, remove_dir: bool = True) -> None:
    """Stop every process group recorded in the lab's state file, then remove the lab dir."""
    state = read_state(lab_dir)
    stop_groups(recorded_groups(state))
    watchdog = state.get("watchdog_pid")
    watchdog_start = state.get("watchdog_start")
    if (
        watchdog
        and watchdog != os.getpid()
        and (watchdog_start is None or start_time(int(watchdog)) == watchdog_start)
    ):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(watchdog), signal.SIGTERM)
    if remove_dir and state.get("owns_dir", True):
        shutil.rmtree(lab_dir, ignore_errors=True)


@contextlib.contextmanager
def started(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """Stop the process group of ``proc`` (one we started) on the way out."""
    try:
        yield proc
    finally:
        stop_group(proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def wait_for(
    what: str,
    ready: Callable[[], object],
    timeout: float = 180.0,
    proc: subprocess.Popen | None = None,
) -> object:
    """``ready()``'s first true result, polled; raises once ``timeout`` passes or ``proc``
    exits."""
    deadline = time.monotonic() + timeout
    while True:
        result = ready()
        if result:
            return result
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited ({proc.returncode})")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not after {timeout:.0f}s")
        time.sleep(0.5)
