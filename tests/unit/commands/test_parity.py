"""One definition of each parameter: the action (actions.yaml), the command's options (made
from it) and the typed class both load into agree on names, types and defaults."""

from __future__ import annotations

import argparse
import dataclasses

import pytest
from charmed_octavia.commands import cli_options, schema
from charmed_octavia.commands.params import PARAMS
from charmed_octavia.commands.registry import COMMANDS

ACTIONS = {name: action for name, action in schema.actions().items() if name in COMMANDS}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli_options.build(lambda p: None, COMMANDS)
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


SUBPARSERS = _subparsers()


def _param_options(sub: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {
        a.option_strings[0][2:]: a
        for a in sub._actions
        if a.dest.startswith(cli_options.PARAM_DEST)
    }


def test_every_action_that_acts_on_the_cloud_is_a_command_and_no_other():
    # Arrange: the actions that act on the unit itself are the charm's alone.
    unit_only = set(schema.actions()) - set(COMMANDS)

    # Act
    subcommands = set(SUBPARSERS)

    # Assert
    assert set(COMMANDS) <= set(schema.actions())
    assert {cli_options.subcommand(a) for a in COMMANDS} <= subcommands
    assert not {cli_options.subcommand(a) for a in unit_only} & subcommands
    assert len(COMMANDS) == 9


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_the_command_has_every_parameter_of_the_action_and_no_other(action):
    # Arrange
    sub = SUBPARSERS[cli_options.subcommand(action)]
    own = {a.dest for a in sub._actions if not a.dest.startswith(cli_options.PARAM_DEST)}

    # Act
    options = _param_options(sub)

    # Assert: the same names, both ways, and nothing else but the command's own options.
    assert sorted(options) == sorted(p.name for p in ACTIONS[action].params)
    assert own == OWN_OPTIONS


@pytest.mark.parametrize(
    ("action", "param"),
    [(a.name, p) for a in ACTIONS.values() for p in a.params],
    ids=lambda v: v if isinstance(v, str) else v.name,
)
def test_each_option_has_the_parameters_type_default_and_bounds(action, param):
    # Arrange
    option = _param_options(SUBPARSERS[cli_options.subcommand(action)])[param.name]

    # Act / Assert
    assert option.required == param.required
    assert option.default == (None if param.required else param.default)
    if param.type is bool:
        assert isinstance(option, argparse.BooleanOptionalAction)
    elif param.type is str:
        assert option.type is str
        assert list(option.choices or []) == list(param.enum)
    else:
        parse = option.type
        assert callable(parse)
        assert parse(str(param.default if param.default is not None else param.minimum)) == (
            param.default if param.default is not None else param.minimum
        )
        with pytest.raises(argparse.ArgumentTypeError):
            parse("x")
        if param.minimum is not None:
            with pytest.raises(argparse.ArgumentTypeError, match="at least"):
                parse(str(param.minimum - 1))
        if param.maximum is not None:
            with pytest.raises(argparse.ArgumentTypeError, match="at most"):
                parse(str(param.maximum + 1))


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_the_typed_class_has_the_actions_fields_and_defaults(action):
    # Arrange
    fields = {f.name: f for f in dataclasses.fields(PARAMS[action]) if f.init}

    # Act
    params = {p.field: p for p in ACTIONS[action].params}

    # Assert: every parameter is a field with the same default; a field the action does not
    # expose (the library's own, as a Nova flavor's description) has a default of its own.
    assert set(params) <= set(fields)
    for name, field in fields.items():
        if name not in params:
            assert field.default is not dataclasses.MISSING, name
        elif params[name].required:
            assert field.default is dataclasses.MISSING, name
        else:
            assert field.default == params[name].default, name


OWN_OPTIONS = {
    "help",
    "state_dir",
    "ssh_key",
    "ssh_user",
    "known_hosts",
    "ssh_address",
    "amp_ssh_key_name",
    "octavia_conf",
    "amphora_haproxy_dir",
    "oom_since_margin",
    "origin",
    "package_version",
    "report",
    "json",
    "verbose",
}
