"""The verdict rules, from typed amphora results."""

from __future__ import annotations

from typing import Any

import pytest
from charmed_octavia.amphora.haproxy_config import HaproxyMemorySettings
from charmed_octavia.amphora.memory_model import FormulaMatch, MemoryAssessment
from charmed_octavia.amphora.oom import OOMEvent, OOMTask
from charmed_octavia.amphora.results import AmphoraResult, ConfigCheck
from charmed_octavia.plan import verdict as plan_verdict


def _kill(victim="haproxy", memcg="/lab/amp") -> OOMEvent:
    return OOMEvent(victim_pid=4242, victim_name=victim, total_vm_kb=600000, memcg=memcg)


def _table_only(name: str) -> OOMEvent:
    """An OOM report's task table without its summary line, as quoted in the bug."""
    return OOMEvent(tasks=[OOMTask(pid=1, uid=0, tgid=1, total_vm_kb=1, rss_kb=1, name=name)])


def _config(formula: Any) -> ConfigCheck:
    assessment = MemoryAssessment(
        memory_kb=1,
        cachesize=1,
        maxconn=1,
        bytes_per_entry=248.0,
        cache_kb=1,
        generation_kb=1,
        connections_kb=1,
        reload_peak_kb=1,
        headroom_kb=0,
        formula=FormulaMatch(formula, "", None),
    )
    return ConfigCheck(HaproxyMemorySettings("x", 1, 1, True), assessment)


def _amphora(verdict, formula=None, events=None) -> AmphoraResult:
    configs = [_config(formula)] if formula else []
    if events is None:
        events = [_kill()] if verdict == "oom-seen" else []
    return AmphoraResult("a", "lb", "h:22", verdict, "", oom_events=events, configs=configs)


@pytest.mark.parametrize(
    ("kwargs", "verdict"),
    [
        ({"failed_step": "pool", "failure": "boom", "check_ran": False, "amphorae": []}, "failed"),
        ({"check_ran": False, "amphorae": []}, "inconclusive"),
        ({"check_ran": True, "amphorae": [_amphora("oom-seen", "pre-fix")]}, "reproduced"),
        (
            {"check_ran": True, "amphorae": [_amphora("ok"), _amphora("oom-seen")]},
            "reproduced",
        ),
        (
            {"check_ran": True, "amphorae": [_amphora("ok"), _amphora("unreachable")]},
            "inconclusive",
        ),
        ({"check_ran": True, "amphorae": [_amphora("at-risk", "pre-fix")]}, "at-risk"),
        ({"check_ran": True, "amphorae": [_amphora("ok", "post-fix")]}, "fixed"),
        ({"check_ran": True, "amphorae": [_amphora("ok", "pre-fix")]}, "not-reproduced"),
        (
            {
                "check_ran": True,
                "amphorae": [_amphora("ok", "post-fix"), _amphora("ok", "pre-fix")],
            },
            "not-reproduced",
        ),
        ({"check_ran": True, "amphorae": [_amphora("ok")]}, "not-reproduced"),
        # An OOM kill of something else is no proof of the haproxy reload bug.
        (
            {"check_ran": True, "amphorae": [_amphora("oom-seen", events=[_kill("python3")])]},
            "inconclusive",
        ),
        # The bug's own quote: a task table with haproxy and no summary line.
        (
            {
                "check_ran": True,
                "amphorae": [
                    _amphora(
                        "oom-seen",
                        events=[_table_only("haproxy")],
                    )
                ],
            },
            "reproduced",
        ),
    ],
)
def test_verdict_rules(kwargs, verdict):
    # Arrange
    kwargs.setdefault("failed_step", None)
    kwargs.setdefault("failure", None)

    # Act
    got, reason = plan_verdict.decide_verdict(**kwargs)

    # Assert
    assert got == verdict
    assert got in plan_verdict.VERDICTS
    assert reason


@pytest.mark.parametrize("step", ["prepare-amphora", "listener", "pool", "reloads"])
def test_a_failed_amphora_change_with_a_haproxy_oom_kill_is_reproduced(step):
    # Act
    got, reason = plan_verdict.decide_verdict(
        failed_step=step,
        failure="pool p is ERROR",
        check_ran=True,
        amphorae=[_amphora("oom-seen", "pre-fix")],
    )

    # Assert: the verdict names the failed step and the kill.
    assert got == "reproduced"
    assert f"step {step} failed (pool p is ERROR)" in reason
    assert "OOM-killer killed haproxy (1 kill(s)) in 1 of 1 amphorae" in reason


@pytest.mark.parametrize(
    ("failed_step", "check_ran", "amphorae"),
    [
        # No OOM seen: the failure stays a failure.
        ("pool", True, [_amphora("ok", "pre-fix")]),
        # The check could not run (no SSH): nothing explains the failure.
        ("pool", False, [_amphora("oom-seen")]),
        # Not haproxy.
        ("pool", True, [_amphora("oom-seen", events=[_kill("python3")])]),
        # A step before any amphora change: an OOM cannot be its cause.
        ("tls-bundle", True, [_amphora("oom-seen")]),
        ("loadbalancer", True, [_amphora("oom-seen")]),
    ],
)
def test_a_failure_without_a_haproxy_oom_kill_stays_failed(failed_step, check_ran, amphorae):
    # Act
    got, reason = plan_verdict.decide_verdict(
        failed_step=failed_step, failure="boom", check_ran=check_ran, amphorae=amphorae
    )

    # Assert
    assert got == "failed"
    assert reason == f"step {failed_step} failed: boom"


def test_fixed_is_never_claimed_without_an_amphora_check():
    # "fixed" needs evidence: without the check the verdict is inconclusive, whatever else.
    got, reason = plan_verdict.decide_verdict(
        failed_step=None, failure=None, check_ran=False, amphorae=[_amphora("ok", "post-fix")]
    )
    assert got == "inconclusive"
    assert "did not run" in reason
