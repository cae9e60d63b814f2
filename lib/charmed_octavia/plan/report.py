"""The test-plan report: Markdown ready to paste into the Launchpad bug, and the same as JSON.

Both are rendered from ``PlanResult.to_dict()`` so they can never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

VERDICT_HEADLINES = {
    "reproduced": "REPRODUCED: the haproxy reload was OOM-killed in the amphora",
    "fixed": "FIXED: no OOM, and the cache is sized by the fixed formula",
    "not-reproduced": "NOT REPRODUCED: no OOM in the amphora",
    "at-risk": "AT RISK: no OOM seen, but the reload peak is predicted above the memory",
    "inconclusive": "INCONCLUSIVE: the amphora OOM check did not run",
    "failed": "FAILED: the plan did not complete",
}
# Kernel lines quoted per OOM event; enough to identify the victim without flooding the bug.
MAX_EVENT_LINES = 6


def _cell(value: Any) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    text = "" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _event_lines(event: Mapping[str, Any]) -> list[str]:
    """An OOM event (charmed_octavia.oom.OOMEvent.to_dict()) as a few readable lines."""
    lines = []
    if event.get("victim_pid") is not None:
        memory = ", ".join(
            f"{label} {event[key]} kB"
            for key, label in (
                ("total_vm_kb", "total-vm"),
                ("anon_rss_kb", "anon-rss"),
                ("file_rss_kb", "file-rss"),
                ("shmem_rss_kb", "shmem-rss"),
            )
            if event.get(key) is not None
        )
        scope = "memory cgroup " if event.get("cgroup_oom") else ""
        lines.append(
            f"{event.get('time') or '?'} {scope}out of memory: killed process "
            f"{event['victim_pid']} ({event.get('victim_name') or '?'}) {memory}".rstrip()
        )
    elif event.get("invoked_by"):
        lines.append(f"{event.get('time') or '?'} {event['invoked_by']} invoked oom-killer")
    where = ", ".join(
        f"{label} {event[key]}"
        for key, label in (
            ("invoked_by", "invoked by"),
            ("constraint", "constraint"),
            ("memcg", "memcg"),
            ("oom_memcg", "oom_memcg"),
        )
        if event.get(key) and not (key == "invoked_by" and event.get("victim_pid") is None)
    )
    if where:
        lines.append(f"  {where}")
    for task in (event.get("tasks") or [])[: MAX_EVENT_LINES - len(lines)]:
        lines.append(
            f"  task {task.get('name')} pid {task.get('pid')}: total_vm "
            f"{task.get('total_vm_kb')} kB, rss {task.get('rss_kb')} kB"
        )
    return lines or [json.dumps(event, sort_keys=True, default=str)[:300]]


def _kib(value: Any) -> str:
    return f"{value / 1024:.0f} MiB" if isinstance(value, (int, float)) else "?"


def _config_rows(amphorae: list[Mapping[str, Any]]) -> list[list[Any]]:
    """One row per haproxy.cfg: the cache Octavia rendered, the formula, the reload peak."""
    rows = []
    for a in amphorae:
        for c in a.get("configs") or []:
            assessment = c.get("assessment") or {}
            formula = assessment.get("formula") or {}
            rows.append(
                [
                    a.get("amphora_id", "?"),
                    c.get("path", "?"),
                    c.get("ssl_cachesize") if c.get("ssl_cachesize") is not None else "default",
                    c.get("maxconn"),
                    (
                        f"{formula.get('formula')}: {formula.get('description')}"
                        if formula
                        else "?"
                    ),
                    _kib(assessment.get("cache_kb")),
                    _kib(assessment.get("reload_peak_kb")),
                    _kib(assessment.get("memory_kb")),
                    _kib(assessment.get("headroom_kb")),
                ]
            )
    return rows


def _config_section(amphorae: list[Mapping[str, Any]]) -> list[str]:
    """The haproxy.cfg table and how its memory columns are computed."""
    configs = _config_rows(amphorae)
    if not configs:
        return []
    lines = ["", "haproxy.cfg as Octavia rendered it, and the memory model:", ""]
    lines += _table(
        [
            "Amphora",
            "haproxy.cfg",
            "tune.ssl.cachesize",
            "maxconn",
            "Formula",
            "Cache",
            "Reload peak",
            "Memory",
            "Headroom",
        ],
        configs,
    )
    per_entry = next(
        (
            (
                c["assessment"].get("bytes_per_entry"),
                c["assessment"].get("bytes_per_entry_source"),
            )
            for a in amphorae
            for c in a.get("configs") or []
            if c.get("assessment")
        ),
        None,
    )
    if per_entry and per_entry[0]:
        lines += [
            "",
            f"Cache = tune.ssl.cachesize x {per_entry[0]} bytes per entry ({per_entry[1]}); "
            "reload peak = two generations (cache + base) + 32 KiB per connection.",
        ]
    return lines


def _amphora_section(data: Mapping[str, Any]) -> list[str]:
    lines = ["### Amphora OOM check", ""]
    check = next((s for s in data.get("steps", []) if s.get("name") == "oom-check"), None)
    details = (check or {}).get("details") or {}
    if data.get("failed_step") and data.get("amphorae"):
        lines += [
            f"Step **{data['failed_step']}** failed ({data.get('failure')}); the amphorae "
            "were checked before cleanup.",
            "",
        ]
    if details.get("since"):
        lines += [f"Kernel log read since {details['since']}.", ""]
    amphorae = data.get("amphorae") or []
    if not amphorae:
        why = (check.get("evidence") if check else "") or (
            check.get("status") if check else "not run"
        )
        lines.append(
            f"The amphora check did not run ({why}). "
            "No statement about OOM kills can be made from this run."
        )
        return lines
    rows = []
    for a in amphorae:
        events = a.get("oom_events") or []
        rows.append(
            [
                a.get("amphora_id", "?"),
                a.get("address", ""),
                a.get("verdict", "?"),
                len(events),
                a.get("reason", ""),
            ]
        )
    lines += _table(["Amphora", "Address", "Verdict", "OOM events", "Reason"], rows)
    lines += _config_section(amphorae)
    seen = [(a, e) for a in amphorae for e in (a.get("oom_events") or [])]
    lines.append("")
    if seen:
        lines.append("OOM-killer evidence from the amphora kernel log:")
        lines.append("")
        lines.append("```")
        for amphora, event in seen:
            lines.append(f"# amphora {amphora.get('amphora_id', '?')}")
            lines += _event_lines(event)
        lines.append("```")
    else:
        lines.append(
            "No OOM-killer invocation in the kernel log of any checked amphora since the "
            "plan started."
        )
    return lines


def render_markdown(data: Mapping[str, Any]) -> str:
    verdict = data.get("verdict", "failed")
    env = data.get("environment") or {}
    versions = env.get("package_versions") or {}
    lines = [
        f"## SRU verification of {data.get('bug', 'LP #2119987')}: haproxy reload OOM with "
        "TERMINATED_HTTPS listeners",
        "",
        f"**Verdict: {VERDICT_HEADLINES.get(verdict, verdict)}**",
        "",
        f"{data.get('verdict_reason', '')}",
        "",
    ]
    facts: list[list[Any]] = [
        ["Run id", data.get("run_id")],
        ["Series", env.get("series") or "unknown"],
        ["Origin", env.get("origin") or "unknown"],
    ]
    if versions:
        facts += [[f"Package {name}", version] for name, version in sorted(versions.items())]
    else:
        facts.append(["Packages", "versions unknown"])
    if env.get("cloud"):
        facts.append(["Cloud", env["cloud"]])
    facts.append(["amp_ssh_key_name", env.get("amp_ssh_key_name") or "(unset)"])
    facts.append(["Started / finished (UTC)", f"{data.get('started')} / {data.get('finished')}"])
    facts.append(["Total seconds", data.get("seconds")])
    lines += _table(["", ""], facts)
    lines += ["", "### Steps", ""]
    rows = [
        [
            i + 1,
            s.get("title", s.get("name")),
            s.get("status"),
            f"{s.get('seconds', 0):.1f}",
            s.get("evidence", ""),
        ]
        for i, s in enumerate(data.get("steps", []))
    ]
    lines += _table(["#", "Step", "Outcome", "Seconds", "Evidence"], rows)
    if data.get("failed_step"):
        lines += ["", f"Failed step: **{data['failed_step']}**: {data.get('failure')}"]
    lines.append("")
    lines += _amphora_section(data)
    cleanup = data.get("cleanup") or []
    kept = [c for c in cleanup if c.get("outcome") == "kept"]
    if kept:
        lines += ["", "### Left behind", ""]
        lines += _table(
            ["Kind", "Name", "Id", "Why"],
            [[c.get("kind"), c.get("name"), c.get("id"), c.get("reason")] for c in kept],
        )
    params = data.get("parameters") or {}
    if params:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
        lines += ["", "### Parameters", "", f"`{shown}`"]
    return "\n".join(lines) + "\n"


def render_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)
