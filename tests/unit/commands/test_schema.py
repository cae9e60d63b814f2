"""commands.schema: actions.yaml read as Juju reads it."""

from __future__ import annotations

import pytest
import yaml
from charmed_octavia.commands import schema


def test_every_action_and_parameter_of_actions_yaml_is_read_with_its_type_and_default():
    # Arrange
    raw = yaml.safe_load(schema.CHECKOUT.read_text())

    # Act
    actions = schema.actions()

    # Assert
    assert sorted(actions) == sorted(raw)
    for name, action in actions.items():
        params = raw[name].get("params", {})
        assert [p.name for p in action.params] == list(params)
        for p in action.params:
            assert p.default == params[p.name].get("default")
            assert p.type is schema.TYPES[params[p.name]["type"]]
            assert p.required == (p.name in raw[name].get("required", []))


def test_problem_says_what_juju_would_refuse():
    # Arrange
    port = next(p for p in schema.actions()["run-test-plan"].params if p.name == "listener-port")
    algorithm = next(
        p for p in schema.actions()["run-test-plan"].params if p.name == "lb-algorithm"
    )

    # Act / Assert
    assert schema.problem(port, 0) == "listener-port must be at least 1"
    assert schema.problem(port, 65536) == "listener-port must be at most 65535"
    assert schema.problem(port, 443) is None
    assert schema.problem(algorithm, "RANDOM") == (
        "lb-algorithm must be one of ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP"
    )


def test_an_unsupported_type_is_refused(tmp_path):
    # Arrange
    path = tmp_path / "actions.yaml"
    path.write_text("a:\n  params:\n    x: {type: array}\n")

    # Act / Assert
    with pytest.raises(ValueError, match="a x: type 'array' unsupported"):
        schema.actions(path)
