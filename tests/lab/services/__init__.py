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

import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tests.lab import procs
from tests.lab.tls import LabTLS

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
    # The TLS lab's CA: the server answers https only, and its probe trusts this CA.
    ca_file: Path | None = None

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
    named processes answer their probe (or raises). ``tls``: the TLS lab's certificates (every
    API over https, every client trusting the lab CA), None for the plain lab.
    """

    dir: Path
    python: Path
    ports: Mapping[str, int]
    passwords: Mapping[str, str]
    spawn: Callable[[Service], None]
    run: RunCommand
    wait_ready: Callable[[list[str]], None]
    tls: LabTLS | None = None

    @property
    def identity_url(self) -> str:
        return self.url("keystone", "/v3")

    def url(self, port_name: str, path: str = "") -> str:
        """The URL of the API on port ``port_name`` (https in the TLS lab)."""
        return api_url(self.ports[port_name], path, tls=self.tls is not None)

    def cafile(self, option: str = "cafile") -> dict[str, str]:
        """``{option: the lab CA}`` in the TLS lab (a client section's CA option), else {}."""
        return {option: str(self.tls.ca_file)} if self.tls else {}

    def ssl_context(self) -> ssl.SSLContext | None:
        """What the lab's own requests verify the APIs with (the lab CA only), or None."""
        return ca_context(self.tls.ca_file) if self.tls else None

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
        ]
        if self.tls:
            argv += ["--certfile", str(self.tls.cert_file), "--keyfile", str(self.tls.key_file)]
        argv.append("wsgi_apps:application")
        return Service(name, argv, env, self.log(name), port=port, ca_file=self.ca_file)

    @property
    def ca_file(self) -> Path | None:
        return self.tls.ca_file if self.tls else None


def api_url(port: int, path: str = "", *, tls: bool = False) -> str:
    return f"{'https' if tls else 'http'}://127.0.0.1:{port}{path}"


def ca_context(ca_file: Path) -> ssl.SSLContext:
    """A client context that trusts ``ca_file`` alone (never the system's CAs), verifying."""
    return ssl.create_default_context(cafile=str(ca_file))


def port_listening(service: Service) -> bool:
    """The probe of a server without an HTTP API: its port accepts connections."""
    return service.port is not None and procs.port_open(service.port)


def http_ok(service: Service, path: str, token: str | None) -> bool:
    """The probe of an API: its port is open and GET ``path`` answers 200."""
    if not port_listening(service):
        return False
    tls = service.ca_file is not None
    req = urllib.request.Request(api_url(service.port or 0, path, tls=tls))  # noqa: S310
    if token:
        req.add_header("X-Auth-Token", token)
    context = ca_context(service.ca_file) if service.ca_file else None
    try:
        # S310: loopback URLs built here.
        with urllib.request.urlopen(req, timeout=30, context=context) as resp:  # noqa: S310
            return resp.status == 200
    except urllib.error.URLError as e:
        # A certificate the lab CA did not issue is a broken lab, not one still starting.
        if isinstance(e.reason, ssl.SSLCertVerificationError):
            raise e.reason from e
        return False
    except OSError:
        return False
