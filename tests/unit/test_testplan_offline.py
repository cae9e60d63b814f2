"""The test plan's offline parts: parameters, verdict rules and the run records."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from charmed_octavia import runstate, testplan
from charmed_octavia.resources import InvalidParameter


def test_defaults_are_the_seeds_values():
    # Act
    params = testplan.PlanParams()

    # Assert
    assert (params.nova_flavor_name, params.ram, params.disk, params.vcpus) == (
        "m1.xxlarge",
        32768,
        10,
        4,
    )
    assert params.nova_flavor_id == "10"
    assert (params.flavorprofile_name, params.lb_flavor_name) == ("o1.xxlarge", "o1.xxlarge")
    assert (params.listener_port, params.pool_protocol, params.lb_algorithm) == (
        443,
        "HTTP",
        "ROUND_ROBIN",
    )
    params.validate()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("listener_port", 0, "listener-port must be from 1 to 65535"),
        ("connection_limit", -2, "connection-limit must be >= -1"),
        ("reload_count", 51, "reload-count must be from 0 to 50"),
        ("lb_algorithm", "RANDOM", "lb-algorithm 'RANDOM'"),
        ("pool_protocol", "UDP", "pool-protocol 'UDP'"),
        ("step_timeout", 0, "step-timeout must be a positive"),
        ("ram", 0, "ram must be an integer >= 1"),
        ("run_id", "-x", "run-id '-x' must be"),
        ("lb_name", " lb", "leading or trailing spaces"),
    ],
)
def test_bad_values_are_refused_with_the_reason(field, value, message):
    with pytest.raises(InvalidParameter, match=message):
        testplan.PlanParams(**{field: value}).validate()


def test_run_plan_refuses_bad_params_before_touching_state(tmp_path):
    # Arrange
    ctx = testplan.PlanContext(state_dir=tmp_path / "state")

    # Act
    with pytest.raises(InvalidParameter):
        testplan.run_plan(None, testplan.PlanParams(reload_count=-1), ctx)  # type: ignore[arg-type]

    # Assert
    assert not (tmp_path / "state").exists()


# ---- verdict -----------------------------------------------------------------------------


def _kill(victim="haproxy", memcg="/lab/amp"):
    return {
        "victim_pid": 4242,
        "victim_name": victim,
        "total_vm_kb": 600000,
        "memcg": memcg,
        "tasks": [],
    }


def _amphora(verdict, formula=None, events=None):
    configs = []
    if formula:
        configs = [{"path": "x", "assessment": {"formula": {"formula": formula, "note": ""}}}]
    if events is None:
        events = [_kill()] if verdict == "oom-seen" else []
    return {"amphora_id": "a", "verdict": verdict, "configs": configs, "oom_events": events}


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
                        events=[{"victim_pid": None, "tasks": [{"name": "haproxy"}]}],
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
    got, reason = testplan.decide_verdict(**kwargs)

    # Assert
    assert got == verdict
    assert got in testplan.VERDICTS
    assert reason


@pytest.mark.parametrize("step", ["prepare-amphora", "listener", "pool", "reloads"])
def test_a_failed_amphora_change_with_a_haproxy_oom_kill_is_reproduced(step):
    # Act
    got, reason = testplan.decide_verdict(
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
    got, reason = testplan.decide_verdict(
        failed_step=failed_step, failure="boom", check_ran=check_ran, amphorae=amphorae
    )

    # Assert
    assert got == "failed"
    assert reason == f"step {failed_step} failed: boom"


def test_fixed_is_never_claimed_without_an_amphora_check():
    # "fixed" needs evidence: without the check the verdict is inconclusive, whatever else.
    got, reason = testplan.decide_verdict(
        failed_step=None, failure=None, check_ran=False, amphorae=[_amphora("ok", "post-fix")]
    )
    assert got == "inconclusive"
    assert "did not run" in reason


# ---- run records -------------------------------------------------------------------------


def test_records_are_private_and_round_trip(tmp_path):
    # Arrange
    store = runstate.RunStore(tmp_path / "state")
    record = runstate.RunRecord(run_id="r-1", started="now")
    record.add(runstate.ResourceRecord(kind="keypair", name="k", created=True))

    # Act
    store.save(record)
    loaded = store.load("r-1")

    # Assert
    assert loaded == record
    assert stat.S_IMODE(os.stat(tmp_path / "state").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.path("r-1")).st_mode) == 0o600
    assert store.run_ids() == ["r-1"]


def test_live_lists_only_created_and_not_deleted():
    # Arrange
    record = runstate.RunRecord(run_id="r", started="now")
    created = record.add(runstate.ResourceRecord("a", "a", "1", created=True, state="present"))
    record.add(runstate.ResourceRecord("b", "b", "2", created=False, state="present"))
    record.add(runstate.ResourceRecord("c", "c", "3", created=True, state="deleted"))
    kept = record.add(runstate.ResourceRecord("d", "d", "4", created=True, state="kept"))

    # Act / Assert
    assert record.live() == [created, kept]


def test_a_held_lock_is_refused_and_released_when_its_process_dies(tmp_path):
    # Arrange: another process takes the run's lock and waits.
    store = runstate.RunStore(tmp_path)
    code = (
        "import sys, time; sys.path.insert(0, 'lib');"
        "from charmed_octavia.runstate import RunStore;"
        f"s = RunStore({str(tmp_path)!r});"
        "cm = s.lock('r'); cm.__enter__(); print('held', flush=True); time.sleep(30)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"

        # Act / Assert: busy while the holder lives...
        with pytest.raises(runstate.RunBusy), store.lock("r"):
            pass
    finally:
        holder.kill()
        holder.wait()
    # ...and free once it is gone (the kernel drops the flock with the process).
    with store.lock("r"):
        pass


@pytest.mark.parametrize("run_id", ["", "a/b", "..", "_plan", "x" * 49, "a b"])
def test_invalid_run_ids(run_id):
    with pytest.raises(InvalidParameter):
        runstate.validate_run_id(run_id)


def test_generated_run_ids_are_valid_and_distinct():
    ids = {runstate.new_run_id() for _ in range(20)}
    assert len(ids) == 20
    for run_id in ids:
        runstate.validate_run_id(run_id)
