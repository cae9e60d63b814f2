"""A packed charm installed on a unit as Juju installs it, and its hooks run as Juju runs them.

The unit is a unit root (``tests.unit_root``) that reads as the base's Ubuntu, whose
``python3`` is the base's bare CPython (a venv without pip or setuptools: a unit's python3
without python3-setuptools), with the charm unzipped where the unit agent puts it
(``/var/lib/juju/agents/unit-octavia-0/charm``). Hooks run the charm's own ``dispatch`` with
Juju's environment (``JUJU_DISPATCH_PATH``, ``JUJU_UNIT_NAME``, ``JUJU_CHARM_DIR``,
``JUJU_VERSION``, the relation and action variables) and the hook tools first on ``PATH``.

Named fakes: ``FakeHookTools`` (``hooktools``) for the unit agent, ``FakeMachineTools``
(``machine_tools``) for apt, dpkg, systemctl and octavia-db-manage. Both keep their state in
files of this machine's, which the tests read.

Several units of one application: each ``PackedUnit`` has its own root and state (a unit
name and leadership of its own); ``share_from`` then does what Juju's controller does between
the hooks of an application's units, and nothing else: it gives a unit the peer relation's
application data and the application's secrets (every revision) as another unit left them,
and that unit's peer databag. The test says when, as the controller would before the hook it
triggers (a peer relation-changed).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.bases import Base, interpreter
from tests.packed import hooktools, machine_tools
from tests.unit_root import UnitRoot

ROOT = Path(__file__).resolve().parents[2]
UNIT = "octavia/0"
CHARM_DIR = "/var/lib/juju/agents/unit-octavia-0/charm"  # unit 0's
MACHINE_TOOLS_DIR = "/opt/fake-machine/bin"
JUJU_VERSION = "3.6.11"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def address(unit: str) -> str:
    """The address network-get gives ``unit`` (a documentation range: nothing is sent to it)."""
    return f"192.0.2.{10 + int(unit.partition('/')[2])}"


@dataclass
class HookRun:
    """One dispatch: its exit status and output, and the statuses it set."""

    returncode: int
    output: str
    statuses: list[dict[str, Any]]


def bare_python(python: str, cache: Path) -> Path:
    """A venv of the base's CPython without pip (hence without setuptools or distutils)."""
    home = cache / f"bare-python-{python}"
    if not (home / "bin" / "python3").exists():
        subprocess.run([interpreter(python), "-m", "venv", "--without-pip", home], check=True)
    return home / "bin" / "python3"


class PackedUnit:
    """See the module docstring."""

    def __init__(
        self,
        base: Base,
        charm: Path,
        work: Path,
        cache: Path,
        unit: str = UNIT,
        leader: bool = True,
    ) -> None:
        self.base = base
        self.unit = unit
        tag = f"unit-{unit.replace('/', '-')}"
        self.charm_dir = f"/var/lib/juju/agents/{tag}/charm"
        self.tools_dir = f"/var/lib/juju/tools/{tag}"
        self.work = Path(work)
        self.state_dir = self.work / "state"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.juju_state = self.state_dir / "juju.json"
        self.machine_state = self.state_dir / "machine.json"
        self.root = UnitRoot(self.work / "root")
        self.root.as_ubuntu(base.version)
        python = bare_python(base.python, cache)
        for name in ("/usr/bin/python3", "/usr/local/bin/python3"):
            self.root.link(name, str(python))
        # charmhelpers runs apt-get with the PATH of /etc/environment, as on a unit.
        self.root.put("/etc/environment", f'PATH="{MACHINE_TOOLS_DIR}:{SYSTEM_PATH}"\n')
        self._install_tools(
            self.tools_dir, "tests.packed.hooktools", hooktools.TOOLS, self.juju_state
        )
        self._install_tools(
            MACHINE_TOOLS_DIR,
            "tests.packed.machine_tools",
            machine_tools.PROGRAMS,
            self.machine_state,
        )
        charm_dir = self.root.path(self.charm_dir)
        charm_dir.mkdir(parents=True)
        subprocess.run(["unzip", "-q", str(charm), "-d", str(charm_dir)], check=True)
        self.state: dict[str, Any] = {
            "unit": unit,
            "app": unit.split("/")[0],
            "leader": leader,
            "config": {},
            "relations": {},
            "address": address(unit),
            "model_uuid": str(uuid.uuid4()),
            "charm_dir": self.charm_dir,
            "statuses": [],
            "log": [],
            "calls": [],
            "unknown": [],
            "action": None,
        }
        self._save()
        self._next_relation_id = 0

    def _install_tools(self, directory: str, module: str, names: tuple[str, ...], state: Path):
        # The test's own interpreter and only the repository on its path: the hook's
        # PYTHONPATH (the charm's venv, another CPython's) must not reach the fake.
        env = f"PYTHONPATH={shlex.quote(str(ROOT))} FAKE_STATE={shlex.quote(str(state))}"
        launcher = (
            "#!/bin/sh\n"
            f'{env} exec {shlex.quote(sys.executable)} -m {module} "$(basename "$0")" "$@"\n'
        )
        self.root.put(f"{directory}/.launcher", launcher, mode=0o755)
        for name in names:
            self.root.link(f"{directory}/{name}", ".launcher")

    # -- the model ------------------------------------------------------------------------
    def _save(self) -> None:
        self.juju_state.write_text(json.dumps(self.state, indent=1, sort_keys=True))

    def load(self) -> dict[str, Any]:
        self.state = json.loads(self.juju_state.read_text())
        return self.state

    def machine(self) -> dict[str, Any]:
        return json.loads(self.machine_state.read_text()) if self.machine_state.exists() else {}

    def add_relation(
        self, endpoint: str, remote_app: str, units: dict[str, dict[str, str]], peer: bool = False
    ) -> str:
        self.load()
        rid = f"{endpoint}:{self._next_relation_id}"
        self._next_relation_id += 1
        self.state["relations"][rid] = {
            "endpoint": endpoint,
            "remote_app": remote_app,
            "units": units,
            "remote_app_data": {},
            "local_unit": {},
            "local_app": {},
            "peer": peer,
        }
        self._save()
        return rid

    def peer_relation(self) -> str:
        """The peer relation's id."""
        return next(rid for rid, rel in self.state["relations"].items() if rel["peer"])

    def share_from(self, other: PackedUnit) -> None:
        """What Juju's controller gives this unit of ``other``'s: see the module docstring."""
        theirs = other.load()["relations"][other.peer_relation()]
        secrets = other.state.get("secrets", {})
        peer = self.load()["relations"][self.peer_relation()]
        peer["local_app"] = dict(theirs["local_app"])
        peer["units"][other.unit] = dict(theirs["local_unit"])
        self.state["secrets"] = json.loads(json.dumps(secrets))
        self._save()

    def set_leader_settings(self, settings: dict[str, str]) -> None:
        """The leader settings ``leader-get`` answers (an existing charm's, before a switch)."""
        self.load()
        self.state["leader_settings"] = dict(settings)
        self._save()

    def configure(self, **options: Any) -> None:
        self.load()
        self.state["config"].update(options)
        self._save()

    # -- hooks and actions ----------------------------------------------------------------
    def dispatch(self, path: str, **extra: str) -> HookRun:
        """Run ``dispatch`` for ``path`` (``hooks/install``, ``actions/<name>``)."""
        before = len(self.load()["statuses"])
        logged = len(self.state["log"])
        env = {
            "JUJU_DISPATCH_PATH": path,
            "JUJU_UNIT_NAME": self.unit,
            "JUJU_CHARM_DIR": self.charm_dir,
            "JUJU_VERSION": JUJU_VERSION,
            "JUJU_MODEL_NAME": "packed",
            "JUJU_MODEL_UUID": self.state["model_uuid"],
            "PATH": f"{self.tools_dir}:{MACHINE_TOOLS_DIR}:{SYSTEM_PATH}",
            "HOME": "/root",
            "LANG": "C.UTF-8",
            **extra,
        }
        done = self.root.run(
            ["./dispatch"], env=env, cwd=self.charm_dir, check=False, binds=[self.state_dir]
        )
        state = self.load()
        # ops sends the charm's errors (tracebacks included) to juju-log, not to stderr.
        errors = [m for level, m in state["log"][logged:] if level == "ERROR"]
        output = "\n".join([done.stdout + done.stderr, *errors])
        return HookRun(done.returncode, output, state["statuses"][before:])

    def hook(self, name: str) -> HookRun:
        return self.dispatch(f"hooks/{name}")

    def relation_hook(self, rid: str, kind: str, remote_unit: str = "") -> HookRun:
        rel = self.load()["relations"][rid]
        extra = {
            "JUJU_RELATION": rel["endpoint"],
            "JUJU_RELATION_ID": rid,
            "JUJU_REMOTE_APP": rel["remote_app"],
        }
        if remote_unit:
            extra["JUJU_REMOTE_UNIT"] = remote_unit
        return self.dispatch(f"hooks/{rel['endpoint']}-relation-{kind}", **extra)

    def action(self, name: str, params: dict[str, Any]) -> tuple[HookRun, dict[str, Any]]:
        self.load()
        self.state["action"] = {
            "name": name,
            "params": params,
            "results": {},
            "failed": None,
            "log": [],
        }
        self._save()
        run = self.dispatch(
            f"actions/{name}", JUJU_ACTION_NAME=name, JUJU_ACTION_UUID=str(uuid.uuid4())
        )
        return run, self.load()["action"]
