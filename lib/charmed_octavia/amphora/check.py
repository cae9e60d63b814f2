"""The read-only amphora check: OOM kills, haproxy memory and TLS-cache headroom.

``check_amphorae`` runs ``scripts/collect.sh`` on every amphora (see ``fanout``) and
``interpret`` turns its output into a verdict: ``oom-seen``, ``at-risk``, ``ok``,
``unreachable`` or ``error`` with the reason.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from charmed_octavia.amphora import haproxy_config, memory_model, oom
from charmed_octavia.amphora.fanout import Job, load_script, run_all
from charmed_octavia.amphora.results import (
    VERDICTS,
    AmphoraResult,
    CheckReport,
    ConfigCheck,
    HaproxyProcess,
)

if TYPE_CHECKING:
    from charmed_octavia.amphora.discovery import Amphora
    from charmed_octavia.amphora.ssh import CommandResult, SSHSettings

__all__ = [
    "COLLECT_SCRIPT",
    "HAPROXY_DIR",
    "VERDICTS",
    "check_amphorae",
    "interpret",
    "parse_since",
    "reader_time",
]

# Where an amphora keeps <load balancer id>/haproxy.cfg (Octavia's haproxy_amphora base_path).
HAPROXY_DIR = "/var/lib/octavia"
# Read-only collection, run as ``sh -s -- SINCE DIR``; sections are marked with "@@".
COLLECT_SCRIPT = load_script("collect.sh")
_LIMIT_UNLIMITED = 1 << 60
_RELATIVE = re.compile(r"-(?P<count>\d{1,6})(?P<unit>[smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
UTC = datetime.timezone.utc


def parse_since(since: str | datetime.datetime | None, now: datetime.datetime | None = None):
    """``since`` as an aware time, or None for the whole boot; ``ValueError`` if it is none.

    Accepted: an ISO 8601 date or time ("2026-02-02", "2026-02-02 22:00:00", "...T22:00Z",
    "...+01:00"; UTC when no offset is given), "-90s", "-30m", "-1h", "-2d" (before ``now``),
    "today" and "yesterday" (UTC midnight), or an aware ``datetime``.
    """
    if since is None or since == "":
        return None
    if isinstance(since, datetime.datetime):
        if since.tzinfo is None:
            raise ValueError("since must be an aware time (with its UTC offset)")
        return since
    now = now or datetime.datetime.now(UTC)
    text = since if isinstance(since, str) else ""
    relative = _RELATIVE.fullmatch(text)
    if relative:
        return now - datetime.timedelta(**{_UNITS[relative["unit"]]: int(relative["count"])})
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if text in ("today", "yesterday"):
        return midnight - datetime.timedelta(days=1 if text == "yesterday" else 0)
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        shown = repr(since) if len(repr(since)) <= 64 else repr(since)[:63] + "\u2026"
        raise ValueError(
            f"since {shown} is not a time: use e.g. '2026-02-02 22:00:00' (UTC), "
            "'2026-02-02T22:00:00+01:00', '-1h', '-30m' or 'today'"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def reader_time(moment: datetime.datetime) -> str:
    """The one form both kernel-log readers take, in UTC (the script sets TZ=UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


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


def _assess_configs(
    result: AmphoraResult, files: list[tuple[str, str]], problems: list[str]
) -> list[str]:
    """Fill ``result.configs``; the configurations whose reload peak exceeds the memory."""
    memory_kb = result.memory_kb
    at_risk: list[str] = []
    for path, body in files:
        try:
            settings = haproxy_config.parse(body, path)
        except haproxy_config.HaproxyConfigError as exc:
            problems.append(str(exc))
            continue
        assessment = None
        if memory_kb:
            maxconn = settings.maxconn or memory_model.HAPROXY_DEFAULT_CACHESIZE
            assessment = memory_model.assess(memory_kb, settings.ssl_cachesize, maxconn)
            if assessment.at_risk:
                at_risk.append(
                    f"{path}: reload peak {_mib(assessment.reload_peak_kb)} > "
                    f"{_mib(memory_kb)} (cachesize {assessment.cachesize}, "
                    f"{assessment.formula.formula} formula)"
                )
        result.configs.append(ConfigCheck(settings, assessment))
    return at_risk


def _judge(result: AmphoraResult, problems: list[str], at_risk: list[str]) -> None:
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
            f"{c.settings.path}: reload peak {_mib(c.assessment.reload_peak_kb)} of "
            f"{_mib(result.memory_kb or 0)} ({c.assessment.formula.formula} formula)"
            for c in result.configs
            if c.assessment is not None
        ]
        result.verdict = "ok"
        result.reason = "no OOM kill; " + ("; ".join(details) or "memory unknown")


def _read_status(log_lines: list[str], source: str, stderr: str) -> str | None:
    """Why the kernel log was not read whole (its reader's exit status), or None."""
    codes = [line.split()[1] for line in log_lines if line.startswith("@@rc ")]
    if codes and codes[-1] == "0":
        return None
    said = " ".join(stderr.strip().splitlines()[-2:])[-300:]
    code = codes[-1] if codes else "no exit status"
    return f"{source} could not read the kernel log (exit {code}){': ' + said if said else ''}"


def interpret(result: AmphoraResult, output: str, haproxy_dir: str, stderr: str = "") -> None:
    """Fill ``result`` from the collection script's output and decide the verdict. A kernel
    log that was not read whole is a problem: "no OOM" is only said of a log read whole."""
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
    unread = _read_status(log_lines, result.log_source or "the kernel log reader", stderr)
    if unread:
        problems.append(unread)
    if "@@nopidof" in sections.get("ps", []):
        problems.append("pidof not found on the amphora: haproxy processes not listed")
    try:
        text = "\n".join(line for line in log_lines if not line.startswith("@@"))
        result.oom_events = oom.parse_kernel_log(text)
    except oom.KernelLogError as exc:
        problems.append(f"{result.log_source or 'kernel log'}: {exc}")
    files, dir_exists = _configs(sections["configs"])
    at_risk = _assess_configs(result, files, problems)
    if not files and not problems:
        problems.append(
            f"no haproxy.cfg under {haproxy_dir}"
            if dir_exists
            else f"{haproxy_dir} does not exist on the amphora"
        )
    _judge(result, problems, at_risk)


def check_amphorae(
    amphorae: Iterable[Amphora],
    *,
    ssh: SSHSettings,
    since: str | datetime.datetime | None = None,
    concurrency: int = 10,
    timeout: float = 30.0,
    haproxy_dir: str = HAPROXY_DIR,
) -> CheckReport:
    """Collect and judge every amphora; ``haproxy_dir`` is where the haproxy.cfg files are;
    ``since`` as ``parse_since`` takes it."""
    moment = parse_since(since)
    since_value = reader_time(moment) if moment else ""
    started = time.monotonic()

    def handle(result: AmphoraResult, output: CommandResult) -> None:
        if output.exit_status not in (0, None) and "@@end" not in output.stdout:
            result.verdict = "error"
            result.reason = (
                f"collection failed (exit {output.exit_status}): "
                f"{output.stderr.strip()[-300:] or 'no error output'}"
            )
            return
        interpret(result, output.stdout, haproxy_dir, output.stderr)

    job = Job(COLLECT_SCRIPT, [since_value, haproxy_dir], timeout, handle)
    results = run_all(amphorae, ssh, job, concurrency)
    return CheckReport(results, since=since_value or None, seconds=time.monotonic() - started)
