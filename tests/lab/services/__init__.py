"""The lab's services, one module each: ``mariadb``, ``rabbitmq``, ``ovn`` (``ovn-central``:
both OVSDB servers and ``ovn-northd``), ``keystone``, ``barbican``, ``glance`` (``glance-api``,
one file store), ``nova`` (its API only), ``neutron`` (``neutron-server``, ML2/OVN) and
``octavia`` (API, worker, health manager, housekeeping).

Every module has the same interface, driven by ``tests.lab.control.Lab`` in the order (and
parallelism) of ``Lab._bring_up``:

- ``PROCESSES``: the names of the processes it starts (the keys of the lab's bookkeeping);
- ``configure(ctx: Context) -> None``: writes its configuration under ``ctx.dir``;
- ``start(ctx: Context) -> None``: runs its one-shot set-up commands (schema, bootstrap)
  through ``ctx.run`` and spawns its servers through ``ctx.spawn``;
- ``probe(service: Service, token: str | None) -> bool``: whether one of its processes
  answers (``token``: a Keystone admin token, for the APIs behind keystonemiddleware).

Octavia's ``configure`` and ``start`` take keyword arguments on top: the lab's octavia.conf
overrides, the worker's PYTHONPATH, ``networks_ready`` (called before the API spawns: the lab's
``lab-amp-boot-net`` is then in octavia.conf) and ``broker_ready`` (before the worker spawns);
Neutron's ``start`` takes ``backends_ready``, called between its schema and its server.
The modules share this package's ``Context`` (what a service needs from the lab), the
``Service`` record of a process, and the helpers below; each module also exports what others
configure with (``mariadb.url``, ``mariadb.migrate_cached``, ``rabbitmq.transport_url``,
``keystone.authtoken``, ``ovn.db_url``).
"""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tests.lab import procs

REGION = "RegionOne"
# The lab's users have every role they need: no scope or new-defaults checks.
POLICY = {"enforce_scope": "false", "enforce_new_defaults": "false"}


@dataclass
class Service:
    """One process of the lab: how it is started, and (once spawned) its process."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    cwd: Path | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)
    # Start time of the group leader: tells our group from a later one with a reused PID.
    started: int | None = None
    # Size of the log when the process was spawned: what a restarted process wrote follows.
    log_start: int = 0

    def log_since_start(self) -> str:
        """What the process wrote to its log since it was (last) spawned."""
        try:
            with open(self.log, "rb") as f:
                f.seek(self.log_start)
                return f.read().decode(errors="replace")
        except OSError:
            return ""


class RunCommand(Protocol):
    """Runs a one-shot set-up command of service ``name`` (output to its log); raises on
    failure. ``env`` defaults to the lab venv's environment for that service."""

    def __call__(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None: ...


@dataclass(frozen=True)
class Context:
    """What a service needs from the lab.

    ``python`` is the lab venv's interpreter; it is ``Path()`` while the venv is being made,
    which MariaDB and RabbitMQ (started meanwhile) do not use. ``spawn`` starts a ``Service``
    in its own process group, ``run`` a one-shot command, ``wait_ready`` returns once the
    named processes answer their probe (or raises).
    """

    dir: Path
    python: Path
    ports: Mapping[str, int]
    passwords: Mapping[str, str]
    spawn: Callable[[Service], None]
    run: RunCommand
    wait_ready: Callable[[list[str]], None]

    @property
    def identity_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['keystone']}/v3"

    @property
    def venv_bin(self) -> Path:
        return self.python.parent

    @property
    def venv_root(self) -> Path:
        return self.python.parent.parent

    def log(self, name: str) -> Path:
        return self.dir / "logs" / f"{name}.log"

    def venv_env(self, name: str, home: Path | None = None) -> dict[str, str]:
        """The environment of a lab venv process of ``name`` (its own HOME by default)."""
        return {
            "PATH": f"{self.venv_bin}:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(home or self.dir / name.split("-")[0]),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "TMPDIR": str(self.dir),
        }

    def gunicorn(self, name: str, port: int, config: Path) -> Service:
        """An API server of ``name`` under gunicorn, its application from ``wsgi_apps.py``."""
        env = self.venv_env(name)
        env.update({"LAB_APP": name, "LAB_APP_CONFIG": str(config)})
        argv = [
            str(self.venv_bin / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--timeout",
            "300",
            "--graceful-timeout",
            "3",
            "--name",
            f"lab-{name}",
            "--pythonpath",
            str(self.dir / "bin"),
            "--error-logfile",
            "-",
            "wsgi_apps:application",
        ]
        return Service(name, argv, env, self.log(name), port=port)


def port_listening(service: Service) -> bool:
    """The probe of a server without an HTTP API: its port accepts connections."""
    return service.port is not None and procs.port_open(service.port)


def http_ok(service: Service, path: str, token: str | None) -> bool:
    """The probe of an API: its port is open and GET ``path`` answers 200."""
    if not port_listening(service):
        return False
    req = urllib.request.Request(f"http://127.0.0.1:{service.port}{path}")
    if token:
        req.add_header("X-Auth-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (loopback URL)
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False
