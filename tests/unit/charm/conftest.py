"""Every action result an ops.testing run sets is held to Juju's rules (tests.juju_rules):
ops.testing itself takes keys and sizes that Juju refuses."""

from __future__ import annotations

from typing import Any

import pytest
from ops import testing

import charm
from tests.juju_rules import action_result_problems
from tests.unit.charm.fake_health_ports import FakeHealthPorts, use_fake_health_ports
from tests.unit.charm.states import jammy_machine
from tests.unit.fake_ohm0 import FakeOhm0Machine


@pytest.fixture
def machine(tmp_path, monkeypatch) -> FakeOhm0Machine:
    """The fake machine the charm under test acts on (br-int and o-hm0 in memory)."""
    fake = jammy_machine(tmp_path)
    assert isinstance(fake, FakeOhm0Machine)
    monkeypatch.setattr(charm.OctaviaCharm, "workload_factory", lambda: fake)
    return fake


@pytest.fixture
def ctx() -> testing.Context:
    return testing.Context(charm.OctaviaCharm)


@pytest.fixture(autouse=True)
def _results_juju_accepts(monkeypatch):
    run = testing.Context.run

    def checked(self: testing.Context, event: Any, state: testing.State) -> testing.State:
        try:
            return run(self, event, state)
        finally:
            problems = action_result_problems(self.action_results)
            assert problems == [], f"Juju would refuse these results: {problems}"

    monkeypatch.setattr(testing.Context, "run", checked)


@pytest.fixture(autouse=True)
def health_ports(monkeypatch) -> FakeHealthPorts:
    """Neutron's health-manager ports for every ops.testing run."""
    return use_fake_health_ports(monkeypatch)
