"""Every action result an ops.testing run sets is held to Juju's rules (tests.juju_rules):
ops.testing itself takes keys and sizes that Juju refuses.

The leader's amphora PKI takes its RSA keys from a pool made once per session (``_rsa_pool``,
by amphora_pki's own generator): real, distinct keys of the right sizes, handed out in turn,
so that no charm test spends seconds on RSA 4096 generation. The packed charm's dispatch test
(tests/packed/test_amphora_pki_dispatch.py) generates them in the hook itself."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from charmed_octavia.unit import amphora_pki
from ops import testing

import charm
from tests.juju_rules import action_result_problems
from tests.unit.charm.fake_health_ports import FakeHealthPorts, use_fake_health_ports
from tests.unit.charm.states import jammy_machine
from tests.unit.fake_ohm0 import FakeOhm0Machine

# Per key size: enough distinct keys that one PKI (two 4096-bit CA keys) and a rotation
# (a new 2048-bit controller key) never get the same key twice.
_POOL_SIZE = 4


@pytest.fixture(scope="session")
def _rsa_pool() -> dict[int, Any]:
    return {
        bits: itertools.cycle([amphora_pki._rsa(bits) for _ in range(_POOL_SIZE)])
        for bits in {amphora_pki.CA_KEY_BITS, amphora_pki.CONTROLLER_KEY_BITS}
    }


@pytest.fixture(autouse=True)
def _pooled_rsa_keys(_rsa_pool, monkeypatch) -> None:
    monkeypatch.setattr(amphora_pki, "_rsa", lambda bits: next(_rsa_pool[bits]))


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


@pytest.fixture
def connect_calls(monkeypatch) -> list[dict[str, Any]]:
    """The arguments of every connection the charm opens for an action; the action
    cleanup-test-plan made to open one and return it as ``conn``."""
    import actions
    from charmed_octavia.cloud import connection

    calls: list[dict[str, Any]] = []

    def fake_connect(**kwargs: Any) -> str:
        """A fake of connection.connect: no cloud to connect to in a unit test."""
        calls.append(kwargs)
        return "connection"

    def handler(event, action_ctx):
        event.set_results({"conn": action_ctx.connect()})

    monkeypatch.setattr(connection, "connect", fake_connect)
    monkeypatch.setitem(actions.HANDLERS, "cleanup-test-plan", handler)
    return calls
