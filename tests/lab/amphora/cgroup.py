"""The lab amphora's memory: a child memory cgroup (v1 or v2) of this process's own, with a hard
limit standing for the amphora's RAM, and what the amphora agent would report from it.

Standard library only: the lab amphora's driver reads the cgroup from the octavia-worker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def _own_memory_cgroup() -> tuple[int, Path] | None:
    """(cgroup version, directory) of this process's memory cgroup."""
    lines = Path("/proc/self/cgroup").read_text().splitlines()
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return 1, Path("/sys/fs/cgroup/memory") / path.lstrip("/")
    for line in lines:
        if line.startswith("0::"):
            base = Path("/sys/fs/cgroup") / line[3:].lstrip("/")
            if "memory" in (Path("/sys/fs/cgroup") / "cgroup.controllers").read_text().split():
                return 2, base
    return None


def memory_cgroup_problem() -> str | None:
    """Why no child memory cgroup can be made here, or ``None`` (it may enable the v2 memory
    controller below this process's cgroup, as a child needs it)."""
    own = _own_memory_cgroup()
    if own is None:
        return "no memory cgroup controller in /proc/self/cgroup (cgroup v1 or v2 needed)"
    version, parent = own
    probe = parent / f"lab-amphora-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        return f"memory cgroup {parent} is not writable: {exc.strerror}"
    if version == 2 and "memory" not in (parent / "cgroup.subtree_control").read_text().split():
        try:
            (parent / "cgroup.subtree_control").write_text("+memory")
        except OSError as exc:
            return f"cannot enable the memory controller below {parent}: {exc.strerror}"
    return None


def cgroup_meminfo_kb(directory: Path, limit_bytes: int) -> dict[str, int]:
    """What the amphora agent would report from /proc/meminfo in a VM of the cgroup's size."""
    version = 1 if (directory / "memory.limit_in_bytes").exists() else 2
    stats: dict[str, int] = {}
    for line in (directory / "memory.stat").read_text().splitlines():
        key, value = line.split()
        stats[key] = int(value)
    cached = (
        stats.get("total_cache", stats.get("cache", 0)) if version == 1 else stats.get("file", 0)
    )
    usage_name = "memory.usage_in_bytes" if version == 1 else "memory.current"
    usage = int((directory / usage_name).read_text())
    return {
        "total": limit_bytes // 1024,
        "free": max(0, limit_bytes - usage) // 1024,
        "buffers": 0,
        "cached": cached // 1024,
    }


def cgroup_oom_kills(directory: Path) -> int:
    """How many processes the kernel OOM-killer has killed in the cgroup."""
    name = "memory.oom_control" if (directory / "memory.oom_control").exists() else "memory.events"
    for line in (directory / name).read_text().splitlines():
        key, value = line.split()
        if key == "oom_kill":
            return int(value)
    return 0


class MemoryCgroup:
    """A child memory cgroup of this process's own, with a hard limit; removed by ``remove``."""

    def __init__(self, name: str, limit_bytes: int) -> None:
        own = _own_memory_cgroup()
        if own is None:
            raise RuntimeError("no memory cgroup")
        self.version, parent = own
        self.dir = parent / name
        self.dir.mkdir()
        if self.version == 1:
            (self.dir / "memory.limit_in_bytes").write_text(str(limit_bytes))
        else:
            (self.dir / "memory.max").write_text(str(limit_bytes))
            (self.dir / "memory.swap.max").write_text("0")
        self.limit_bytes = limit_bytes
        root = Path("/sys/fs/cgroup/memory" if self.version == 1 else "/sys/fs/cgroup")
        # The path the kernel prints as memcg= / task_memcg=.
        self.kernel_path = "/" + str(self.dir.relative_to(root))

    @property
    def procs_file(self) -> Path:
        return self.dir / "cgroup.procs"

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in self.procs_file.read_text().split()]
        except FileNotFoundError:
            return []

    def oom_kills(self) -> int:
        return cgroup_oom_kills(self.dir)

    def meminfo_kb(self) -> dict[str, int]:
        """What the amphora agent would report from /proc/meminfo in a VM of this size."""
        return cgroup_meminfo_kb(self.dir, self.limit_bytes)

    def remove(self, started: list[int]) -> None:
        """Kill what is left inside (only processes this lab started or their children)."""
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        for _ in range(50):
            try:
                self.dir.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"cannot remove {self.dir} (started pids {started})")
