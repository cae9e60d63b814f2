"""Each runtime requirement at its floor: ``requirements.txt`` with every ``>=X`` as ``==X``.

The floors env (tox ``floors``) installs these on the oldest base's Python (3.10) with the
test tools, and runs the unit suite: a floor that does not work fails there.

    python -m tests.packed.floors OUTPUT
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The test tools, for the unit suite; ops' testing extra at the ops floor.
TEST_TOOLS = ("pytest>=8,<9", "jsonschema>=4.18")
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9_.\[\]-]+)\s*(?P<spec>[^;#]*)")
_CLAUSE = re.compile(r"^(?P<op>>=|==|<=|~=|!=|<|>)\s*(?P<version>\S+)$")


def floors(requirements: str) -> list[str]:
    """One pinned line per requirement: its lower bound (or its exact pin)."""
    pinned = []
    for line in requirements.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = _REQUIREMENT.match(line)
        if match is None:
            raise ValueError(f"cannot read requirement {line!r}")
        bounds: dict[str, str] = {}
        for part in match["spec"].split(","):
            clause = _CLAUSE.match(part.strip())
            if clause:
                bounds[clause["op"]] = clause["version"]
        floor = bounds.get("==") or bounds.get(">=")
        if floor is None:
            raise ValueError(f"requirement {line!r} has no floor (>= or ==)")
        name = match["name"]
        if name == "ops":
            name = "ops[testing]"
        pinned.append(f"{name}=={floor}")
    return pinned


def main(argv: list[str]) -> int:
    (output,) = argv
    lines = floors((ROOT / "requirements.txt").read_text())
    Path(output).write_text("\n".join([*lines, *TEST_TOOLS]) + "\n")
    print("\n".join(lines), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
