"""The layout rules of lib/ and charm/, checked from the source alone (no imports run).

- ``ops`` is never imported under ``lib/`` (ruff's banned-api says the same per file);
  nothing under ``lib/`` imports the charm's own modules.
- The wings of ``charmed_octavia`` import only what they may (``WING_RULES``).
- No import cycle among the modules of ``lib/`` and ``charm/``, counting every import: at
  module level, inside functions and under ``TYPE_CHECKING``.
- No module longer than ``MAX_MODULE_LINES`` lines, no function longer than
  ``MAX_FUNCTION_LINES``.

``python -m tests.lint.house_rules [ROOT]`` prints one line per breach and exits 1 if any.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "charmed_octavia"
# What each wing may import of the others.
WING_RULES: dict[str, frozenset[str]] = {
    "cloud": frozenset(),
    "amphora": frozenset(),
    "unit": frozenset({"cloud"}),
    "plan": frozenset({"cloud", "amphora"}),
    "commands": frozenset({"cloud", "amphora", "plan", "unit"}),
}
CHARM_MODULES = frozenset({"charm", "action_context", "action_reports", "actions"})
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


@dataclass(frozen=True)
class Module:
    name: str  # dotted: charmed_octavia.plan.run, or charm, actions
    path: Path
    tree: ast.Module


def modules(root: Path) -> list[Module]:
    """Every Python module of ``lib/`` and ``charm/`` under ``root``."""
    found = []
    for base in (root / "lib", root / "charm"):
        for path in sorted(base.rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            tree = ast.parse(path.read_text(), filename=str(path))
            found.append(Module(".".join(parts), path, tree))
    return found


def imports(module: Module) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import statement anywhere in the module; ``from X
    import Y`` yields ``X.Y`` too, since Y may be a module."""
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def wing(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == PACKAGE else None


def _resolve(name: str, known: set[str]) -> str | None:
    """The known module ``name`` is, or is inside (a name imported from a module)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def import_breaches(mods: list[Module]) -> list[str]:
    breaches = []
    for mod in mods:
        if not mod.name.startswith(PACKAGE):
            continue
        own = wing(mod.name)
        # One breach per statement and kind: ``from X import Y`` names X and X.Y.
        reported: set[tuple[int, str]] = set()
        for target, line in imports(mod):
            where = f"{mod.path}:{line}"
            top = target.split(".")[0]
            other = wing(target)
            if top == "ops":
                kind, text = "ops", f"{mod.name} imports ops (the library never does)"
            elif top in CHARM_MODULES:
                kind, text = "charm", f"{mod.name} imports the charm's module {top}"
            elif own and other and other != own and other not in WING_RULES.get(own, ()):
                allowed = ", ".join(sorted(WING_RULES.get(own, ()))) or "no other wing"
                kind = f"wing {other}"
                text = f"{mod.name} imports {target}: the {own} wing may import {allowed}"
            else:
                continue
            if (line, kind) not in reported:
                reported.add((line, kind))
                breaches.append(f"{where}: {text}")
    return breaches


def _graph(mods: list[Module]) -> dict[str, set[str]]:
    known = {m.name for m in mods}
    graph: dict[str, set[str]] = {m.name: set() for m in mods}
    for mod in mods:
        for target, _ in imports(mod):
            resolved = _resolve(target, known)
            # A package's own __init__ is not an edge from its modules (Python loads it
            # first either way, and ours hold docstrings only).
            if resolved and resolved != mod.name and not mod.name.startswith(resolved + "."):
                graph[mod.name].add(resolved)
    return graph


def cycles(mods: list[Module]) -> list[list[str]]:
    """Each import cycle once, as the modules around it."""
    graph = _graph(mods)
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    found.append([*cycle, nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def length_breaches(mods: list[Module]) -> list[str]:
    breaches = []
    for mod in mods:
        lines = len(mod.path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            breaches.append(f"{mod.path}: {lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(mod.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - first + 1
                if length > MAX_FUNCTION_LINES:
                    breaches.append(
                        f"{mod.path}:{node.lineno}: {node.name} is {length} lines "
                        f"(at most {MAX_FUNCTION_LINES})"
                    )
    return breaches


def check(root: Path) -> list[str]:
    mods = modules(root)
    breaches = import_breaches(mods) + length_breaches(mods)
    breaches += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(mods)]
    return breaches


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parents[2]
    breaches = check(root)
    for breach in breaches:
        print(breach)
    count = len(modules(root))
    print(f"house rules: {count} modules, {len(breaches)} breaches", file=sys.stderr)
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
