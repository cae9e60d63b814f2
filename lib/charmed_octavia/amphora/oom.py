"""Kernel OOM-killer reports parsed out of ``journalctl -k`` or ``dmesg`` text.

One kill produces a block of lines: ``<comm> invoked oom-killer: ...``, a task table
(``[  pid  ]   uid  tgid total_vm rss ...``, memory in pages), an ``oom-kill:constraint=...``
line and the summary ``Out of memory: Killed process ...`` (or ``Memory cgroup out of
memory: Killed process ...``). Each block becomes one ``OOMEvent``; task-table lines that
arrive without the rest (as quoted in a bug report) still become an event with its tasks.

Accepted line prefixes: journalctl ``short``/``short-iso``/``short-precise``, ``dmesg
--time-format iso``, ``dmesg`` with ``[seconds]`` and bare kernel messages.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

PAGE_SIZE_KB = 4

# "Feb 02 22:34:24 host kernel: msg"  (journalctl short / syslog)
_SHORT = re.compile(
    r"^(?P<time>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?) \S+ kernel: ?(?P<msg>.*)$"
)
# "2026-02-02T22:34:24+0000 host kernel: msg"  (journalctl short-iso / short-iso-precise)
_ISO_JOURNAL = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?) \S+ kernel: ?"
    r"(?P<msg>.*)$"
)
# "2026-11-21T13:07:40,942281+00:00 msg"  (dmesg --time-format iso)
_ISO_DMESG = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?) (?P<msg>.*)$"
)
# "[ 1234.567890] msg"  (plain dmesg)
_MONOTONIC = re.compile(r"^\[\s*(?P<time>\d+\.\d+)\] (?P<msg>.*)$")

_INVOKED = re.compile(r"^(?P<comm>.+?) invoked oom-killer: (?P<rest>.*)$")
_TASK_HEADER = re.compile(r"^\[\s*pid\s*\]\s+uid\s+tgid\s+total_vm\s+rss\b(?P<cols>.*)\bname$")
_TASK_ROW = re.compile(r"^\[\s*(?P<pid>\d+)\]\s+(?P<nums>(?:-?\d+\s+)+)(?P<name>\S.*)$")
_CONSTRAINT = re.compile(r"^oom-kill:(?P<fields>constraint=.*)$")
_KILLED = re.compile(
    r"^(?P<scope>Memory cgroup out of memory|Out of memory(?: \(oom_kill_allocating_task\))?)"
    r": Killed process (?P<pid>\d+) \((?P<name>[^)]*)\) (?P<rest>.*)$"
)
_KILLED_FIELD = re.compile(r"(?P<key>[A-Za-z_-]+):(?P<value>-?\d+)(?:kB)?")
# Lines that announce a kill; one of them that the parser cannot read is an error, not noise.
_OOM_MARKERS = ("invoked oom-killer", "Killed process", "oom-kill:")


_COLUMNS_5X = ["uid", "tgid", "total_vm", "rss", "pgtables_bytes", "swapents", "oom_score_adj"]
_COLUMNS_6X = [*_COLUMNS_5X[:4], "rss_anon", "rss_file", "rss_shmem", *_COLUMNS_5X[4:]]


class KernelLogError(ValueError):
    """A kernel log line about an OOM kill that this parser cannot read."""


@dataclasses.dataclass
class OOMTask:
    """One row of the OOM task table; memory values converted from pages to KiB."""

    pid: int
    uid: int
    tgid: int
    total_vm_kb: int
    rss_kb: int
    name: str
    rss_anon_kb: int | None = None
    rss_file_kb: int | None = None
    rss_shmem_kb: int | None = None
    pgtables_bytes: int | None = None
    oom_score_adj: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class OOMEvent:
    """One OOM-killer invocation: who was killed, why, and the task table at that moment."""

    time: str | None = None
    invoked_by: str | None = None
    victim_pid: int | None = None
    victim_name: str | None = None
    total_vm_kb: int | None = None
    anon_rss_kb: int | None = None
    file_rss_kb: int | None = None
    shmem_rss_kb: int | None = None
    uid: int | None = None
    constraint: str | None = None
    memcg: str | None = None
    oom_memcg: str | None = None
    cgroup_oom: bool = False
    tasks: list[OOMTask] = dataclasses.field(default_factory=list)

    @property
    def killed(self) -> bool:
        return self.victim_pid is not None

    def has_task(self, name: str) -> bool:
        """Whether the task table lists a process named ``name``."""
        return any(task.name == name for task in self.tasks)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["killed"] = self.killed
        return data


def split_prefix(line: str) -> tuple[str | None, str]:
    """Return (time, message) of one log line in any of the accepted formats."""
    for pattern in (_SHORT, _ISO_JOURNAL, _MONOTONIC, _ISO_DMESG):
        match = pattern.match(line)
        if match:
            return match.group("time"), match.group("msg").strip()
    return None, line.strip()


def _task_from(nums: list[int], name: str, columns: list[str] | None) -> OOMTask:
    # Old kernels (the bug's 5.15): uid tgid total_vm rss pgtables_bytes swapents oom_score_adj.
    # 6.x adds rss_anon rss_file rss_shmem after rss. The header says which, when present.
    if columns is None:
        columns = _COLUMNS_6X if len(nums) == len(_COLUMNS_6X) else _COLUMNS_5X
    if len(nums) != len(columns):
        raise KernelLogError(f"task-table row has {len(nums)} numbers, expected {len(columns)}")
    values = dict(zip(columns, nums, strict=True))

    def pages(key: str) -> int | None:
        return values[key] * PAGE_SIZE_KB if key in values else None

    return OOMTask(
        pid=-1,
        uid=values["uid"],
        tgid=values["tgid"],
        total_vm_kb=values["total_vm"] * PAGE_SIZE_KB,
        rss_kb=values["rss"] * PAGE_SIZE_KB,
        name=name,
        rss_anon_kb=pages("rss_anon"),
        rss_file_kb=pages("rss_file"),
        rss_shmem_kb=pages("rss_shmem"),
        pgtables_bytes=values.get("pgtables_bytes"),
        oom_score_adj=values.get("oom_score_adj"),
    )


def parse_kernel_log(text: str) -> list[OOMEvent]:
    """Every OOM-killer event in ``text``, oldest first.

    Raises ``KernelLogError`` naming the line when a line announcing a kill cannot be read,
    so a garbled log is reported rather than read as "no OOM".
    """
    events: list[OOMEvent] = []
    current: OOMEvent | None = None
    columns: list[str] | None = None

    def start(time: str | None) -> OOMEvent:
        event = OOMEvent(time=time)
        events.append(event)
        return event

    for number, raw in enumerate(text.splitlines(), start=1):
        time, msg = split_prefix(raw)
        try:
            if match := _INVOKED.match(msg):
                current = start(time)
                current.invoked_by = match.group("comm")
                columns = None
            elif match := _TASK_HEADER.match(msg):
                extra = match.group("cols").split()
                columns = ["uid", "tgid", "total_vm", "rss", *extra]
                if current is None or current.killed:
                    current = start(time)
            elif match := _TASK_ROW.match(msg):
                nums = [int(n) for n in match.group("nums").split()]
                task = _task_from(nums, match.group("name").strip(), columns)
                task.pid = int(match.group("pid"))
                if current is None or current.killed:
                    current = start(time)
                current.tasks.append(task)
            elif match := _CONSTRAINT.match(msg):
                fields = dict(
                    part.split("=", 1) for part in match.group("fields").split(",") if "=" in part
                )
                if current is None or current.killed:
                    current = start(time)
                current.constraint = fields.get("constraint")
                current.memcg = fields.get("task_memcg")
                current.oom_memcg = fields.get("oom_memcg")
            elif match := _KILLED.match(msg):
                if current is None or current.killed:
                    current = start(time)
                fields = {
                    m.group("key"): int(m.group("value"))
                    for m in _KILLED_FIELD.finditer(match.group("rest"))
                }
                if "total-vm" not in fields:
                    raise KernelLogError("no total-vm in the kill summary")
                current.time = current.time or time
                current.victim_pid = int(match.group("pid"))
                current.victim_name = match.group("name")
                current.total_vm_kb = fields.get("total-vm")
                current.anon_rss_kb = fields.get("anon-rss")
                current.file_rss_kb = fields.get("file-rss")
                current.shmem_rss_kb = fields.get("shmem-rss")
                current.uid = fields.get("UID")
                current.cgroup_oom = match.group("scope").startswith("Memory cgroup")
                columns = None
            elif any(marker in msg for marker in _OOM_MARKERS):
                raise KernelLogError("OOM line not understood")
        except (KernelLogError, ValueError) as exc:
            shown = raw if len(raw) <= 160 else raw[:157] + "..."
            raise KernelLogError(f"kernel log line {number}: {exc}: {shown!r}") from None
    return events
