"""The lab: a real OpenStack control plane on 127.0.0.1 (Keystone, Barbican, Glance, Nova API,
Placement, Neutron with ML2/OVN on OVN's own databases and northd, Octavia API, worker, health
manager and housekeeping, MariaDB, RabbitMQ), for the tests and the SRU plan.

Every server binds 127.0.0.1 on a port picked at start (RabbitMQ's and Octavia's can be fixed,
for callers inside their own network namespace), keeps its state under one temporary
directory, and leads its own process group; ``down`` stops those groups by PID and removes the
directory. A detached watchdog stops the lab if its owner dies or its TTL runs out.

``Lab`` orchestrates (what starts in parallel with what, and when each service must answer)
and keeps the processes' books (state file, watchdog, signals); each service's configuration,
start and readiness probe are in its module of ``tests.lab.services``.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.lab import procs
from tests.lab.clouds import write_clouds_yaml
from tests.lab.files import tail
from tests.lab.host import install_host_packages
from tests.lab.networks import LabNetworks, create_lab_networks
from tests.lab.services import (
    Context,
    Service,
    api_url,
    barbican,
    glance,
    keystone,
    mariadb,
    neutron,
    nova,
    octavia,
    ovn,
    placement,
    rabbitmq,
)
from tests.lab.tls import LabTLS, write_lab_tls
from tests.lab.venv import ensure_venv

if TYPE_CHECKING:
    import openstack.connection

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
SERVICES = (
    "mariadb",
    "rabbitmq",
    "keystone",
    "barbican",
    "glance-api",
    "nova-api",
    "placement-api",
    "ovn-nb",
    "ovn-sb",
    "ovn-northd",
    "neutron-server",
    *octavia.PROCESSES,
)
# What restarts with a service because it does not recover from the service's absence by
# itself. RabbitMQ: an Octavia API request that was blocked on the broker is carried out once
# the broker is back (a load balancer appears after the fault, in a later test), and the
# worker reconnects only after a back-off that grows to 30 s.
RESTART_WITH = {"rabbitmq": ("octavia-api", "octavia-worker")}
# The processes that need no Keystone token to answer their probe.
TOKENLESS = ("mariadb", "rabbitmq", "keystone", "ovn-nb", "ovn-sb", "ovn-northd")
# The lab directory's own directories, and the ports it picks (in this order).
LAB_SUBDIRS = ("logs", "bin", "mysql", "rabbitmq", "ovn", *keystone.SERVICE_USERS, "keystone")
PORT_NAMES = ("mysql", "rabbitmq", "rabbit_dist", "epmd", "ovn_nb", "ovn_sb", "keystone")
PORT_NAMES += ("barbican", "glance", "nova", "placement", "neutron", "octavia")
DEFAULT_TTL = 2 * 3600.0
# Bound on each phase of up(): a service that neither answers nor dies by then fails up().
DEFAULT_START_TIMEOUT = 180.0
# Each process's readiness probe, from the module of its service.
_PROBES: dict[str, Callable[[Service, str | None], bool]] = {
    name: service.probe
    for service in (
        *(mariadb, rabbitmq, ovn, keystone, barbican),
        *(glance, nova, placement, neutron, octavia),
    )
    for name in service.PROCESSES
}


class LabError(RuntimeError):
    """The lab could not be brought up (the message carries the failing service's log tail)."""


class Lab:
    """A running (after ``up()``) lab control plane. Use as a context manager or up()/down()."""

    admin_cloud = "lab-admin"
    member_cloud = "lab-member"

    def __init__(
        self,
        base_dir: Path | str | None = None,
        octavia_overrides: dict[str, dict[str, str]] | None = None,
        worker_pythonpath: Sequence[Path] = (),
        *,
        ttl: float | None = None,
        detached: bool = False,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        parallel: bool = True,
        amqp_port: int | None = None,
        octavia_port: int | None = None,
        start_octavia: bool = True,
        tls: bool = False,
    ) -> None:
        self._base_dir = Path(base_dir) if base_dir else None
        self.octavia_overrides = octavia_overrides or {}
        self.worker_pythonpath = [Path(p) for p in worker_pythonpath]
        self.ttl = ttl if ttl is not None else float(os.environ.get("LAB_TTL", DEFAULT_TTL))
        # A detached lab (the CLI's) outlives this process; its watchdog only honours the TTL.
        self.detached = detached
        self.start_timeout = start_timeout
        # parallel=False brings services up one after another: the benchmark's baseline.
        self.parallel = parallel
        # Fixed ports instead of free ones: a client that assumes RabbitMQ's standard port,
        # an Octavia API brought by the caller (the catalog publishes octavia_port).
        self.amqp_port = amqp_port
        self.octavia_port = octavia_port
        # False: the lab configures Octavia and publishes it in the catalog but starts neither
        # its API nor its worker (the caller runs its own against the lab).
        self.start_octavia = start_octavia
        # True: every API over https only, with a certificate from a lab CA of its own that
        # every client the lab configures trusts (clouds.yaml's cacert included).
        self.tls_enabled = tls
        self.tls: LabTLS | None = None
        self.dir = Path()
        self.python = Path()
        self.clouds_yaml = Path()
        self.octavia_conf = Path()
        # ext_net and lab-amp-boot-net with their subnets, once Neutron answers.
        self.networks: LabNetworks | None = None
        self.ports: dict[str, int] = {}
        self.passwords: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        self._services: dict[str, Service] = {}
        self._lock = threading.RLock()
        self._up = False
        self._prev_handlers: dict[int, Any] = {}

    # ----------------------------------------------------------------- public API
    def __enter__(self) -> Lab:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    @property
    def identity_url(self) -> str:
        return api_url(self.ports["keystone"], "/v3", tls=self.tls is not None)

    @property
    def ca_file(self) -> Path | None:
        """The TLS lab's CA certificate (what clouds.yaml's ``cacert`` names), else None."""
        return self.tls.ca_file if self.tls else None

    @property
    def lab_networks(self) -> LabNetworks:
        """The ids of ext_net, ext_net_subnet, lab-amp-boot-net and its subnet (once up)."""
        if self.networks is None:
            raise LabError("the lab's networks exist once it is up")
        return self.networks

    def up(self) -> Lab:
        """Start every service; return once every API answers an authenticated request."""
        if self._up:
            return self
        install_host_packages()
        t0 = time.monotonic()
        self._prepare_dir()
        self._up = True
        self._guard()
        try:
            self._bring_up()
        except BaseException:
            self.down()
            raise
        self.timings["up"] = time.monotonic() - t0
        return self

    def down(self) -> None:
        """Stop every process the lab started (by process group) and remove its directory."""
        with self._lock:
            if not self._up:
                return
            self._up = False
            t0 = time.monotonic()
            # OpenStack services first, killed: their state goes with the lab's directory, and
            # a graceful stop costs seconds (the health manager ignores SIGTERM for longer).
            backends = ("mariadb", "rabbitmq", "epmd")
            for tier, grace in ((lambda n: n not in backends, 0.0), (lambda n: n in backends, 10)):
                procs.stop_groups(
                    [s.proc.pid for n, s in self._services.items() if s.proc and tier(n)], grace
                )
            for s in self._services.values():
                if s.proc:
                    with contextlib.suppress(Exception):
                        s.proc.wait(timeout=1)
            procs.teardown_from_state(self.dir, remove_dir=not os.environ.get("LAB_KEEP_DIR"))
            self._unguard()
            self.timings["down"] = time.monotonic() - t0

    def connect(self, cloud: str = "lab-admin") -> openstack.connection.Connection:
        from charmed_octavia.cloud.connection import connect_cloud

        # Only the lab's clouds.yaml: never ~/.config/openstack or OS_* variables.
        return connect_cloud(cloud, self.clouds_yaml)

    def spawn(self, svc: Service) -> None:
        """Start a process of the lab's own (a chassis'): stopped with it, and by its watchdog."""
        self._spawn(svc)

    def stop_service(self, name: str) -> None:
        svc = self.service(name)
        if svc.proc and svc.proc.poll() is None:
            procs.stop_group(svc.proc.pid)
            with contextlib.suppress(Exception):
                svc.proc.wait(timeout=5)
        self._record_state()

    def start_service(self, name: str) -> None:
        """Start a service (stopped by ``stop_service``) and return once it answers, restarting
        what does not recover from its absence by itself (``RESTART_WITH``) with it."""
        svc = self.service(name)
        if svc.proc and svc.proc.poll() is None:
            return
        # Stopped while the service is still away, so that nothing they held on to from its
        # absence is carried out once it is back.
        dependants = [d for d in RESTART_WITH.get(name, ()) if d in self._services]
        for dependant in dependants:
            self.stop_service(dependant)
        self._spawn(svc)
        token = self._token() if name not in TOKENLESS else None
        self._wait_ready([name], token=token)
        for dependant in dependants:
            self.start_service(dependant)

    def restart_services(self, names: Sequence[str]) -> None:
        """Kill ``names`` at once and start them again (with the configuration as it is now);
        return once each answers. For services with nothing in flight: a graceful stop of
        the health manager alone takes longer than its whole start."""
        with self._lock:
            running = [self.service(n) for n in names]
            procs.stop_groups([s.proc.pid for s in running if s.proc], timeout=0)
            for svc in running:
                if svc.proc:
                    with contextlib.suppress(Exception):
                        svc.proc.wait(timeout=5)
            for svc in running:
                self._spawn(svc)
        token = self._token() if any(n not in TOKENLESS for n in names) else None
        self._wait_ready(list(names), token=token)

    def database_admin(self, sql: str) -> None:
        """Run ``sql`` as MariaDB's root (as a database charm creates users and grants)."""
        mariadb.admin_sql(self._context(), sql)

    def database_rows(self, sql: str) -> list[list[str]]:
        """The rows ``sql`` selects, read as MariaDB's root (each a list of column texts)."""
        return mariadb.admin_query(self._context(), sql)

    def broker_admin(self, *args: str, input: str | None = None) -> str:
        """Run ``rabbitmqctl ARGS`` on the lab's node (as the rabbitmq-server charm does);
        its output."""
        return rabbitmq.ctl(self._context(), args, input=input)

    def log_tail(self, name: str, lines: int = 40) -> str:
        return tail(self.dir / "logs" / f"{name}.log", lines)

    def pids(self) -> list[int]:
        """Every live process in the lab's process groups (servers and their children)."""
        groups = {s.proc.pid for s in self._services.values() if s.proc}
        return sorted(p for p, fields in procs.live_processes() if int(fields[2]) in groups)

    def rss_bytes(self) -> int:
        return sum(self.rss_by_service().values())

    def rss_by_service(self) -> dict[str, int]:
        """The resident memory of each service's process group (its server and children)."""
        return procs.rss_by_group({s.proc.pid: n for n, s in self._services.items() if s.proc})

    def service_pid(self, name: str) -> int | None:
        svc = self._services.get(name)
        return svc.proc.pid if svc and svc.proc and svc.proc.poll() is None else None

    # ----------------------------------------------------------------- set-up
    def _prepare_dir(self) -> None:
        parent = self._base_dir or Path(os.environ.get("LAB_BASE_DIR") or tempfile.gettempdir())
        parent.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="charmed-octavia-lab-", dir=parent))
        for sub in LAB_SUBDIRS:
            (self.dir / sub).mkdir(mode=0o700)
        if self.tls_enabled:
            (self.dir / "tls").mkdir(mode=0o700)
            self.tls = write_lab_tls(self.dir / "tls")
        self.ports = dict(zip(PORT_NAMES, procs.free_ports(len(PORT_NAMES)), strict=True))
        for name, fixed in (("rabbitmq", self.amqp_port), ("octavia", self.octavia_port)):
            if fixed:
                self.ports[name] = fixed
        self.ports["health_manager"] = procs.free_udp_port()  # UDP: the amphorae's heartbeats
        self.passwords = {
            k: secrets.token_urlsafe(18)
            for k in ("db", "admin", "member", *keystone.SERVICE_USERS, "keystone")
        }
        self.clouds_yaml = self.dir / "clouds.yaml"
        self.octavia_conf = octavia.conf_path(self.dir)
        self._record_state()

    def _record_state(self, watchdog_pid: int | None = None) -> None:
        with self._lock:
            self._record_state_locked(watchdog_pid)

    def _record_state_locked(self, watchdog_pid: int | None) -> None:
        state = procs.read_state(self.dir)
        state.update(
            {
                "dir": str(self.dir),
                "owns_dir": True,
                "owner_pid": 0 if self.detached else os.getpid(),
                "ports": self.ports,
                "clouds_yaml": str(self.clouds_yaml),
                "octavia_conf": str(self.octavia_conf),
                "ca_file": str(self.tls.ca_file) if self.tls else None,
                "networks": self.networks.as_dict() if self.networks else None,
                "python": str(self.python),
                "services": {
                    n: {
                        "pgid": s.proc.pid if s.proc else None,
                        "start": s.started,
                        "port": s.port,
                    }
                    for n, s in self._services.items()
                },
            }
        )
        if watchdog_pid:
            state["watchdog_pid"] = watchdog_pid
            state["watchdog_start"] = procs.start_time(watchdog_pid)
        procs.write_state(self.dir, state)

    def _guard(self) -> None:
        """Make sure the lab stops even when its owner fails, is signalled, or is killed."""
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        argv = [sys.executable, "-m", "tests.lab.watchdog", str(self.dir), "--ttl", str(self.ttl)]
        if not self.detached:
            argv += ["--owner-pid", str(os.getpid())]
        with open(self.dir / "logs" / "watchdog.log", "ab") as log:
            wd = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd="/",
            )
        self._record_state(watchdog_pid=wd.pid)
        if self.detached:
            return
        atexit.register(self.down)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGHUP):
                self._prev_handlers[sig] = signal.signal(sig, self._on_signal)

    def _unguard(self) -> None:
        with contextlib.suppress(Exception):
            atexit.unregister(self.down)
        if threading.current_thread() is threading.main_thread():
            for sig, handler in self._prev_handlers.items():
                with contextlib.suppress(Exception):
                    signal.signal(sig, handler)
        self._prev_handlers.clear()

    def _on_signal(self, signum: int, frame: Any) -> None:
        prev = self._prev_handlers.get(signum)
        self.down()
        if callable(prev):
            prev(signum, frame)
        else:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def _bring_up(self) -> None:
        marks: dict[str, float] = {}
        t0 = time.monotonic()

        def timed(name: str, fn: Callable[[], Any]) -> Callable[[], Any]:
            def run() -> Any:
                result = fn()
                marks[name] = time.monotonic() - t0
                return result

            return run

        with ThreadPoolExecutor(max_workers=8 if self.parallel else 1) as pool:
            f_venv = pool.submit(timed("venv", ensure_venv))
            f_db = pool.submit(timed("mariadb", self._start_mariadb))
            f_mq = pool.submit(timed("rabbitmq", self._start_rabbitmq))
            f_ovn = pool.submit(timed("ovn", self._start_ovn))
            self.passwords.setdefault("ca", secrets.token_hex(16))
            octavia.write_ca(self._context())
            self.python = f_venv.result() / "bin" / "python"
            self._write_configs()
            f_db.result()
            ctx = self._context()
            f_keystone = pool.submit(timed("keystone", lambda: keystone.start(ctx)))
            jobs: list[Future] = [
                f_keystone,
                pool.submit(timed("barbican", lambda: barbican.start(ctx))),
                pool.submit(timed("glance", lambda: glance.start(ctx))),
                pool.submit(timed("nova-api", lambda: nova.start(ctx))),
                pool.submit(timed("placement", lambda: placement.start(ctx))),
            ]
            f_neutron = pool.submit(
                timed("neutron", lambda: self._start_neutron(ctx, f_mq, f_ovn))
            )
            f_net = pool.submit(
                timed("networks", lambda: self._make_networks(f_keystone, f_neutron))
            )
            jobs += [f_neutron, f_net]
            if self.start_octavia:
                jobs.append(
                    pool.submit(timed("octavia", lambda: self._start_octavia(ctx, f_mq, f_net)))
                )
            for job in jobs:
                job.result()
            f_mq.result()
            f_ovn.result()
        marks["spawned"] = time.monotonic() - t0
        self._wait_ready(["keystone"])
        token = self._token()
        apis = ["barbican", "glance-api", "nova-api", "placement-api", "neutron-server"]
        if self.start_octavia:
            apis += octavia.PROCESSES
        self._wait_ready(apis, token=token)
        marks["ready"] = time.monotonic() - t0
        self.timings.update({f"phase:{k}": v for k, v in marks.items()})

    # ----------------------------------------------------------------- processes
    def service(self, name: str) -> Service:
        if name not in self._services:
            raise LabError(f"unknown lab service {name!r}; known: {', '.join(SERVICES)}")
        return self._services[name]

    def _spawn(self, svc: Service) -> None:
        with self._lock:
            if not self._up:
                raise LabError("the lab is going down")
            with open(svc.log, "ab") as log:
                svc.log_start = log.tell()
                svc.proc = subprocess.Popen(
                    svc.argv,
                    env=svc.env,
                    cwd=str(svc.cwd or self.dir),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            svc.started = procs.start_time(svc.proc.pid)
            self._services[svc.name] = svc
            self._record_state()

    def _run(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        """Run a one-shot set-up command; its output goes to the service's log."""
        log_path = self.dir / "logs" / f"{name}.log"
        with open(log_path, "ab") as log:
            log.write(f"$ {' '.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                argv,
                env=env or self._context().venv_env(name),
                cwd=str(self.dir),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            # A one-shot command is registered too, so that down() during set-up stops it.
            key = f"setup:{name}:{proc.pid}"
            with self._lock:
                self._services[key] = Service(
                    key, argv, {}, log_path, proc=proc, started=procs.start_time(proc.pid)
                )
                self._record_state()
            try:
                rc = proc.wait(timeout=self.start_timeout)
            except subprocess.TimeoutExpired:
                procs.stop_group(proc.pid)
                raise LabError(
                    f"{name}: {argv[0]} did not finish in {self.start_timeout:.0f}s:\n"
                    + tail(log_path, 40)
                ) from None
        if rc != 0:
            raise LabError(
                f"{name}: {' '.join(argv[:4])} failed (exit {rc}):\n{tail(log_path, 40)}"
            )

    def _context(self) -> Context:
        """What the services need from the lab, as of now (``python`` is set once the venv is
        ready)."""
        return Context(
            dir=self.dir,
            python=self.python,
            ports=self.ports,
            passwords=self.passwords,
            spawn=self._spawn,
            run=self._run,
            wait_ready=self._wait_ready,
            tls=self.tls,
        )

    def _start_mariadb(self) -> None:
        ctx = self._context()
        mariadb.configure(ctx)
        mariadb.start(ctx)

    def _start_rabbitmq(self) -> None:
        ctx = self._context()
        rabbitmq.configure(ctx)
        rabbitmq.start(ctx)

    def _start_ovn(self) -> None:
        ctx = self._context()
        ovn.configure(ctx)
        ovn.start(ctx)

    def _start_neutron(self, ctx: Context, broker: Future, ovn_dbs: Future) -> None:
        # The schema needs MariaDB only; the server needs the broker and OVN's databases.
        neutron.start(ctx, backends_ready=lambda: (broker.result(), ovn_dbs.result()))

    def _make_networks(self, *started: Future) -> None:
        """ext_net and lab-amp-boot-net, made as an admin makes them once Neutron answers; the
        latter's id goes into octavia.conf's ``amp_boot_network_list``."""
        for job in started:  # Keystone's and Neutron's: both are spawned
            job.result()
        self._wait_ready(["keystone"])
        self._wait_ready(["neutron-server"], token=self._token())
        conn = self.connect(self.admin_cloud)
        try:
            self.networks = create_lab_networks(conn)
        finally:
            conn.close()
        octavia.use_management_network(self._context(), self.networks.mgmt_net_id)
        self._record_state()

    def _start_octavia(self, ctx: Context, broker: Future, networks: Future) -> None:
        # The worker declares its queues on RabbitMQ as it starts: it waits for the broker.
        # Both read amp_boot_network_list at start: they wait for the lab's networks.
        octavia.start(
            ctx,
            broker_ready=broker.result,
            networks_ready=networks.result,
            worker_pythonpath=self.worker_pythonpath,
        )

    def _write_configs(self) -> None:
        """The OpenStack services' configuration (the venv is ready: they copy files from it)
        and the lab's clouds.yaml."""
        shutil.copy(HERE / "wsgi_apps.py", self.dir / "bin" / "wsgi_apps.py")
        ctx = self._context()
        keystone.configure(ctx)
        barbican.configure(ctx)
        glance.configure(ctx)
        nova.configure(ctx)
        placement.configure(ctx)
        neutron.configure(ctx)
        octavia.configure(ctx, overrides=self.octavia_overrides)
        self._write_clouds_yaml()

    def _write_clouds_yaml(self) -> None:
        users = {self.admin_cloud: ("admin", "admin"), self.member_cloud: ("member", "lab")}
        write_clouds_yaml(
            self.clouds_yaml, self.identity_url, users, self.passwords, cacert=self.ca_file
        )

    # ----------------------------------------------------------------- readiness
    def _token(self) -> str:
        return keystone.admin_token(self._context())

    def _probe(self, name: str, token: str | None) -> bool:
        return _PROBES[name](self._services[name], token)

    def _wait_ready(self, names: list[str], token: str | None = None) -> None:
        deadline = time.monotonic() + self.start_timeout
        pending = list(names)
        while pending:
            for name in list(pending):
                svc = self._services[name]
                if svc.proc is None or svc.proc.poll() is not None:
                    code = svc.proc.returncode if svc.proc else None
                    raise LabError(
                        f"lab service {name} exited (code {code}) while starting; "
                        f"log tail:\n{tail(svc.log, 40)}"
                    )
                if self._probe(name, token):
                    pending.remove(name)
            if not pending:
                return
            if time.monotonic() > deadline:
                tails = "\n".join(
                    f"--- {n} ---\n{tail(self._services[n].log, 40)}" for n in pending
                )
                raise LabError(
                    f"lab services not ready after {self.start_timeout:.0f}s: "
                    f"{', '.join(pending)}\n{tails}"
                )
            time.sleep(0.2)


def attach(lab_dir: Path) -> dict:
    """The recorded state of a lab started elsewhere (the CLI's), for status and down."""
    state = procs.read_state(lab_dir)
    if not state:
        raise LabError(f"no lab state in {lab_dir}")
    return state
