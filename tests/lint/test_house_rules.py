"""The layout rules: the real tree keeps them, and each kind of breach is caught."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.lint import house_rules

ROOT = Path(__file__).resolve().parents[2]


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"lib/charmed_octavia/__init__.py": "", **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.parent.name in house_rules.WING_RULES:
            (path.parent / "__init__.py").touch()
        path.write_text(textwrap.dedent(text))
    (tmp_path / "charm").mkdir(exist_ok=True)
    return tmp_path


def test_the_repository_keeps_the_house_rules():
    # Act
    breaches = house_rules.check(ROOT)

    # Assert
    assert breaches == []
    names = {m.name for m in house_rules.modules(ROOT)}
    assert {"charm", "charmed_octavia.plan.steps", "charmed_octavia.unit.machine"} <= names


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"lib/charmed_octavia/cloud/x.py": "from charmed_octavia.plan import run\n"},
            "the cloud wing may import no other wing",
        ),
        (
            {
                "lib/charmed_octavia/unit/x.py": (
                    "from typing import TYPE_CHECKING\n"
                    "if TYPE_CHECKING:\n"
                    "    from charmed_octavia.amphora import ssh\n"
                )
            },
            "imports charmed_octavia.amphora: the unit wing may import cloud",
        ),
        (
            {"lib/charmed_octavia/plan/x.py": "def f():\n    import ops\n"},
            "imports ops (the library never does)",
        ),
        (
            {"lib/charmed_octavia/amphora/x.py": "import actions\n"},
            "imports the charm's module actions",
        ),
        (
            {
                "lib/charmed_octavia/plan/a.py": "from charmed_octavia.plan import b\n",
                "lib/charmed_octavia/plan/b.py": "def f():\n    from . import a\n",
            },
            "import cycle: charmed_octavia.plan.a -> charmed_octavia.plan.b -> "
            "charmed_octavia.plan.a",
        ),
        (
            {"lib/charmed_octavia/plan/x.py": "def f():\n" + "    pass\n" * 80},
            "f is 81 lines (at most 80)",
        ),
        (
            {"lib/charmed_octavia/plan/x.py": "x = 1\n" * 601},
            "601 lines (at most 600)",
        ),
    ],
)
def test_each_breach_is_caught_and_named(tmp_path, files, expected):
    # Arrange
    root = _tree(tmp_path, files)

    # Act
    breaches = house_rules.check(root)

    # Assert
    assert len(breaches) == 1, breaches
    assert expected in breaches[0]


def test_allowed_imports_are_no_breach(tmp_path):
    # Arrange: plan uses cloud and amphora, unit uses cloud, the charm uses everything.
    root = _tree(
        tmp_path,
        {
            "lib/charmed_octavia/plan/x.py": (
                "from charmed_octavia.cloud import y\nfrom charmed_octavia.amphora import z\n"
            ),
            "lib/charmed_octavia/cloud/y.py": "import openstack\n",
            "lib/charmed_octavia/amphora/z.py": "import asyncio\n",
            "lib/charmed_octavia/unit/w.py": "from charmed_octavia.cloud import y\n",
            "charm/charm.py": "import ops\nfrom charmed_octavia.plan import x\n",
        },
    )

    # Act / Assert
    assert house_rules.check(root) == []
