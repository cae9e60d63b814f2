"""The Juju suite: this charm in a real model next to the OpenStack charms it replaces.

Not part of CI: it needs a bootstrapped Juju controller, charmcraft (with LXD, or
``--destructive-mode`` on a matching Ubuntu), pytest-operator and an hour. Run it with
``tox -e juju`` (or ``tox -e juju -- --vip-subnet <subnet>``). Without a reachable controller
every test here is skipped with the reason.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ENABLE = (
    "install juju and charmcraft (snap install juju; snap install charmcraft --classic), "
    "bootstrap a controller (juju bootstrap localhost) and run `tox -e juju`"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("charmed-octavia juju suite")
    group.addoption(
        "--vip-subnet",
        default="ext_net_subnet",
        help="Neutron subnet (id or name) for the run-test-plan load balancer VIP",
    )
    group.addoption(
        "--plan-lb-timeout",
        type=int,
        default=1800,
        help="seconds run-test-plan waits for the load balancer (its lb-timeout parameter)",
    )


@functools.cache
def unavailable() -> str:
    """Why the Juju suite cannot run here ("" when it can)."""
    if shutil.which("juju") is None:
        return f"juju is not on PATH: {ENABLE}"
    try:
        listed = subprocess.run(
            ["juju", "controllers", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"`juju controllers` did not answer ({e}): {ENABLE}"
    try:
        current = json.loads(listed.stdout or "{}").get("current-controller", "")
    except json.JSONDecodeError:
        current = ""
    if listed.returncode != 0:
        tail = listed.stderr.strip().splitlines()[-1:] or [f"exit {listed.returncode}"]
        return f"`juju controllers` failed ({tail[0]}): {ENABLE}"
    if not current:
        return f"`juju controllers` shows no current controller: {ENABLE}"
    try:
        reach = subprocess.run(
            ["juju", "models", "--controller", current, "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"controller {current} did not answer `juju models` within 60 s: {ENABLE}"
    if reach.returncode != 0:
        tail = (reach.stderr or reach.stdout).strip().splitlines()[-1:] or [""]
        return f"controller {current} is not reachable ({tail[0]}): {ENABLE}"
    if shutil.which("charmcraft") is None:
        return "charmcraft is not on PATH (snap install charmcraft --classic) to build the charm"
    if importlib.util.find_spec("pytest_operator") is None:
        return "pytest-operator is not installed: run the suite with `tox -e juju`"
    return ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mine = [item for item in items if HERE in Path(str(item.path)).resolve().parents]
    if not mine:
        return
    reason = unavailable()
    if reason:
        for item in mine:
            item.add_marker(pytest.mark.skip(reason=reason))
