"""Every config option against every class of bad value (cases.py), on an active unit.

The unit is the charm on the fake machine (tests/unit/fake_machine.py) with every relation
complete and amphora TLS configured. A refused value must block the unit with a message
naming the option, and change nothing: no package, file, service or relation data. An
accepted one must leave the unit active with octavia.conf still well-formed.
"""

from __future__ import annotations

import configparser
import dataclasses

import pytest
from charmed_octavia.unit import machine as machine_mod
from charmed_octavia.unit import render
from ops import testing

import charm
from tests.juju_rules import config_value_problem
from tests.unit.bad_input.cases import OPTIONS, OptionCase, option_cases
from tests.unit.bad_input.unit_files import snapshot
from tests.unit.charm.fake_health_ports import use_fake_health_ports
from tests.unit.charm.states import full_state, jammy_machine
from tests.unit.charm_data import tls_options
from tests.unit.fake_ohm0 import FakeOhm0Machine

# Where an accepted free-text option lands in octavia.conf.
CONF_KEYS = {
    "region": ("keystone_authtoken", "region_name"),
    "amp-image-tag": ("controller_worker", "amp_image_tag"),
}
SECRET_OPTIONS = {
    "lb-mgmt-issuing-ca-key-passphrase",
    "lb-mgmt-issuing-ca-private-key",
    "ssl_key",
}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """An active unit made once: (machine, state) with amphora TLS configured."""
    config = {"openstack-origin": "cloud:jammy-caracal", **tls_options()}
    machine = jammy_machine(tmp_path_factory.mktemp("installed"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(charm.OctaviaCharm, "workload_factory", lambda: machine)
        use_fake_health_ports(patch)
        ctx = testing.Context(charm.OctaviaCharm)
        out = ctx.run(ctx.on.install(), full_state(config=config))
    assert out.unit_status == testing.ActiveStatus("Unit is ready")
    return machine, out


@pytest.fixture
def active(installed, tmp_path, monkeypatch):
    """(machine, context, state) of an active unit: a copy of the installed one."""
    template, state = installed
    machine = template.clone(tmp_path / "unit")
    assert isinstance(machine, FakeOhm0Machine)
    monkeypatch.setattr(charm.OctaviaCharm, "workload_factory", lambda: machine)
    use_fake_health_ports(monkeypatch)
    return machine, testing.Context(charm.OctaviaCharm), state


def _published(state: testing.State) -> dict:
    return {r.endpoint: dict(r.local_unit_data) for r in state.relations}


def test_the_copied_unit_is_at_rest(active):
    # The copy is the installed unit: an event with nothing changed does nothing.
    machine, ctx, state = active
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status == testing.ActiveStatus("Unit is ready")
    assert machine.mutations() == []


CASES = option_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_option(case: OptionCase, active):
    # Arrange
    machine, ctx, state = active
    problem = config_value_problem(OPTIONS[case.option]["type"], case.value)
    if problem:
        # `juju config` refuses it; the charm never sees it.
        assert not case.accepted, f"{case.id} is listed as accepted but Juju refuses it"
        return
    before = snapshot(machine.root)
    changed = dataclasses.replace(state, config={**state.config, case.option: case.value})

    # Act
    out = ctx.run(ctx.on.config_changed(), changed)

    # Assert
    if case.accepted:
        assert out.unit_status == testing.ActiveStatus("Unit is ready"), out.unit_status
        conf = configparser.RawConfigParser(strict=True, default_section="__none__")
        conf.read_string((machine.root / machine_mod.OCTAVIA_CONF.lstrip("/")).read_text())
        if case.option in CONF_KEYS:
            section, key = CONF_KEYS[case.option]
            assert conf[section][key] == render.oslo_value(case.value)
        return
    status = out.unit_status
    assert isinstance(status, testing.BlockedStatus), f"{case.id}: {status}"
    assert case.option in status.message, status.message
    assert "\n" not in status.message and len(status.message) <= 400, status.message
    if case.option in SECRET_OPTIONS and len(str(case.value)) > 3:
        assert str(case.value) not in status.message
    assert machine.calls == [], f"{case.id}: {machine.calls}"
    assert snapshot(machine.root) == before
    assert _published(out) == _published(state)
