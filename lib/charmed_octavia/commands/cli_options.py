"""octavia-sru's options: one subcommand per action, its options made from the action's
parameters in ``actions.yaml`` (same names, types, defaults and bounds), and the options of
the command itself (state, amphora SSH, output)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from charmed_octavia.amphora.check import HAPROXY_DIR
from charmed_octavia.commands import schema

PROG = "octavia-sru"
# Subcommands named otherwise than their action.
SUBCOMMANDS = {"cleanup-test-plan": "cleanup"}
# Where a parameter's value is kept in the parsed options: apart from the command's own
# options and from openstacksdk's (keystoneauth has a --timeout of its own).
PARAM_DEST = "param_"
DEFAULT_HAPROXY_DIR = HAPROXY_DIR
DEFAULT_OCTAVIA_CONF = "/etc/octavia/octavia.conf"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "octavia-sru"


def subcommand(action: str) -> str:
    return SUBCOMMANDS.get(action, action)


def _value_type(param: schema.Param) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = param.type(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'an integer' if param.type is int else 'a number'}"
            ) from None
        problem = schema.problem(param, value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = param.type.__name__
    return parse


def add_param(parser: Any, param: schema.Param) -> None:
    """``--<name>`` for one action parameter, as Juju would take it."""
    shown = param.default if param.type is not bool else str(param.default).lower()
    help_text = param.description or param.name
    if not param.required:
        help_text += f" (default: {shown!r})" if param.type is str else f" (default: {shown})"
    kwargs: dict[str, Any] = {"dest": PARAM_DEST + param.field, "help": help_text}
    if param.type is bool:
        kwargs.update(action=argparse.BooleanOptionalAction, default=param.default)
    else:
        kwargs.update(type=_value_type(param) if param.type is not str else str)
        kwargs.update(metavar=param.field.upper())
        if param.enum:
            kwargs["choices"] = list(param.enum)
        if param.required:
            kwargs["required"] = True
        else:
            kwargs["default"] = param.default
    parser.add_argument(f"--{param.name}", **kwargs)


def params_of(args: argparse.Namespace) -> dict[str, Any]:
    """The action parameters in ``args``, keyed by their typed class's field names."""
    return {
        key[len(PARAM_DEST) :]: value
        for key, value in vars(args).items()
        if key.startswith(PARAM_DEST)
    }


# The command's own options: (flags, argparse keywords with their default).
OWN_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("--state-dir",),
        dict(
            type=Path,
            default=None,
            help="run records, locks and the generated amphora key (default: "
            "$XDG_STATE_HOME/octavia-sru, or ~/.local/state/octavia-sru)",
        ),
    ),
    (
        ("--ssh-key",),
        dict(
            type=Path,
            default=None,
            help="private key for the amphorae; run-test-plan uploads its public half as "
            "the plan's keypair (default: a key made once under the state directory)",
        ),
    ),
    (("--ssh-user",), dict(default="ubuntu", help="amphora SSH user (default: ubuntu)")),
    (
        ("--known-hosts",),
        dict(
            type=Path,
            default=None,
            help="amphora host keys, recorded per amphora id on first contact and checked "
            "after (default: known_hosts under the state directory)",
        ),
    ),
    (
        ("--ssh-address",),
        dict(
            action="append",
            default=[],
            metavar="LB_NETWORK_IP=HOST:PORT",
            help="reach the amphora of this lb-mgmt address at HOST:PORT instead (a "
            "forwarded port); repeatable",
        ),
    ),
    (
        ("--amp-ssh-key-name",),
        dict(
            default=None,
            help="the keypair name Octavia gives amphorae (default: [controller_worker] "
            "amp_ssh_key_name of --octavia-conf)",
        ),
    ),
    (
        ("--octavia-conf",),
        dict(
            type=Path,
            default=Path(DEFAULT_OCTAVIA_CONF),
            help=f"Octavia's configuration, read if readable (default: {DEFAULT_OCTAVIA_CONF})",
        ),
    ),
    (
        ("--amphora-haproxy-dir",),
        dict(
            default=DEFAULT_HAPROXY_DIR,
            help=f"where amphorae keep <lb id>/haproxy.cfg (default: {DEFAULT_HAPROXY_DIR})",
        ),
    ),
    (
        ("--oom-since-margin",),
        dict(
            type=float,
            default=60.0,
            metavar="SECONDS",
            help="run-test-plan reads the amphora kernel log from its start minus this, "
            "for an amphora clock behind this machine's (default: 60)",
        ),
    ),
    (
        ("--origin",),
        dict(
            default="",
            help="where this cloud's Octavia packages come from, for the report (e.g. "
            "cloud:jammy-caracal/proposed)",
        ),
    ),
    (
        ("--package-version",),
        dict(
            action="append",
            default=[],
            metavar="NAME=VERSION",
            help="a package version for the report, besides the Octavia packages "
            "installed here; repeatable",
        ),
    ),
    (
        ("--report",),
        dict(
            type=Path,
            default=None,
            help="write the report (Markdown for run-test-plan, JSON otherwise) to this "
            "file instead of standard output",
        ),
    ),
    (
        ("--json",),
        dict(
            type=Path,
            default=None,
            help="also write the JSON report (or the results) to this file",
        ),
    ),
    (
        ("-v", "--verbose"),
        dict(
            action="store_true",
            default=False,
            help="show each HTTP call (method, URL, status; never a header or a body)",
        ),
    ),
)


def add_own_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The command's own options; on a subcommand (``suppress``) they default to nothing, so
    that one given before the subcommand is kept."""
    group = parser.add_argument_group("octavia-sru options")
    for flags, kwargs in OWN_OPTIONS:
        if suppress:
            kwargs = {**kwargs, "default": argparse.SUPPRESS}
        group.add_argument(*flags, **kwargs)


def build(
    register_cloud: Callable[[argparse.ArgumentParser], None], commands: Iterable[str]
) -> argparse.ArgumentParser:
    """The whole parser, a subcommand for each action of ``commands`` (the charm's own
    actions, which act on the unit, have none); ``register_cloud`` adds the cloud options."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        usage=f"{PROG} [cloud options] [options] COMMAND [parameters] [options]",
        description="The SRU verification of LP #2119987 (haproxy OOM-killed on reload in "
        "large amphorae) on any OpenStack cloud with Octavia: the charm's actions as "
        "commands, with the same verdicts and report.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    register_cloud(parser)
    add_own_options(parser, suppress=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    actions = schema.actions()
    for action in (actions[name] for name in commands):
        sub = subparsers.add_parser(
            subcommand(action.name),
            aliases=[action.name] if subcommand(action.name) != action.name else [],
            help=action.description,
            description=action.description,
        )
        sub.set_defaults(action=action.name)
        group = sub.add_argument_group(f"parameters of the {action.name} action")
        for param in action.params:
            add_param(group, param)
        add_own_options(sub, suppress=True)
    return parser


EPILOG = """\
exit status:
  0  done (run-test-plan: verdict fixed; check-amphorae: every amphora ok)
  1  the command failed (run-test-plan: verdict failed; cleanup kept resources; an amphora
     was not prepared)
  2  usage: a bad option or parameter, or no usable cloud; nothing was changed
  3  reproduced (check-amphorae: an amphora shows an OOM kill)
  4  not-reproduced
  5  at-risk
  6  inconclusive (check-amphorae: an amphora was unreachable or could not be read)
"""
