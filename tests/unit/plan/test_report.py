"""Rendering of the test-plan report (Markdown for Launchpad, JSON)."""

from __future__ import annotations

import json

from charmed_octavia.plan import report
from charmed_octavia.plan.steps import STEPS


def _data(**overrides):
    steps = [
        {
            "name": s.name,
            "title": s.title,
            "status": "ok",
            "seconds": 1.25,
            "evidence": f"{s.name} done",
        }
        for s in STEPS
    ]
    data = {
        "bug": "LP #2119987",
        "run_id": "20260202T221605-abc123",
        "verdict": "reproduced",
        "verdict_reason": "the kernel OOM-killer was seen in 1 of 1 amphorae",
        "failed_step": None,
        "failure": None,
        "started": "2026-02-02T22:16:05+00:00",
        "finished": "2026-02-02T22:40:00+00:00",
        "seconds": 1435.2,
        "environment": {
            "series": "jammy",
            "origin": "cloud:jammy-caracal",
            "package_versions": {"octavia-common": "1:14.0.0-0ubuntu1~cloud0"},
            "amp_ssh_key_name": "amphora-backdoor",
            "cloud": "",
        },
        "parameters": {"listener-port": 443, "connection-limit": -1},
        "steps": steps,
        "amphorae": [
            {
                "amphora_id": "f9436cbb",
                "address": "fc00::1",
                "verdict": "oom-seen",
                "reason": "2 OOM kills of haproxy",
                "oom_events": [
                    {
                        "time": "2026-02-02T22:34:24",
                        "victim_pid": 2074,
                        "victim_name": "haproxy",
                        "total_vm_kb": 18749312,
                        "anon_rss_kb": 13494696,
                        "cgroup_oom": False,
                        "tasks": [
                            {
                                "pid": 2055,
                                "name": "haproxy",
                                "total_vm_kb": 18957532,
                                "rss_kb": 11296,
                            },
                            {
                                "pid": 2074,
                                "name": "haproxy",
                                "total_vm_kb": 18749312,
                                "rss_kb": 13494696,
                            },
                        ],
                    }
                ],
            }
        ],
        "cleanup": [],
    }
    data.update(overrides)
    return data


def test_markdown_has_verdict_versions_every_step_and_the_oom_lines():
    # Arrange
    data = _data()

    # Act
    text = report.render_markdown(data)

    # Assert
    assert "**Verdict: REPRODUCED" in text
    assert "| Package octavia-common | 1:14.0.0-0ubuntu1~cloud0 |" in text
    assert "| Series | jammy |" in text
    assert "| Origin | cloud:jammy-caracal |" in text
    for step in STEPS:
        assert (
            f"| {step.title} | ok | 1.2 | {step.name} done |" in text
            or f"| {step.title} | ok | 1.3 |" in text
        )
    assert (
        "2026-02-02T22:34:24 out of memory: killed process 2074 (haproxy) "
        "total-vm 18749312 kB, anon-rss 13494696 kB" in text
    )
    assert "task haproxy pid 2055: total_vm 18957532 kB, rss 11296 kB" in text
    assert "```" in text


def test_table_cells_escape_pipes_and_newlines():
    # Arrange
    data = _data()
    data["steps"][0]["evidence"] = "a | b\nc"

    # Act
    text = report.render_markdown(data)

    # Assert
    assert "a \\| b c" in text


def test_skipped_check_says_no_statement_can_be_made():
    # Arrange
    steps = _data()["steps"]
    for s in steps:
        if s["name"] == "oom-check":
            s["status"] = "skipped"
            s["evidence"] = "skipped: no amphora reachable (no SSH settings for amphorae)"
    data = _data(verdict="inconclusive", amphorae=[], steps=steps)

    # Act
    text = report.render_markdown(data)

    # Assert
    assert "**Verdict: INCONCLUSIVE" in text
    assert "did not run (skipped: no amphora reachable (no SSH settings" in text
    assert "No statement about OOM kills" in text


def test_failed_plan_names_the_step_and_lists_what_was_left():
    # Arrange
    data = _data(
        verdict="failed",
        failed_step="loadbalancer",
        failure="load balancer x did not settle within 10 s",
        amphorae=[],
        cleanup=[
            {
                "kind": "lb-flavor",
                "name": "o1.xxlarge",
                "id": "f1",
                "outcome": "kept",
                "reason": "in use",
            }
        ],
    )

    # Act
    text = report.render_markdown(data)

    # Assert
    assert "Failed step: **loadbalancer**: load balancer x did not settle" in text
    assert "### Left behind" in text
    assert "| lb-flavor | o1.xxlarge | f1 | in use |" in text


def test_no_oom_sentence_when_checked_amphorae_are_clean():
    # Arrange
    amph = [{"amphora_id": "a1", "address": "x", "verdict": "ok", "reason": "", "oom_events": []}]
    data = _data(verdict="not-reproduced", amphorae=amph)

    # Act
    text = report.render_markdown(data)

    # Assert
    assert "No OOM-killer invocation in the kernel log of any checked amphora" in text
    assert "| a1 | x | ok | 0 |  |" in text


def test_json_round_trips_the_same_data():
    # Arrange
    data = _data()

    # Act
    text = report.render_json(data)

    # Assert
    assert json.loads(text) == data


def _lab_amphora(**event_overrides):
    event = {
        "time": "2026-11-21T13:49:42,610339+00:00",
        "invoked_by": "haproxy",
        "victim_pid": 9261,
        "victim_name": "haproxy",
        "total_vm_kb": 695008,
        "anon_rss_kb": 2944,
        "file_rss_kb": 10896,
        "shmem_rss_kb": 430336,
        "constraint": "CONSTRAINT_MEMCG",
        "memcg": "/lab/lab-amphora-1",
        "oom_memcg": "/lab/lab-amphora-1",
        "cgroup_oom": True,
        "tasks": [],
    }
    event.update(event_overrides)
    return {
        "amphora_id": "1e2ea3ac",
        "address": "127.0.0.1:44957",
        "verdict": "oom-seen",
        "reason": "1 OOM-killer event(s)",
        "oom_events": [event],
        "configs": [
            {
                "path": "/var/lib/octavia/lb1/haproxy.cfg",
                "ssl_cachesize": 2492720,
                "maxconn": 1562,
                "terminated_https": True,
                "assessment": {
                    "memory_kb": 1 << 20,
                    "cachesize": 2492720,
                    "cache_kb": 603707,
                    "reload_peak_kb": 1298398,
                    "headroom_kb": -249822,
                    "bytes_per_entry": 248.0,
                    "bytes_per_entry_source": "measured here",
                    "formula": {
                        "formula": "pre-fix",
                        "description": "(free+buffers+cached - 32 KiB*maxconn) * 1/2, x5",
                        "implied_free_kb": 1047000,
                    },
                    "at_risk": True,
                },
            }
        ],
    }


def test_reproduced_after_a_failed_step_shows_the_step_the_kill_the_cgroup_and_the_formula():
    # Arrange: the pool step failed and the check found the kill (the lab's vulnerable run).
    steps = _data()["steps"]
    for s in steps:
        if s["name"] == "oom-check":
            s["details"] = {"since": "2026-11-21 13:49:27"}
    data = _data(
        verdict="reproduced",
        failed_step="pool",
        failure="pool p1 is ERROR",
        steps=steps,
        amphorae=[_lab_amphora()],
    )

    # Act
    text = report.render_markdown(data)

    # Assert
    assert "**Verdict: REPRODUCED" in text
    assert "Failed step: **pool**: pool p1 is ERROR" in text
    assert "Step **pool** failed (pool p1 is ERROR); the amphorae were checked before cleanup" in (
        text
    )
    assert "Kernel log read since 2026-11-21 13:49:27." in text
    assert (
        "memory cgroup out of memory: killed process 9261 (haproxy) total-vm 695008 kB, "
        "anon-rss 2944 kB, file-rss 10896 kB, shmem-rss 430336 kB" in text
    )
    assert (
        "  invoked by haproxy, constraint CONSTRAINT_MEMCG, memcg /lab/lab-amphora-1, "
        "oom_memcg /lab/lab-amphora-1" in text
    )
    assert (
        "| 1e2ea3ac | /var/lib/octavia/lb1/haproxy.cfg | 2492720 | 1562 | pre-fix: "
        "(free+buffers+cached - 32 KiB*maxconn) * 1/2, x5 | 590 MiB | 1268 MiB | 1024 MiB | "
        "-244 MiB |" in text
    )
    assert "tune.ssl.cachesize x 248.0 bytes per entry (measured here)" in text


def test_a_config_without_an_assessment_still_gets_its_row():
    # Arrange: memory unknown, so the amphora result carries no assessment.
    amph = _lab_amphora()
    amph["configs"][0].pop("assessment")
    data = _data(amphorae=[amph])

    # Act
    text = report.render_markdown(data)

    # Assert
    assert "| 1e2ea3ac | /var/lib/octavia/lb1/haproxy.cfg | 2492720 | 1562 | ? | ? |" in text
    assert "bytes per entry" not in text
