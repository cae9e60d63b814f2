"""Every action result an ops.testing run sets is held to Juju's rules (tests.juju_rules):
ops.testing itself takes keys and sizes that Juju refuses."""

from __future__ import annotations

from typing import Any

import pytest
from ops import testing

from tests.juju_rules import action_result_problems


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
