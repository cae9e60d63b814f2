"""An OVN chassis of the lab: Debian's Open vSwitch with its userspace datapath and
ovn-controller, bound to the lab's OVN southbound database, so that Neutron ports bound to it
come up as on a compute or controller node.

Three processes of the lab (``Lab.spawn``: stopped with it, or by its watchdog):

- ``ovsdb-server`` on a database made with ``ovsdb-tool create`` from Debian's
  ``vswitch.ovsschema``, started by ``unshare --net`` in a network namespace of its own, which
  therefore lives exactly as long as the chassis' processes (nothing to remove afterwards);
- ``ovs-vswitchd`` in that namespace (``nsenter --net``): with ``datapath_type=netdev`` the
  userspace datapath creates each internal port as a tap device there, and forwards between
  them with no kernel module;
- ``ovn-controller`` in the host's namespace, where the lab's southbound database listens on
  127.0.0.1; it reaches the other two through their Unix sockets.

Their run directory (sockets, pid files, control sockets, database) is ``<lab dir>/chassis``,
never the system's ``/var/run/openvswitch``: ``OVS_RUNDIR`` points every tool there.
``Chassis.command`` wraps a command to run in the namespace against that database;
``ChassisMachine`` is a unit ``Machine`` whose commands run so. ``Chassis.plug`` puts a Neutron
port (an amphora's, as Nova's VIF plugging would) into a network namespace of its own: an
internal port of ``br-int`` moved there, so the namespace's traffic goes through OVN.
"""

from __future__ import annotations

import contextlib
import ipaddress
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from charmed_octavia.unit.machine import Machine

from tests.lab import procs
from tests.lab.services import Service, ovn

if TYPE_CHECKING:
    from tests.lab.control import Lab

NAME = "lab-chassis"
PROCESSES = ("chassis-ovsdb", "chassis-vswitchd", "chassis-ovn-controller")
_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
_LOG = ("--no-chdir", "-vconsole:info", "-vsyslog:off")


class ChassisError(RuntimeError):
    """The chassis did not come up (the message carries its log's tail)."""


@dataclass(frozen=True)
class PluggedPort:
    """A Neutron port plugged on the chassis into a network namespace of its own."""

    port_id: str
    device: str  # its name in the namespace
    interface: str  # its address and prefix, as ``ip addr`` takes it
    netns: str  # as ``nsenter --net=`` takes it

    @property
    def address(self) -> str:
        return str(ipaddress.ip_interface(self.interface).ip)

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run in the port's namespace."""
        return ["nsenter", f"--net={self.netns}", "--", *argv]


class Chassis:
    """The lab's chassis ``name`` (its OVN ``system-id`` and ``hostname``: what a Neutron
    port's ``binding:host_id`` names). ``start()``, then ``stop()``, or use ``with``."""

    def __init__(self, lab: Lab, name: str = NAME, timeout: float = 60.0) -> None:
        self.lab = lab
        self.name = name
        self.timeout = timeout
        self.dir = lab.dir / "chassis"
        self.timings: dict[str, float] = {}
        self._namespace_pid: int | None = None
        self._spawned: list[str] = []

    def __enter__(self) -> Chassis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def env(self) -> dict[str, str]:
        """What Open vSwitch's tools need to find this chassis' database and sockets."""
        d = str(self.dir)
        return dict(_ENV, OVS_RUNDIR=d, OVS_LOGDIR=d, OVS_DBDIR=d, OVN_RUNDIR=d, OVN_LOGDIR=d)

    @property
    def southbound(self) -> str:
        """The lab's OVN southbound database, which ovn-controller binds ports in."""
        return f"tcp:127.0.0.1:{self.lab.ports['ovn_sb']}"

    @property
    def namespace(self) -> str:
        """The chassis' network namespace, as ``nsenter --net=`` takes it."""
        if self._namespace_pid is None:
            raise ChassisError("the chassis is not running")
        return f"/proc/{self._namespace_pid}/ns/net"

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run in the chassis' network namespace, its tools on the chassis' database."""
        env = [f"{k}={v}" for k, v in self.env.items()]
        return ["nsenter", f"--net={self.namespace}", "--", "env", *env, *argv]

    def run(self, argv: Sequence[str], *, check: bool = True) -> str:
        """Run ``argv`` in the namespace against the chassis' database; its output."""
        result = subprocess.run(self.command(argv), capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise ChassisError(f"{' '.join(argv[:3])} failed: {result.stderr.strip()}")
        return result.stdout

    def start(self) -> Chassis:
        """Bring the three processes up; return once the chassis is in the southbound
        database. On failure, whatever started is stopped."""
        t0 = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.timings["start"] = time.monotonic() - t0
        return self

    def _start(self) -> None:
        self.dir.mkdir(mode=0o700, exist_ok=True)
        db = self.dir / "conf.db"
        db.unlink(missing_ok=True)
        subprocess.run(
            [ovn.OVSDB_TOOL, "create", str(db), str(ovn.VSWITCH_SCHEMA)],
            env=self.env,
            check=True,
            capture_output=True,
        )
        server = self._spawn(
            "chassis-ovsdb",
            [
                "unshare",
                "--net",
                "--",
                ovn.OVSDB_SERVER,
                str(db),
                f"--remote=punix:{self.dir / 'db.sock'}",
                f"--unixctl={self.dir / 'ovsdb-server.ctl'}",
                f"--pidfile={self.dir / 'ovsdb-server.pid'}",
                *_LOG,
            ],
        )
        self._namespace_pid = server
        self._wait("ovsdb-server", lambda: self._vsctl("--no-wait", "show"))
        self._configure(
            "--no-wait",
            "init",
            "--",
            "set",
            "Open_vSwitch",
            ".",
            *self._external_ids(),
            "--",
            "add-br",
            "br-int",
            "--",
            "set",
            "Bridge",
            "br-int",
            "datapath_type=netdev",
            "fail_mode=secure",
        )
        self._spawn(
            "chassis-vswitchd",
            self.command(
                [
                    ovn.OVS_VSWITCHD,
                    f"unix:{self.dir / 'db.sock'}",
                    f"--unixctl={self.dir / 'ovs-vswitchd.ctl'}",
                    f"--pidfile={self.dir / 'ovs-vswitchd.pid'}",
                    *_LOG,
                ]
            ),
        )
        # Without --no-wait, a transaction returns once ovs-vswitchd has applied the database.
        applied = ("--timeout=2", "set", "Open_vSwitch", ".", "external-ids:ovn-bridge=br-int")
        self._wait("ovs-vswitchd", lambda: self._vsctl(*applied))
        self._spawn(
            "chassis-ovn-controller",
            [
                ovn.OVN_CONTROLLER,
                f"unix:{self.dir / 'db.sock'}",
                f"--pidfile={self.dir / 'ovn-controller.pid'}",
                *_LOG,
            ],
        )
        self._wait("ovn-controller", self._registered)

    def stop(self) -> None:
        """Stop the three processes (by their PIDs); the namespace goes with them.

        ovn-controller is asked to exit first: it then removes its chassis (and its encap) from
        the southbound database, so that a chassis of another name may take 127.0.0.1 next."""
        controller = self.lab.service_pid("chassis-ovn-controller")
        if controller is not None and "chassis-ovn-controller" in self._spawned:
            subprocess.run(
                [ovn.OVN_APPCTL, "-t", str(self.dir / f"ovn-controller.{controller}.ctl"), "exit"],
                env=self.env,
                capture_output=True,
                check=False,
                timeout=15,
            )
            with contextlib.suppress(RuntimeError):
                procs.wait_for(
                    "ovn-controller exits", lambda: not procs.pid_alive(controller), timeout=10
                )
        for name in reversed(self._spawned):
            if self.lab.service_pid(name) is not None:
                self.lab.stop_service(name)
        self._spawned.clear()
        self._namespace_pid = None

    @contextlib.contextmanager
    def plug(self, port_id: str, mac: str, interface: str) -> Iterator[PluggedPort]:
        """Port ``port_id`` (MAC ``mac``) in a new network namespace, ``interface`` (address
        and prefix) on it: an internal port of ``br-int`` bound to it (``iface-id``), which the
        userspace datapath makes a tap device in the chassis' namespace, moved into the new
        one. The namespace is held by a lab process (stopped with the lab, or by its
        watchdog); on the way out the port is removed from ``br-int``, then the holder stops."""
        tag = uuid.uuid4().hex[:8]
        device, holder = f"amp{tag[:6]}", f"chassis-netns-{tag}"
        self.run(
            [
                *("ovs-vsctl", "add-port", "br-int", device, "--", "set", "Interface", device),
                *("type=internal", f"external-ids:iface-id={port_id}"),
                *("external-ids:iface-status=active", f"external-ids:attached-mac={mac}"),
            ]
        )
        try:
            pid = self._spawn(holder, ["unshare", "--net", "--", "sleep", "infinity"])
            plugged = PluggedPort(port_id, device, interface, f"/proc/{pid}/ns/net")
            procs.wait_for("the port's namespace", lambda: Path(plugged.netns).exists())
            # The tap device appears once ovs-vswitchd has applied the new port.
            procs.wait_for(
                f"{device} in the chassis", lambda: self._link_exists(device), timeout=30
            )
            self.run(["ip", "link", "set", "dev", device, "netns", str(pid)])
            for argv in (
                ["ip", "link", "set", "dev", device, "address", mac, "up"],
                ["ip", "addr", "add", interface, "dev", device, "nodad"],
            ):
                subprocess.run(plugged.command(argv), check=True, timeout=30, capture_output=True)
            yield plugged
        finally:
            self.run(["ovs-vsctl", "--if-exists", "del-port", "br-int", device], check=False)
            if holder in self._spawned:
                self.lab.stop_service(holder)
                self._spawned.remove(holder)

    def _link_exists(self, device: str) -> bool:
        argv = ["ip", "link", "show", "dev", device]
        return subprocess.run(self.command(argv), capture_output=True, check=False).returncode == 0

    def rss_by_process(self) -> dict[str, int]:
        """The resident memory of each of the chassis' processes, in bytes."""
        return {
            name: size for name, size in self.lab.rss_by_service().items() if name in PROCESSES
        }

    def _external_ids(self) -> list[str]:
        return [
            f"external-ids:system-id={self.name}",
            f"external-ids:hostname={self.name}",
            f"external-ids:ovn-remote={self.southbound}",
            "external-ids:ovn-encap-type=geneve",
            "external-ids:ovn-encap-ip=127.0.0.1",
            "external-ids:ovn-bridge=br-int",
        ]

    def _registered(self) -> bool:
        out = subprocess.run(
            [
                ovn.OVN_SBCTL,
                f"--db={self.southbound}",
                "--timeout=5",
                "--bare",
                "--columns=name",
                "find",
                "Chassis",
                f"name={self.name}",
            ],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout.strip() == self.name

    def _configure(self, *args: str) -> None:
        if not self._vsctl(*args):
            raise ChassisError(f"ovs-vsctl {' '.join(args[:3])} failed (see {self.dir})")

    def _vsctl(self, *args: str) -> bool:
        result = subprocess.run(
            [ovn.OVS_VSCTL, *args], env=self.env, capture_output=True, text=True, check=False
        )
        return result.returncode == 0

    def _spawn(self, name: str, argv: list[str]) -> int:
        log = self.lab.dir / "logs" / f"{name}.log"
        self.lab.spawn(Service(name, argv, self.env, log, cwd=self.dir))
        self._spawned.append(name)
        pid = self.lab.service_pid(name)
        if pid is None:
            raise ChassisError(f"{name} exited at once:\n{log.read_text()[-2000:]}")
        return pid

    def _wait(self, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.timeout
        while not ready():
            dead = [n for n in self._spawned if self.lab.service_pid(n) is None]
            if dead or time.monotonic() > deadline:
                logs = "\n".join(f"--- {n}\n{self.lab.log_tail(n, 20)}" for n in self._spawned)
                reason = ", ".join(dead) + " exited" if dead else f"{self.timeout:.0f}s"
                raise ChassisError(f"{what} of the chassis is not ready ({reason}):\n{logs}")
            time.sleep(0.05)


class ChassisMachine(Machine):
    """A unit ``Machine`` on the lab's chassis: its commands run in the chassis' network
    namespace against its Open vSwitch (for real), its files under ``root``.

    ``commands`` records every command run. No systemd-networkd runs in the namespace (this
    host has no systemd as PID 1), so ``service_active`` answers False for it.
    """

    def __init__(self, chassis: Chassis, root: Path) -> None:
        super().__init__(root)
        self.chassis = chassis
        self.commands: list[tuple[str, ...]] = []

    def run(self, command: Sequence[str]) -> str:
        self.commands.append(tuple(command))
        return super().run(self.chassis.command(command))

    def service_active(self, name: str) -> bool:
        return False
