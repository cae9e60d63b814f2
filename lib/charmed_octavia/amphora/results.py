"""What a check or a preparation found on each amphora, typed, and as JSON-ready dicts.

Verdicts per amphora: ``oom-seen``, ``at-risk``, ``ok``, ``unreachable`` or ``error``, each with
its reason. ``to_dict`` gives the shape the actions' and the plan's reports carry.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from charmed_octavia.amphora import oom
from charmed_octavia.amphora.haproxy_config import HaproxyMemorySettings
from charmed_octavia.amphora.memory_model import MemoryAssessment

VERDICTS = ("oom-seen", "at-risk", "ok", "unreachable", "error")


@dataclasses.dataclass
class HaproxyProcess:
    pid: int
    ppid: int
    user: str
    vsz_kb: int
    rss_kb: int


@dataclasses.dataclass(frozen=True)
class ConfigCheck:
    """One haproxy.cfg's memory settings and, when the memory is known, their assessment."""

    settings: HaproxyMemorySettings
    assessment: MemoryAssessment | None = None

    @property
    def formula(self) -> str | None:
        """The Octavia formula that rendered the cache size (None: memory unknown)."""
        return self.assessment.formula.formula if self.assessment else None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = self.settings.to_dict()
        if self.assessment is not None:
            data["assessment"] = self.assessment.to_dict()
        return data


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
    configs: list[ConfigCheck] = dataclasses.field(default_factory=list)
    changed: bool | None = None
    seconds: float = 0.0

    @property
    def memory_kb(self) -> int | None:
        """The memory haproxy can use: MemTotal, or its memory cgroup's limit if lower."""
        values = [v for v in (self.mem_total_kb, self.memory_limit_kb) if v]
        return min(values) if values else None

    def haproxy_kills(self) -> list[oom.OOMEvent]:
        """The OOM events that killed haproxy: the summary names it, or (a task table alone,
        as quoted in a bug) haproxy is in the table."""
        return [
            event
            for event in self.oom_events
            if (event.victim_name == "haproxy" if event.killed else event.has_task("haproxy"))
        ]

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
            "configs": [config.to_dict() for config in self.configs],
            "changed": self.changed,
            "seconds": round(self.seconds, 3),
        }


def summarize(results: list[AmphoraResult]) -> dict[str, int]:
    """How many amphorae got each verdict (every verdict listed, zero or not)."""
    counts: dict[str, int] = dict.fromkeys(VERDICTS, 0)
    for result in results:
        counts[result.verdict] = counts.get(result.verdict, 0) + 1
    return counts


@dataclasses.dataclass
class CheckReport:
    results: list[AmphoraResult]
    since: str | None = None
    seconds: float = 0.0

    @property
    def summary(self) -> dict[str, int]:
        return summarize(self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "seconds": round(self.seconds, 3),
            "summary": self.summary,
            "results": [result.to_dict() for result in self.results],
        }
