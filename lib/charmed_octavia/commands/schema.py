"""The actions' parameters as ``actions.yaml`` defines them: names, types, defaults, bounds.

``actions.yaml`` is the one definition: Juju reads it for the actions, ``octavia-sru`` builds
its options from it. A source checkout (and the packed charm) reads the repository's own; an
installed ``octavia-sru`` the copy ``pip install`` puts under ``share/octavia-sru/``.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path
from typing import Any

CHECKOUT = Path(__file__).resolve().parents[3] / "actions.yaml"
DISTRIBUTION = "charmed-octavia"
INSTALLED = "share/octavia-sru/actions.yaml"
TYPES: dict[str, type] = {"string": str, "integer": int, "boolean": bool, "number": float}


@dataclasses.dataclass(frozen=True)
class Param:
    name: str  # as Juju spells it: vip-subnet
    type: type
    default: Any = None
    required: bool = False
    minimum: int | float | None = None
    maximum: int | float | None = None
    enum: tuple[Any, ...] = ()
    description: str = ""

    @property
    def field(self) -> str:
        """The name of the typed class's field (as ``ops`` maps it): vip_subnet."""
        return self.name.replace("-", "_")


@dataclasses.dataclass(frozen=True)
class Action:
    name: str
    description: str
    params: tuple[Param, ...]


def installed_file() -> Path | None:
    """The installed distribution's copy of actions.yaml, wherever the scheme put it."""
    from importlib import metadata

    try:
        files = metadata.distribution(DISTRIBUTION).files or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if str(file).replace("\\", "/").endswith(INSTALLED):
            return Path(str(file.locate()))
    return None


def actions_file() -> Path:
    if CHECKOUT.is_file():
        return CHECKOUT
    found = installed_file()
    if found is None or not found.is_file():
        raise FileNotFoundError(
            f"actions.yaml is neither at {CHECKOUT} nor installed as {INSTALLED} of "
            f"{DISTRIBUTION}: reinstall it"
        )
    return found


@cache
def actions(path: Path | None = None) -> dict[str, Action]:
    """Every action of ``actions.yaml`` (``path``, or the one of this installation)."""
    import yaml

    data = yaml.safe_load((path or actions_file()).read_text())
    return {name: _action(name, spec or {}) for name, spec in data.items()}


def _action(name: str, spec: dict[str, Any]) -> Action:
    required = set(spec.get("required", ()))
    params = []
    for pname, p in (spec.get("params") or {}).items():
        if p.get("type") not in TYPES:
            raise ValueError(f"actions.yaml: {name} {pname}: type {p.get('type')!r} unsupported")
        params.append(
            Param(
                name=pname,
                type=TYPES[p["type"]],
                default=p.get("default"),
                required=pname in required,
                minimum=p.get("minimum"),
                maximum=p.get("maximum"),
                enum=tuple(p.get("enum", ())),
                description=" ".join(str(p.get("description", "")).split()),
            )
        )
    return Action(name, " ".join(str(spec.get("description", "")).split()), tuple(params))


def problem(param: Param, value: Any) -> str | None:
    """What Juju's schema check would say of ``value`` (already of ``param.type``), or None."""
    if param.enum and value not in param.enum:
        return f"{param.name} must be one of {', '.join(map(str, param.enum))}"
    if param.type in (int, float):
        if param.minimum is not None and value < param.minimum:
            return f"{param.name} must be at least {param.minimum}"
        if param.maximum is not None and value > param.maximum:
            return f"{param.name} must be at most {param.maximum}"
    return None
