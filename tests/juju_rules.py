"""What Juju accepts from ``action-set``, for the tests to hold every action result to.

ops.testing does not check action results as Juju does; the charm's ops.testing suite and the
packed charm's fake hook tools apply these rules to every result an action sets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# juju/juju: a result key starts and ends with a lowercase letter or digit and holds only
# those, hyphens and periods (ops joins nested keys with periods).
RESULT_KEY = re.compile(r"[a-z0-9](?:[a-z0-9-.]*[a-z0-9])?")
# Linux's MAX_ARG_STRLEN: the longest single argument a program (action-set) is given.
ARG_MAX = 128 * 1024


def flatten(results: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested results as ops hands them to action-set: dotted keys, text values."""
    flat: dict[str, str] = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def action_result_problems(results: Mapping[str, Any] | None) -> list[str]:
    """Why Juju would refuse these results (empty when it would take them)."""
    problems = []
    for key, value in flatten(results or {}).items():
        if not RESULT_KEY.fullmatch(key):
            problems.append(f"key {key!r} is not a Juju result key")
        size = len(f"{key}={value}".encode())
        if size > ARG_MAX:
            problems.append(f"{key}: {size} bytes, over action-set's {ARG_MAX} per argument")
    return problems


# What `juju config` takes for each option type (a YAML boolean is no int, an int no float).
_CONFIG_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "int": (int,),
    "float": (float, int),
    "boolean": (bool,),
}


def config_value_problem(option_type: str, value: Any) -> str:
    """Why Juju would refuse ``value`` for an option of ``option_type`` ("" if it takes it)."""
    wanted = _CONFIG_TYPES[option_type]
    if isinstance(value, bool) and bool not in wanted:
        return f"expected {option_type}, got a boolean"
    if not isinstance(value, wanted):
        return f"expected {option_type}, got {type(value).__name__}"
    return ""
