"""The bad-input cases: every action parameter and config option against each class of bad
value, generated from actions.yaml and config.yaml so a new parameter is covered the day it
is added, and the cases the project decided to accept, each with its reason.

    python -m tests.unit.bad_input.cases     # the case count per class

A case's outcome is one of:

- ``juju``: Juju refuses the value before the charm runs (the action's JSON schema, or the
  option's type). Where the value's type is the declared one, the charm refuses it too.
- ``refused``: the charm fails the action (or blocks) with a one-line message, before any
  cloud call and before anything on the unit changes.
- ``accepted``: the value is taken as it is (documented in ``ACCEPTED_PARAMS`` /
  ``ACCEPTED_OPTIONS``): the action goes on to the cloud, the option reaches octavia.conf.
"""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[3]
ACTIONS: dict[str, Any] = yaml.safe_load((ROOT / "actions.yaml").read_text())
OPTIONS: dict[str, Any] = yaml.safe_load((ROOT / "config.yaml").read_text())["options"]

# One value per class of bad text. The shell class mixes every metacharacter a shell would
# act on; the path class climbs out of whatever directory the value might be joined to.
TEXT_VALUES: dict[str, str] = {
    "empty": "",
    "blank": "   ",
    "newline": "a\nb",
    "nul": "a\x00b",
    "escape": "a\x1b[2Jb",
    "shell": "$(touch /tmp/x);`id`|&>x'\"",
    "long": "x" * 10_000,
    "unicode": "xxlarge-\u00fcn\u00efc\u00f8de-\u20ac-\U0001f600",
    "path": "../../etc/passwd",
}
# Classes of bad integers, given as functions of the declared bounds.
INTEGER_CLASSES = ("as-text", "fraction", "boolean", "below-minimum", "above-maximum", "huge")
# Classes of bad floats (worker-multiplier): Juju takes any number, NaN and infinity too.
FLOAT_VALUES: dict[str, Any] = {
    "as-text": "0.5",
    "boolean": True,
    "negative": -0.5,
    "nan": float("nan"),
    "infinite": float("inf"),
    "huge": 1e300,
    "zero": 0.0,
    "fraction": 0.25,
}
BOOLEAN_VALUES: dict[str, Any] = {"as-text": "yes", "integer": 1, "null": None}
WRONG_TYPE_FOR_TEXT = 5

# The values that are data to OpenStack, never a path or a shell word: names of resources
# (sent as JSON strings to the APIs) and ids or names looked up through the APIs.
_DATA = {"shell", "unicode", "path"}
_NAME = "a resource name is JSON data to the OpenStack API; it never reaches a shell or a path"
_LOOKUP = "an id or name looked up through the API (a name that matches nothing fails there)"
_TEXT = "free text the API stores; it never reaches a shell or a path"
_DEFAULT_EMPTY = "empty is the documented default"

# (action, parameter) -> {class: reason}; "*" as the action matches every action.
ACCEPTED_PARAMS: dict[tuple[str, str], dict[str, str]] = {
    **{
        (action, name): dict.fromkeys(_DATA, _NAME)
        for action, names in {
            "create-flavor": ("name",),
            "create-flavorprofile": ("name",),
            "create-lb-flavor": ("name",),
            "create-xxlarge-flavor": ("nova-flavor-name", "flavorprofile-name", "lb-flavor-name"),
            "store-tls-bundle": ("name",),
            "run-test-plan": (
                "nova-flavor-name",
                "flavorprofile-name",
                "lb-flavor-name",
                "tls-secret-name",
                "lb-name",
                "listener-name",
                "pool-name",
            ),
        }.items()
        for name in names
    },
    ("create-flavorprofile", "compute-flavor"): dict.fromkeys(_DATA, _LOOKUP),
    ("create-lb-flavor", "flavorprofile"): dict.fromkeys(_DATA, _LOOKUP),
    ("run-test-plan", "vip-subnet"): dict.fromkeys(_DATA, _LOOKUP),
    **{
        (action, "loadbalancer"): {
            **dict.fromkeys(_DATA, _LOOKUP),
            "empty": f"{_DEFAULT_EMPTY} (every amphora)",
        }
        for action in ("check-amphorae", "prepare-amphora")
    },
    **{
        (action, "description"): {
            **dict.fromkeys(_DATA, _TEXT),
            "empty": "an empty description is a description",
            "blank": "a blank description is a description",
        }
        for action in ("create-lb-flavor", "create-xxlarge-flavor")
    },
    ("create-flavor", "id"): {"empty": f"{_DEFAULT_EMPTY} (Nova chooses the id)"},
    **{
        (action, "nova-flavor-id"): {
            "empty": "Nova chooses the id; the flavorprofile points at the id Nova gives"
        }
        for action in ("create-xxlarge-flavor", "run-test-plan")
    },
    ("create-flavorprofile", "flavor-data"): {"empty": "no extra flavor data, as {}"},
    ("store-tls-bundle", "bundle"): {"empty": f"{_DEFAULT_EMPTY} (a bundle is generated)"},
    ("run-test-plan", "run-id"): {"empty": f"{_DEFAULT_EMPTY} (a run id is generated)"},
    ("cleanup-test-plan", "run-id"): {"empty": f"{_DEFAULT_EMPTY} (every recorded run)"},
    ("check-amphorae", "since"): {"empty": f"{_DEFAULT_EMPTY} (the whole boot)"},
    ("restart-services", "services"): {
        "empty": f"{_DEFAULT_EMPTY} (every service)",
        "blank": "a list without items: every service",
    },
}

_CONF_TEXT = "written to octavia.conf as oslo.config reads it back (render.oslo_value)"
# option -> {class: reason}
ACCEPTED_OPTIONS: dict[str, dict[str, str]] = {
    "openstack-origin": {
        "empty": "empty is distro, as charm-helpers reads it",
        "blank": "blank is distro, as charm-helpers reads it",
    },
    "region": {"shell": _CONF_TEXT, "unicode": _CONF_TEXT, "path": _CONF_TEXT},
    "amp-image-tag": {"shell": _CONF_TEXT, "unicode": _CONF_TEXT, "path": _CONF_TEXT},
    **{
        f"os-{side}-hostname": {"empty": f"{_DEFAULT_EMPTY} (the unit's address)"}
        for side in ("public", "internal", "admin")
    },
    **{
        name: {"empty": _DEFAULT_EMPTY}
        for name in (
            "amp-image-owner-id",
            "amp-ssh-key-name",
            "amp-ssh-pub-key",
            "amp-flavor-id",
            "custom-amp-flavor-id",
            "mgmt-network-ipv4-cidr",
            "amp-boot-network-list",
            "amp-secgroup-list",
            "health-manager-bind-ip",
            "controller-ip-port-list",
        )
    },
    # Blank means "not set" to an operator: the list options hold no item then.
    "amp-boot-network-list": {"empty": _DEFAULT_EMPTY, "blank": "a list without items"},
    "amp-secgroup-list": {"empty": _DEFAULT_EMPTY, "blank": "a list without items"},
    "controller-ip-port-list": {"empty": _DEFAULT_EMPTY, "blank": "a list without items"},
    "spare-pool-size": {"zero": "the default: no spare pool (Octavia has none any more)"},
    "vip": {"empty": f"{_DEFAULT_EMPTY} (no VIP)", "blank": "a list without items"},
    # Blank PEM options are not set: the API's TLS comes from the relation, if any.
    **{
        name: {"empty": _DEFAULT_EMPTY, "blank": "not set, as empty"}
        for name in ("ssl_cert", "ssl_key", "ssl_ca")
    },
    **{
        f"os-{side}-network": {"empty": f"{_DEFAULT_EMPTY} (the binding's address)"}
        for side in ("public", "internal", "admin")
    },
    "worker-multiplier": {
        "zero": "one process, as charmhelpers gives an explicit 0 (at least one worker)",
        "fraction": "0.25 x the CPUs, at least one: what bundles set",
    },
    **{
        f"haproxy-{kind}-timeout": {"zero": "no effect here (no haproxy fronts the API)"}
        for kind in ("server", "client", "queue", "connect")
    },
    "volume-type": {
        "empty": f"{_DEFAULT_EMPTY} (Cinder's default volume type)",
        "shell": f"a volume type name, JSON data to Cinder; {_CONF_TEXT}",
        "unicode": f"a volume type name, JSON data to Cinder; {_CONF_TEXT}",
        "path": f"a volume type name, JSON data to Cinder; {_CONF_TEXT}",
    },
    "nagios_servicegroups": {
        "empty": "no servicegroups: nagios_context is the servicegroup, as in charmhelpers",
        "blank": "a list without items: nagios_context is the servicegroup",
    },
}

# Refused by Juju's schema but taken by the charm behind it: (action, parameter, class).
BEHIND_JUJU: dict[tuple[str, str, str], str] = {
    (action, param, "below-minimum"): (
        "actions.yaml asks for at least 10 s; the library takes any positive timeout (the lab "
        "runs the plan with 5 s)"
    )
    for action, param in (("run-test-plan", "lb-timeout"), ("run-test-plan", "step-timeout"))
}

# Parameters every run of an action needs (the schema's "required"), valid.
BASE_PARAMS: dict[str, dict[str, Any]] = {
    "create-flavor": {"name": "m1.test", "ram": 1024, "disk": 1, "vcpus": 1},
    "create-flavorprofile": {"name": "fp.test", "compute-flavor": "10"},
    "create-lb-flavor": {"name": "f.test", "flavorprofile": "fp.test"},
}


@dataclasses.dataclass(frozen=True)
class ParamCase:
    action: str
    param: str
    kind: str
    params: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.action}.{self.param}.{self.kind}"

    @property
    def accepted(self) -> str:
        """Why this case is accepted, or "" when it must be refused."""
        return ACCEPTED_PARAMS.get((self.action, self.param), {}).get(self.kind, "")


@dataclasses.dataclass(frozen=True)
class OptionCase:
    option: str
    kind: str
    value: Any

    @property
    def id(self) -> str:
        return f"{self.option}.{self.kind}"

    @property
    def accepted(self) -> str:
        return ACCEPTED_OPTIONS.get(self.option, {}).get(self.kind, "")


# How a message may name a parameter other than by its own name.
ALIASES = {"lb-flavor-name": ("octavia flavor name",)}


def names(param: str, message: str) -> bool:
    """The message names the parameter (as given, or by its alias)."""
    text = message.lower().replace("-", " ").replace("_", " ")
    return any(form in text for form in (param.replace("-", " "), *ALIASES.get(param, ())))


def juju_refuses(case: ParamCase) -> str:
    """Juju's check of an action's parameters: the action's JSON schema in actions.yaml.
    Why it refuses ``case``, or "" when it lets the charm run."""
    spec = ACTIONS[case.action]
    schema = {
        "type": "object",
        "properties": spec.get("params", {}),
        "required": spec.get("required", []),
        "additionalProperties": spec.get("additionalProperties", True),
    }
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(case.params))
    return errors[0].message if errors else ""


def one_per_action(kind: str = "newline") -> list[ParamCase]:
    """For each action, the first refused case of ``kind`` that Juju lets through."""
    chosen: dict[str, ParamCase] = {}
    for case in param_cases():
        if case.kind == kind and not case.accepted and not juju_refuses(case):
            chosen.setdefault(case.action, case)
    return list(chosen.values())


def _integer_value(kind: str, spec: dict[str, Any]) -> Any:
    low, high = spec.get("minimum"), spec.get("maximum")
    return {
        "as-text": "12",
        "fraction": 1.5,
        "boolean": True,
        "below-minimum": (low - 1) if low is not None else -(2**31) - 1,
        "above-maximum": (high + 1) if high is not None else 2**31,
        "huge": 2**63,
    }[kind]


def _values(spec: dict[str, Any], integer_type: str) -> dict[str, Any]:
    kind = spec.get("type")
    if kind == "string":
        values: dict[str, Any] = {**TEXT_VALUES, "wrong-type": WRONG_TYPE_FOR_TEXT}
        if "enum" in spec:
            values["other-case"] = str(spec["enum"][0]).lower()
        return values
    if kind == integer_type:
        return {k: _integer_value(k, spec) for k in INTEGER_CLASSES}
    if kind == "boolean":
        return dict(BOOLEAN_VALUES)
    if kind == "float":
        return dict(FLOAT_VALUES)
    raise ValueError(f"no bad values for type {kind!r}")


def param_cases() -> list[ParamCase]:
    cases = []
    for action, spec in ACTIONS.items():
        base = BASE_PARAMS.get(action, {})
        for param, param_spec in spec.get("params", {}).items():
            for kind, value in _values(param_spec, "integer").items():
                cases.append(ParamCase(action, param, kind, {**base, param: value}))
        for param in spec.get("required", []):
            missing = {k: v for k, v in base.items() if k != param}
            cases.append(ParamCase(action, param, "missing", missing))
        cases.append(ParamCase(action, "no-such-param", "unknown", {**base, "no-such-param": "x"}))
    return cases


def option_cases() -> list[OptionCase]:
    cases = []
    for option, spec in OPTIONS.items():
        values = _values(spec, "int")
        if spec["type"] == "int":
            # Config options have no bounds in config.yaml: the charm's own are the ones.
            values.pop("above-maximum")
            values["zero"] = 0
        cases.extend(OptionCase(option, kind, value) for kind, value in values.items())
    return cases


def main() -> int:
    params, options = param_cases(), option_cases()
    print(f"{len(params)} action-parameter cases, {len(options)} config-option cases")
    for label, counter in (
        ("parameters", Counter(c.kind for c in params)),
        ("options", Counter(c.kind for c in options)),
    ):
        print(f"{label}: " + ", ".join(f"{k} {n}" for k, n in sorted(counter.items())))
    accepted = sum(1 for c in params if c.accepted) + sum(1 for c in options if c.accepted)
    print(f"accepted by decision: {accepted}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
