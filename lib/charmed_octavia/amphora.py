"""Amphora inspection over SSH: OOM kills, haproxy memory and TLS-cache headroom.

``discover`` lists amphorae through the Octavia amphora API; ``check_amphorae`` runs one
read-only shell script per amphora (one SSH session each, concurrently with a bound and a
deadline per amphora) and turns its output into a verdict: ``oom-seen``, ``at-risk``, ``ok``,
``unreachable`` or ``error`` with the reason. ``prepare_amphorae`` applies the SRU test plan's
systemd timeouts. A failing amphora never stops the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shlex
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from charmed_octavia import haproxy_config, memory_model, oom
from charmed_octavia import ssh as _ssh

if TYPE_CHECKING:
    from openstack.connection import Connection

VERDICTS = ("oom-seen", "at-risk", "ok", "unreachable", "error")
OCTAVIA_DIR = "/var/lib/octavia"
# journalctl/dmesg --since accepts these; anything else is refused before connecting.
_SINCE = re.compile(r"^[0-9A-Za-z :+\-.,]{1,64}$")
_LIMIT_UNLIMITED = 1 << 60

# Read-only collection, run as ``sh -s -- SINCE DIR``; sections are marked with "@@". One
# shell and three programs (kernel log, pidof, one awk) whatever the number of haproxy
# processes or configurations: process start-up is most of a session's cost on the amphora.
COLLECT_SCRIPT = r"""
since=$1
dir=$2
echo "@@section oom"
journal=
for f in /run/log/journal/*/*.journal /var/log/journal/*/*.journal; do
    if [ -e "$f" ]; then journal=1; break; fi
done
if [ -n "$journal" ] && command -v journalctl >/dev/null 2>&1; then
    echo "@@source journalctl"
    if [ -n "$since" ]; then journalctl -k --no-pager -q -o short-iso --since "$since"
    else journalctl -k -b --no-pager -q -o short-iso; fi
else
    echo "@@source dmesg"
    if [ -n "$since" ]; then dmesg --time-format iso --since "$since"
    else dmesg --time-format iso; fi
fi
echo "@@rc $?"
# Octavia's layout: <dir>/<load balancer id>/haproxy.cfg (a glob is sorted).
set --
nodir=
if [ -d "$dir" ]; then
    for f in "$dir"/*/haproxy.cfg; do
        if [ -f "$f" ]; then set -- "$@" "$f"; fi
    done
else
    nodir=1
fi
# One awk for the rest, its operands read in order (phase=... are assignments between them):
# the haproxy pids on stdin, each process's /proc/PID/status as ps would show it (pid, ppid,
# user, vsz, rss, name; pidof and one awk cost a third of ps, which loads many libraries
# and reads every process's stat, status, cmdline and environ), MemTotal/MemAvailable, then
# per haproxy process (and this shell) its memory cgroup and effective limit (v1
# hierarchical_memory_limit, v2 the lowest memory.max up the tree), then every haproxy.cfg.
# /proc files are read with getline: a process gone since pidof is skipped, not an error.
# Without pidof the haproxy processes cannot be listed: say so rather than list none.
nopidof=
command -v pidof >/dev/null 2>&1 || nopidof=1
pidof haproxy 2>/dev/null | awk -v self="$$" -v nodir="$nodir" -v nopidof="$nopidof" '
function memcg(pid,   file, line, f) {
    file = "/proc/" pid "/cgroup"
    while ((getline line < file) > 0) {
        split(line, f, ":")
        if (f[2] ~ /(^|,)memory(,|$)/) v1[pid] = f[3]
        else if (f[1] == "0") v2[pid] = substr(line, 4)
    }
    close(file)
}
function user(uid,   line, f) {
    if (!passwd_read) {
        while ((getline line < "/etc/passwd") > 0) {
            split(line, f, ":")
            if (!(f[3] in users)) users[f[3]] = f[1]
        }
        close("/etc/passwd")
        passwd_read = 1
    }
    return (uid in users) ? users[uid] : uid
}
function process(pid,   file, line, k, name, ppid, uid, vsz, rss) {
    file = "/proc/" pid "/status"
    vsz = 0
    rss = 0
    while ((getline line < file) > 0) {
        split(line, k, /[ \t]+/)
        if (k[1] == "Name:") name = k[2]
        else if (k[1] == "PPid:") ppid = k[2]
        else if (k[1] == "Uid:") uid = k[3]
        else if (k[1] == "VmSize:") vsz = k[2]
        else if (k[1] == "VmRSS:") rss = k[2]
    }
    close(file)
    if (name == "") return
    print pid, ppid, user(uid), vsz, rss, name
    memcg(pid)
}
function meminfo_header() {
    if (!meminfo_shown) print "@@section meminfo"
    meminfo_shown = 1
}
function configs_header() {
    if (configs_shown) return
    meminfo_header()
    limits()
    print "@@section configs"
    if (nodir != "") print "@@nodir"
    configs_shown = 1
}
function limits(   pid, limit, file, line, kv, p, v) {
    print "@@section cgroup"
    for (pid in v1) {
        limit = "max"
        file = "/sys/fs/cgroup/memory" v1[pid] "/memory.stat"
        while ((getline line < file) > 0) {
            split(line, kv, " ")
            if (kv[1] == "hierarchical_memory_limit") limit = kv[2]
        }
        close(file)
        print pid, limit, v1[pid]
    }
    for (pid in v2) {
        if (pid in v1) continue
        limit = "max"
        p = v2[pid]
        while (p != "") {
            file = "/sys/fs/cgroup" p "/memory.max"
            if ((getline v < file) > 0 && v != "max" && (limit == "max" || v + 0 < limit + 0))
                limit = v
            close(file)
            if (p == "/") break
            sub(/\/[^\/]*$/, "", p)
            if (p == "") p = "/"
        }
        print pid, limit, v2[pid]
    }
}
BEGIN { print "@@section ps"; if (nopidof != "") print "@@nopidof"; memcg(self) }
phase == "ps" {
    # In pid order, as ps lists them (pidof lists the newest first).
    n = 0
    for (i = 1; i <= NF; i++) {
        if ($i !~ /^[0-9]+$/) continue
        for (j = n; j > 0 && pids[j] + 0 > $i + 0; j--) pids[j + 1] = pids[j]
        pids[j + 1] = $i
        n++
    }
    for (i = 1; i <= n; i++) process(pids[i])
    next
}
phase == "meminfo" { meminfo_header(); print; next }
{
    configs_header()
    if (FNR == 1) print "@@file " FILENAME
    print
}
END { configs_header() }
' phase=ps - phase=meminfo /proc/meminfo phase=configs "$@"
echo "@@end"
"""

# The SRU plan's systemd change, idempotent: daemon-reload only when the file changed.
PREPARE_SCRIPT = r"""
f=/etc/systemd/system.conf
changed=0
for key in DefaultTimeoutStartSec DefaultTimeoutStopSec; do
    if grep -Eq "^$key=infinity[[:space:]]*$" "$f"; then continue; fi
    if grep -Eq "^#?[[:space:]]*$key=" "$f"; then
        sed -i -E "s/^#?[[:space:]]*$key=.*/$key=infinity/" "$f" || exit 2
    else
        printf '%s=infinity\n' "$key" >> "$f" || exit 2
    fi
    changed=1
done
if [ "$changed" = 1 ]; then systemctl daemon-reload || exit 3; fi
echo "@@changed $changed"
"""


@dataclasses.dataclass(frozen=True)
class SSHSettings:
    """How to reach amphorae. ``address_map`` maps an ``lb_network_ip`` to (host, port)."""

    private_key_path: Path
    known_hosts_path: Path
    username: str = "ubuntu"
    address_map: Mapping[str, tuple[str, int]] = dataclasses.field(default_factory=dict)
    port: int = 22

    def endpoint(self, lb_network_ip: str) -> tuple[str, int]:
        return self.address_map.get(lb_network_ip, (lb_network_ip, self.port))


@dataclasses.dataclass(frozen=True)
class Amphora:
    id: str
    loadbalancer_id: str | None
    lb_network_ip: str | None
    role: str | None = None
    compute_id: str | None = None
    status: str | None = None


@dataclasses.dataclass
class HaproxyProcess:
    pid: int
    ppid: int
    user: str
    vsz_kb: int
    rss_kb: int


@dataclasses.dataclass
class AmphoraResult:
    amphora_id: str
    loadbalancer_id: str | None
    address: str | None
    verdict: str
    reason: str
    oom_events: list[oom.OOMEvent] = dataclasses.field(default_factory=list)
    log_source: str | None = None
    haproxy_processes: list[HaproxyProcess] = dataclasses.field(default_factory=list)
    mem_total_kb: int | None = None
    mem_available_kb: int | None = None
    memory_limit_kb: int | None = None
    configs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    changed: bool | None = None
    seconds: float = 0.0

    @property
    def memory_kb(self) -> int | None:
        """The memory haproxy can use: MemTotal, or its memory cgroup's limit if lower."""
        values = [v for v in (self.mem_total_kb, self.memory_limit_kb) if v]
        return min(values) if values else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "amphora_id": self.amphora_id,
            "loadbalancer_id": self.loadbalancer_id,
            "address": self.address,
            "verdict": self.verdict,
            "reason": self.reason,
            "oom_events": [event.to_dict() for event in self.oom_events],
            "log_source": self.log_source,
            "haproxy_processes": [dataclasses.asdict(p) for p in self.haproxy_processes],
            "mem_total_kb": self.mem_total_kb,
            "mem_available_kb": self.mem_available_kb,
            "memory_limit_kb": self.memory_limit_kb,
            "memory_kb": self.memory_kb,
            "configs": self.configs,
            "changed": self.changed,
            "seconds": round(self.seconds, 3),
        }


@dataclasses.dataclass
class CheckReport:
    results: list[AmphoraResult]
    since: str | None = None
    seconds: float = 0.0

    @property
    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(VERDICTS, 0)
        for result in self.results:
            counts[result.verdict] = counts.get(result.verdict, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "seconds": round(self.seconds, 3),
            "summary": self.summary,
            "results": [result.to_dict() for result in self.results],
        }


def discover(conn: Connection, loadbalancer: str | None = None) -> list[Amphora]:
    """Amphorae of one load balancer (id or name) or of all; deleted ones are left out."""
    query: dict[str, str] = {}
    if loadbalancer:
        lb = conn.load_balancer.find_load_balancer(loadbalancer, ignore_missing=False)
        query["loadbalancer_id"] = lb.id
    found = []
    for amp in conn.load_balancer.amphorae(**query):
        if amp.status == "DELETED":
            continue
        found.append(
            Amphora(
                id=amp.id,
                loadbalancer_id=amp.loadbalancer_id,
                lb_network_ip=amp.lb_network_ip,
                role=amp.role,
                compute_id=amp.compute_id,
                status=amp.status,
            )
        )
    return sorted(found, key=lambda a: (a.loadbalancer_id or "", a.role or "", a.id))


def validate_since(since: str | None) -> str:
    """An empty or journalctl/dmesg ``--since`` value; ``ValueError`` otherwise."""
    if not since:
        return ""
    if not _SINCE.match(since):
        raise ValueError(
            f"since {since!r} is not a time: use e.g. '2026-02-02 22:00:00', '-1h' or 'today'"
        )
    return since


def _sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("@@section "):
            current = sections.setdefault(line.split(None, 1)[1].strip(), [])
        elif current is not None:
            current.append(line)
    return sections


def _meminfo(lines: Iterable[str]) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in lines:
        match = re.match(r"^(\S+):\s+(\d+)", line)
        if match:
            values[match.group(1)] = int(match.group(2))
    return values


def _haproxy_processes(lines: Iterable[str]) -> list[HaproxyProcess]:
    procs = []
    for line in lines:
        parts = line.split()
        if len(parts) == 6 and parts[5] == "haproxy" and parts[0].isdigit():
            procs.append(
                HaproxyProcess(
                    int(parts[0]), int(parts[1]), parts[2], int(parts[3]), int(parts[4])
                )
            )
    return procs


def _memory_limit_kb(lines: Iterable[str]) -> int | None:
    limits = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < _LIMIT_UNLIMITED:
            limits.append(int(parts[1]) // 1024)
    return min(limits) if limits else None


def _configs(lines: list[str]) -> tuple[list[tuple[str, str]], bool]:
    files: list[tuple[str, list[str]]] = []
    for line in lines:
        if line == "@@nodir":
            return [], False
        if line == "@@end":
            break
        if line.startswith("@@file "):
            files.append((line[len("@@file ") :], []))
        elif files:
            files[-1][1].append(line)
    return [(path, "\n".join(body)) for path, body in files], True


def _mib(kb: int) -> str:
    return f"{kb / 1024:.0f} MiB"


def interpret(result: AmphoraResult, output: str, haproxy_dir: str) -> None:
    """Fill ``result`` from the collection script's output and decide the verdict."""
    sections = _sections(output)
    if "configs" not in sections or "@@end" not in sections["configs"]:
        result.verdict, result.reason = "error", "collection output incomplete"
        return
    log_lines = sections.get("oom", [])
    result.log_source = next(
        (line.split()[1] for line in log_lines if line.startswith("@@source ")), None
    )
    mem = _meminfo(sections.get("meminfo", []))
    result.mem_total_kb = mem.get("MemTotal")
    result.mem_available_kb = mem.get("MemAvailable")
    result.memory_limit_kb = _memory_limit_kb(sections.get("cgroup", []))
    result.haproxy_processes = _haproxy_processes(sections.get("ps", []))
    problems: list[str] = []
    if "@@nopidof" in sections.get("ps", []):
        problems.append("pidof not found on the amphora: haproxy processes not listed")
    try:
        text = "\n".join(line for line in log_lines if not line.startswith("@@"))
        result.oom_events = oom.parse_kernel_log(text)
    except oom.KernelLogError as exc:
        problems.append(f"{result.log_source or 'kernel log'}: {exc}")

    files, dir_exists = _configs(sections["configs"])
    memory_kb = result.memory_kb
    at_risk: list[str] = []
    for path, body in files:
        try:
            settings = haproxy_config.parse(body, path)
        except haproxy_config.HaproxyConfigError as exc:
            problems.append(str(exc))
            continue
        entry: dict[str, Any] = settings.to_dict()
        if memory_kb:
            maxconn = settings.maxconn or memory_model.HAPROXY_DEFAULT_CACHESIZE
            assessment = memory_model.assess(memory_kb, settings.ssl_cachesize, maxconn)
            entry["assessment"] = assessment.to_dict()
            if assessment.at_risk:
                at_risk.append(
                    f"{path}: reload peak {_mib(assessment.reload_peak_kb)} > "
                    f"{_mib(memory_kb)} (cachesize {assessment.cachesize}, "
                    f"{assessment.formula.formula} formula)"
                )
        result.configs.append(entry)
    if not files and not problems:
        problems.append(
            f"no haproxy.cfg under {haproxy_dir}"
            if dir_exists
            else f"{haproxy_dir} does not exist on the amphora"
        )

    kills = [event for event in result.oom_events if event.killed or event.tasks]
    if kills:
        last = kills[-1]
        result.verdict = "oom-seen"
        result.reason = (
            f"{len(kills)} OOM-killer event(s); last at {last.time}: killed "
            f"{last.victim_name} pid {last.victim_pid}, total-vm {last.total_vm_kb} kB, "
            f"shmem-rss {last.shmem_rss_kb} kB, {last.constraint}, memcg {last.memcg}"
        )
        if problems:
            result.reason += "; also: " + "; ".join(problems)
    elif problems:
        result.verdict, result.reason = "error", "; ".join(problems)
    elif at_risk:
        result.verdict, result.reason = "at-risk", "; ".join(at_risk)
    else:
        details = [
            f"{c['path']}: reload peak {_mib(c['assessment']['reload_peak_kb'])} of "
            f"{_mib(memory_kb or 0)} ({c['assessment']['formula']['formula']} formula)"
            for c in result.configs
            if "assessment" in c
        ]
        result.verdict = "ok"
        result.reason = "no OOM kill; " + ("; ".join(details) or "memory unknown")


def _remote(settings: SSHSettings, script_args: list[str]) -> str:
    command = shlex.join(["sh", "-s", "--", *script_args])
    # A real amphora logs in as an unprivileged user with passwordless sudo.
    return command if settings.username == "root" else f"sudo -n {command}"


# Amphorae reached through one endpoint (one SSH server: the lab maps them so) share a
# connection, a session each; below OpenSSH's default MaxSessions of 10.
SESSIONS_PER_CONNECTION = 8


async def _group(
    amps: list[Amphora],
    settings: SSHSettings,
    client_key: Any,
    store: _ssh.HostKeyStore,
    record_lock: asyncio.Lock,
    slots: tuple[asyncio.Semaphore, asyncio.Lock],
    timeout: float,
    script: str,
    args: list[str],
    handle: Any,
) -> list[AmphoraResult]:
    """Check amphorae of one endpoint and one recorded host key over one connection."""
    first = amps[0]
    assert first.lb_network_ip is not None
    host, port = settings.endpoint(first.lb_network_ip)
    results = [
        AmphoraResult(amp.id, amp.loadbalancer_id, f"{host}:{port}", "error", "") for amp in amps
    ]
    semaphore, acquiring = slots
    async with acquiring:  # all of a group's slots at once, so that groups cannot deadlock
        for _ in amps:
            await semaphore.acquire()
    started = time.monotonic()
    try:
        outputs = await asyncio.wait_for(
            _ssh.run_commands(
                amphora_ids=[amp.id for amp in amps],
                host=host,
                port=port,
                username=settings.username,
                client_key=client_key,
                host_keys=store,
                record_lock=record_lock,
                command=_remote(settings, args),
                stdin=script,
                connect_timeout=timeout,
            ),
            timeout,
        )
    except _ssh.SSHFailure as exc:
        for result in results:
            result.verdict, result.reason = exc.kind, exc.reason
    except (asyncio.TimeoutError, TimeoutError):
        for result in results:
            result.verdict = "unreachable"
            result.reason = f"no answer from {host}:{port} within {timeout:g} s"
    except Exception as exc:  # one amphora's failure must not stop the others
        for result in results:
            result.verdict, result.reason = "error", f"{type(exc).__name__}: {exc}"
    else:
        for result, output in zip(results, outputs, strict=True):
            if isinstance(output, _ssh.SSHFailure):
                result.verdict, result.reason = output.kind, output.reason
            else:
                handle(result, output)
    finally:
        for _ in amps:
            semaphore.release()
    for result in results:
        result.seconds = time.monotonic() - started
    return results


def _groups(
    amps: list[Amphora], settings: SSHSettings, store: _ssh.HostKeyStore, size: int
) -> list[list[int]]:
    """Indexes into ``amps``: by endpoint and recorded host key, at most ``size`` each."""
    by_key: dict[tuple[str, int, str], list[int]] = {}
    for index, amp in enumerate(amps):
        assert amp.lb_network_ip is not None
        host, port = settings.endpoint(amp.lb_network_ip)
        known = store.get(amp.id)
        recorded = known.export_public_key("openssh").decode() if known is not None else ""
        by_key.setdefault((host, port, recorded), []).append(index)
    return [
        members[i : i + size] for members in by_key.values() for i in range(0, len(members), size)
    ]


def _run_all(
    amphorae: Iterable[Amphora],
    settings: SSHSettings,
    concurrency: int,
    timeout: float,
    script: str,
    args: list[str],
    handle: Any,
) -> list[AmphoraResult]:
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    amps = list(amphorae)
    client_key = _ssh.load_client_key(settings.private_key_path)
    store = _ssh.HostKeyStore(settings.known_hosts_path)
    results: dict[int, AmphoraResult] = {}
    reachable: list[Amphora] = []
    positions: list[int] = []
    for index, amp in enumerate(amps):
        if amp.lb_network_ip:
            reachable.append(amp)
            positions.append(index)
        else:
            results[index] = AmphoraResult(
                amp.id, amp.loadbalancer_id, None, "unreachable", "amphora has no lb_network_ip"
            )
    groups = _groups(reachable, settings, store, min(SESSIONS_PER_CONNECTION, concurrency))

    async def main() -> list[list[AmphoraResult]]:
        record_lock = asyncio.Lock()
        slots = (asyncio.Semaphore(concurrency), asyncio.Lock())
        return list(
            await asyncio.gather(
                *(
                    _group(
                        [reachable[i] for i in group],
                        settings,
                        client_key,
                        store,
                        record_lock,
                        slots,
                        timeout,
                        script,
                        args,
                        handle,
                    )
                    for group in groups
                )
            )
        )

    for group, got in zip(groups, asyncio.run(main()), strict=True):
        for index, result in zip(group, got, strict=True):
            results[positions[index]] = result
    return [results[i] for i in range(len(amps))]


def check_amphorae(
    amphorae: Iterable[Amphora],
    *,
    ssh: SSHSettings,
    since: str | None = None,
    concurrency: int = 10,
    timeout: float = 30.0,
    haproxy_dir: str = OCTAVIA_DIR,
) -> CheckReport:
    """Collect and judge every amphora; ``haproxy_dir`` is where the haproxy.cfg files are."""
    since_value = validate_since(since)
    started = time.monotonic()

    def handle(result: AmphoraResult, output: _ssh.CommandResult) -> None:
        if output.exit_status not in (0, None) and "@@end" not in output.stdout:
            result.verdict = "error"
            result.reason = (
                f"collection failed (exit {output.exit_status}): "
                f"{output.stderr.strip()[-300:] or 'no error output'}"
            )
            return
        interpret(result, output.stdout, haproxy_dir)

    results = _run_all(
        amphorae, ssh, concurrency, timeout, COLLECT_SCRIPT, [since_value, haproxy_dir], handle
    )
    return CheckReport(results, since=since_value or None, seconds=time.monotonic() - started)


def prepare_amphorae(
    amphorae: Iterable[Amphora],
    *,
    ssh: SSHSettings,
    concurrency: int = 10,
    timeout: float = 30.0,
) -> list[AmphoraResult]:
    """Set systemd's default start/stop timeouts to infinity and reload systemd (once)."""

    def handle(result: AmphoraResult, output: _ssh.CommandResult) -> None:
        match = re.search(r"^@@changed (\d)$", output.stdout, re.M)
        if output.exit_status == 0 and match:
            result.changed = match.group(1) == "1"
            result.verdict = "ok"
            result.reason = (
                "DefaultTimeoutStartSec/DefaultTimeoutStopSec set to infinity; systemd reloaded"
                if result.changed
                else "already prepared; nothing changed"
            )
        else:
            step = {2: "editing /etc/systemd/system.conf", 3: "systemctl daemon-reload"}.get(
                output.exit_status or 0, "the preparation script"
            )
            result.verdict = "error"
            result.reason = (
                f"{step} failed (exit {output.exit_status}): "
                f"{output.stderr.strip()[-300:] or 'no error output'}"
            )

    return _run_all(amphorae, ssh, concurrency, timeout, PREPARE_SCRIPT, [], handle)
