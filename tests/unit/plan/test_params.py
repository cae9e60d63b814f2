"""The test plan's parameters: the test plan's defaults, refusals with the reason."""

from __future__ import annotations

import pytest
from charmed_octavia.cloud.outcomes import InvalidParameter
from charmed_octavia.plan import run
from charmed_octavia.plan.params import PlanContext, PlanParams


def test_defaults_are_the_test_plans_values():
    # Act
    params = PlanParams()

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
        ("listener_port", 0, "listener-port must be an integer from 1 to 65535"),
        ("connection_limit", -2, "connection-limit must be an integer from -1 to 2147483647"),
        ("reload_count", 51, "reload-count must be an integer from 0 to 50"),
        ("lb_algorithm", "RANDOM", "lb-algorithm 'RANDOM'"),
        ("pool_protocol", "UDP", "pool-protocol 'UDP'"),
        ("step_timeout", 0, "step-timeout must be a positive"),
        ("ram", 0, "ram must be an integer from 1 to 2147483647"),
        ("run_id", "-x", "run-id '-x' must be"),
        ("lb_name", " lb", "leading or trailing spaces"),
    ],
)
def test_bad_values_are_refused_with_the_reason(field, value, message):
    with pytest.raises(InvalidParameter, match=message):
        PlanParams(**{field: value}).validate()


def test_run_plan_refuses_bad_params_before_touching_state(tmp_path):
    # Arrange
    ctx = PlanContext(state_dir=tmp_path / "state")

    # Act
    with pytest.raises(InvalidParameter):
        run.run_plan(None, PlanParams(reload_count=-1), ctx)  # type: ignore[arg-type]

    # Assert
    assert not (tmp_path / "state").exists()


def test_a_secret_name_that_cannot_carry_the_run_id_is_refused_before_anything():
    # Arrange: 250 characters fit Barbican alone, not with "-<run id>" added by the plan.
    name = "s" * 250

    # Act / Assert
    with pytest.raises(InvalidParameter, match="tls-secret-name is too long"):
        PlanParams(tls_secret_name=name)
    with pytest.raises(InvalidParameter, match="tls-secret-name is too long"):
        PlanParams(tls_secret_name="s" * 240, run_id="r" * 20)
    PlanParams(tls_secret_name="s" * 200)  # room for a generated run id


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("keypair_name", "amp$(id)", "characters Nova refuses in a keypair name"),
        ("provider", "amphora;reboot", "not a provider driver's name"),
        ("nova_flavor_id", "10\n", "Nova flavor id"),
        ("ram", 2**31, "ram must be an integer from 1 to 2147483647"),
        ("connection_limit", 2**31, "connection-limit must be an integer from -1"),
        ("lb_flavor_description", "a\nb", "without control characters"),
    ],
)
def test_values_the_cloud_would_refuse_late_are_refused_first(field, value, message):
    with pytest.raises(InvalidParameter, match=message):
        PlanParams(**{field: value})
