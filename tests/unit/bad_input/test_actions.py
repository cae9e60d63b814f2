"""Every action parameter against every class of bad value (cases.py), through the charm.

The cloud boundary is ``CloudRecorder``: the charm's connection factory, replaced by one
that records the call and stops the action there (a fake: a unit test has no cloud). A
refused case must fail with a one-line message before that call and leave the unit's
files as they were; an accepted case must get as far as that call.
"""

from __future__ import annotations

import json

import lifecycle
import pytest
import unit_actions
from charmed_octavia.amphora import ssh
from ops import testing

import charm
from tests.unit.bad_input.cases import (
    ACTIONS,
    BASE_PARAMS,
    BEHIND_JUJU,
    ParamCase,
    juju_refuses,
    names,
    param_cases,
)
from tests.unit.bad_input.unit_files import snapshot
from tests.unit.charm.states import identity, jammy_machine, peer

REACHED = "the cloud was reached (bad-input suite)"
# A failure message an operator reads in `juju show-task`: short, one line.
MESSAGE_MAX = 400


class CloudRecorder:
    """Records each connection the charm opens and fails it, so nothing goes further."""

    def __init__(self) -> None:
        self.calls = 0

    def connect(self, config):  # set on the class, called as the charm's bound method
        del config
        self.calls += 1
        raise RuntimeError(REACHED)


@pytest.fixture
def cloud(monkeypatch) -> CloudRecorder:
    recorder = CloudRecorder()
    monkeypatch.setattr(charm.OctaviaCharm, "_connect", recorder.connect)
    return recorder


@pytest.fixture
def unit(tmp_path, monkeypatch):
    machine = jammy_machine(tmp_path)
    machine.installed["octavia-common"] = "1:14.0.0-0ubuntu1~cloud0"
    monkeypatch.setattr(charm.OctaviaCharm, "workload_factory", lambda: machine)
    # The amphora actions look for the unit's key before they connect.
    ssh.ensure_keypair(machine.root / "var/lib/charm-octavia/ssh")
    return machine


def _state() -> testing.State:
    return testing.State(
        leader=True,
        relations=[identity(), peer()],
        config={"openstack-origin": "cloud:jammy-caracal"},
    )


_TYPES = {"string": str, "integer": int, "boolean": bool}


def _of_declared_type(case: ParamCase) -> bool:
    """The value has the declared type (ops.testing refuses any other, as Juju does)."""
    spec = ACTIONS[case.action].get("params", {}).get(case.param)
    if spec is None or case.param not in case.params:
        return False
    value = case.params[case.param]
    wanted = _TYPES[spec["type"]]
    return isinstance(value, wanted) and (wanted is bool or not isinstance(value, bool))


def _run(case: ParamCase) -> tuple[str | None, testing.Context]:
    """The failure message of the action, or None when it succeeded."""
    ctx = testing.Context(charm.OctaviaCharm)
    try:
        ctx.run(ctx.on.action(case.action, params=case.params), _state())
    except testing.ActionFailed as failed:
        return failed.message, ctx
    return None, ctx


CASES = param_cases()


def test_the_base_parameters_of_every_action_reach_the_cloud(unit, cloud):
    # The harness can tell "refused" from "accepted": valid parameters get to the cloud.
    # The unit actions (unit_actions, lifecycle) act on the unit only and never reach the cloud.
    for action in sorted(set(ACTIONS) - set(unit_actions.HANDLERS) - set(lifecycle.HANDLERS)):
        before = cloud.calls
        case = ParamCase(action, "-", "base", dict(BASE_PARAMS.get(action, {})))
        message, _ = _run(case)
        assert message is not None and REACHED in message, (action, message)
        assert cloud.calls == before + 1, action


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_parameter(case: ParamCase, unit, cloud):
    # Arrange
    refused_by_juju = juju_refuses(case)
    if not _of_declared_type(case):
        # A wrong type, a missing or an unknown parameter: Juju refuses it, the charm never
        # runs (and ops.testing refuses such a type as well).
        assert refused_by_juju, f"{case.id}: Juju's schema would let it through"
        assert not case.accepted, f"{case.id} is listed as accepted but Juju refuses it"
        return
    before = snapshot(unit.root)

    # Act
    message, ctx = _run(case)

    # Assert
    if (case.action, case.param, case.kind) in BEHIND_JUJU:
        assert refused_by_juju, f"{case.id}: listed as behind Juju, but Juju lets it through"
        assert message is not None and REACHED in message, message
        return
    if case.accepted and not refused_by_juju and case.action in lifecycle.HANDLERS:
        # On the unit only: accepted, it runs to the end without the cloud.
        assert message is None, message
        assert cloud.calls == 0
        return
    if case.accepted and not refused_by_juju:
        assert message is not None and REACHED in message, message
        assert cloud.calls == 1
        return
    assert message is not None, f"{case.id}: the action succeeded"
    assert REACHED not in message, f"{case.id}: reached the cloud: {message}"
    assert cloud.calls == 0
    assert "\n" not in message and len(message) <= MESSAGE_MAX, message
    assert "Traceback" not in message
    assert names(case.param, message), f"{case.id}: the message does not name it: {message}"
    assert snapshot(unit.root) == before, f"{case.id}: the unit's files changed"
    # Results stay empty: a refused action reports only its reason.
    assert not ctx.action_results, json.dumps(ctx.action_results)
