"""``pip install .`` in a fresh venv on each base's Python gives a working ``octavia-sru``: its
help, every subcommand's, and the parameters of actions.yaml as its options."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from charmed_octavia.commands.registry import COMMANDS

from tests.bases import BASES, InterpreterMissing, interpreter
from tests.infrastructure import require
from tests.octavia_sru_install import REPO, install

# The actions that are commands (the others act on the unit, and are the charm's alone).
ACTIONS = {
    name: spec
    for name, spec in yaml.safe_load((REPO / "actions.yaml").read_text()).items()
    if name in COMMANDS
}


def _python(version: str):
    try:
        return interpreter(version)
    except InterpreterMissing as e:
        require(str(e), f"CPython {version}")
        raise


@pytest.fixture(scope="module", params=[b.python for b in BASES], ids=lambda v: f"py{v}")
def octavia_sru(request, tmp_path_factory):
    python = _python(request.param)
    return install(python, tmp_path_factory.mktemp(f"sru-{request.param}")), request.param


def _run(script, *args):
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_installed_command_runs_on_the_bases_python_with_every_action(octavia_sru):
    # Arrange
    script, version = octavia_sru

    # Act
    top = _run(script, "--help")
    python = (script.parent / "python").resolve()
    version_line = subprocess.run(
        [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    # Assert
    assert top.returncode == 0, top.stderr
    assert version_line == version
    assert "--os-cloud" in top.stdout and "--insecure" in top.stdout
    assert "--os-cacert" in top.stdout
    for name in ACTIONS:
        assert (name if name != "cleanup-test-plan" else "cleanup") in top.stdout


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_each_subcommand_offers_the_actions_parameters(octavia_sru, action):
    # Arrange
    script, _ = octavia_sru
    command = "cleanup" if action == "cleanup-test-plan" else action

    # Act
    shown = _run(script, command, "--help")

    # Assert
    assert shown.returncode == 0, shown.stderr
    for param in ACTIONS[action].get("params", {}):
        assert f"--{param}" in shown.stdout, param


def test_the_install_holds_no_charm_requirement(octavia_sru):
    # Arrange
    script, _ = octavia_sru

    # Act
    listed = subprocess.run(
        [str(script.parent / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()

    # Assert: the runtime requirements of the command only.
    assert "openstacksdk==" in listed and "asyncssh==" in listed
    for charm_only in ("ops==", "charmhelpers==", "jinja2=="):
        assert f"\n{charm_only}" not in f"\n{listed}", charm_only


def test_the_packages_requirements_are_the_charms_with_the_same_bounds():
    # Arrange
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    charm = [
        line.strip()
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    # Act
    command = [r for r in project["dependencies"] if not r.startswith("PyYAML")]
    extra = project["optional-dependencies"]["charm"]

    # Assert: octavia-sru's and the charm's extra make requirements.txt, bound for bound.
    assert sorted(command + extra) == sorted(charm)
    assert project["scripts"] == {"octavia-sru": "charmed_octavia.commands.cli:main"}
