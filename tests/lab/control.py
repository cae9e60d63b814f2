"""The lab: a real OpenStack control plane on 127.0.0.1 (Keystone, Barbican, Nova API, Octavia
API and worker with noop drivers, MariaDB, RabbitMQ), for the tests and the SRU plan.

Every server binds 127.0.0.1 on a port picked at start, keeps its state under one temporary
directory, and leads its own process group; ``down`` stops those groups by PID and removes the
directory. A detached watchdog stops the lab if its owner dies or its TTL runs out.
"""

from __future__ import annotations

import atexit
import base64
import configparser
import contextlib
import datetime
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.lab import procs
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
    "nova-api",
    "octavia-api",
    "octavia-worker",
)
REGION = "RegionOne"
DEFAULT_TTL = 2 * 3600.0
# Bound on each phase of up(): a service that neither answers nor dies by then fails up().
DEFAULT_START_TIMEOUT = 180.0
DEBIAN_PACKAGES = ("mariadb-server", "rabbitmq-server")
MARIADBD = ("/usr/sbin/mariadbd", "/usr/sbin/mysqld")
RABBIT_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
# The worker logs this once its RPC consumer has declared its queues on RabbitMQ.
WORKER_READY_MARK = "Creating fanout queue: octavia_provisioning_v2"


class LabError(RuntimeError):
    """The lab could not be brought up (the message carries the failing service's log tail)."""


def host_prerequisites() -> list[str]:
    """What this machine lacks to run the lab; empty when it can."""
    missing = []
    if not any(Path(p).exists() for p in MARIADBD):
        missing.append("mariadb-server (mariadbd)")
    if not Path(RABBIT_SERVER).exists():
        missing.append("rabbitmq-server")
    if not shutil.which("mariadb-install-db"):
        missing.append("mariadb-server (mariadb-install-db)")
    if not shutil.which("epmd"):
        missing.append("erlang-base (epmd)")
    return missing


def install_host_packages() -> None:
    """Install the Debian packages when root and missing (tests/setup-host.sh does the same)."""
    if not host_prerequisites():
        return
    if os.geteuid() != 0:
        raise LabError(
            "missing " + ", ".join(host_prerequisites()) + " (run tests/setup-host.sh as root)"
        )
    subprocess.run(["bash", str(REPO_ROOT / "tests" / "setup-host.sh")], check=True)


def _free_ports(count: int) -> list[int]:
    """Distinct free ports on 127.0.0.1 (held together so that none is handed out twice)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _write_ini(path: Path, sections: Mapping[str, Mapping[str, str]], mode: int = 0o600) -> None:
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # type: ignore[assignment]  # keep option case
    for section, options in sections.items():
        if section != "DEFAULT" and not parser.has_section(section):
            parser.add_section(section)
        for key, value in options.items():
            parser.set(section, key, value)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        parser.write(f)


def _merge(
    base: dict[str, dict[str, str]], extra: Mapping[str, Mapping[str, str]] | None
) -> dict[str, dict[str, str]]:
    merged = {k: dict(v) for k, v in base.items()}
    for section, options in (extra or {}).items():
        merged.setdefault(section, {}).update({k: str(v) for k, v in options.items()})
    return merged


def _tail(path: Path, lines: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(data.splitlines()[-lines:])


@dataclass
class _Service:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    port: int | None = None
    cwd: Path | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)
    # Start time of the group leader: tells our group from a later one with a reused PID.
    started: int | None = None


def _make_ca(workdir: Path, passphrase: str) -> tuple[Path, Path]:
    """A self-signed CA for the Octavia worker's amphora certificates (needed even with noop)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "charmed-octavia lab CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = workdir / "ca.pem", workdir / "ca.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.BestAvailableEncryption(passphrase.encode()),
            )
        )
    return cert_path, key_path


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
        self.dir = Path()
        self.python = Path()
        self.clouds_yaml = Path()
        self.octavia_conf = Path()
        self.ports: dict[str, int] = {}
        self.passwords: dict[str, str] = {}
        self.timings: dict[str, float] = {}
        self._services: dict[str, _Service] = {}
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
        return f"http://127.0.0.1:{self.ports['keystone']}/v3"

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
            # OpenStack services first: an oslo.messaging client whose broker vanishes under
            # it spends seconds reconnecting before it honours SIGTERM.
            backends = ("mariadb", "rabbitmq", "epmd")
            for tier in (lambda n: n not in backends, lambda n: n in backends):
                procs.stop_groups(
                    [s.proc.pid for n, s in self._services.items() if s.proc and tier(n)]
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

    def stop_service(self, name: str) -> None:
        svc = self._service(name)
        if svc.proc and svc.proc.poll() is None:
            procs.stop_group(svc.proc.pid)
            with contextlib.suppress(Exception):
                svc.proc.wait(timeout=5)
        self._record_state()

    def start_service(self, name: str) -> None:
        svc = self._service(name)
        if svc.proc and svc.proc.poll() is None:
            return
        self._spawn(svc)
        token = self._token() if name not in ("mariadb", "rabbitmq", "keystone") else None
        self._wait_ready([name], token=token)

    def log_tail(self, name: str, lines: int = 40) -> str:
        return _tail(self.dir / "logs" / f"{name}.log", lines)

    def pids(self) -> list[int]:
        """Every live process in the lab's process groups (servers and their children)."""
        groups = {s.proc.pid for s in self._services.values() if s.proc}
        return sorted(p for p, fields in procs.live_processes() if int(fields[2]) in groups)

    def rss_bytes(self) -> int:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        return total

    def service_pid(self, name: str) -> int | None:
        svc = self._services.get(name)
        return svc.proc.pid if svc and svc.proc and svc.proc.poll() is None else None

    # ----------------------------------------------------------------- set-up
    def _prepare_dir(self) -> None:
        parent = self._base_dir or Path(os.environ.get("LAB_BASE_DIR") or tempfile.gettempdir())
        parent.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="charmed-octavia-lab-", dir=parent))
        for sub in ("logs", "bin", "mysql", "rabbitmq", "keystone", "barbican", "nova", "octavia"):
            (self.dir / sub).mkdir(mode=0o700)
        names = ("mysql", "rabbitmq", "rabbit_dist", "epmd", "keystone", "barbican", "nova")
        self.ports = dict(zip((*names, "octavia"), _free_ports(len(names) + 1), strict=True))
        self.passwords = {
            k: secrets.token_urlsafe(18)
            for k in ("db", "admin", "member", "keystone", "barbican", "nova", "octavia")
        }
        self.clouds_yaml = self.dir / "clouds.yaml"
        self.octavia_conf = self.dir / "octavia" / "octavia.conf"
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
            ca = _make_ca(
                self.dir / "octavia", self.passwords.setdefault("ca", secrets.token_hex(16))
            )
            self.python = f_venv.result() / "bin" / "python"
            self._write_configs(ca)
            f_db.result()
            jobs: list[Future] = [
                pool.submit(timed("keystone", self._setup_keystone)),
                pool.submit(timed("barbican", self._setup_barbican)),
                pool.submit(timed("nova-api", self._setup_nova)),
                pool.submit(timed("octavia", lambda: self._setup_octavia(f_mq))),
            ]
            for job in jobs:
                job.result()
            f_mq.result()
        marks["spawned"] = time.monotonic() - t0
        self._wait_ready(["keystone"])
        token = self._token()
        self._wait_ready(["barbican", "nova-api", "octavia-api", "octavia-worker"], token=token)
        marks["ready"] = time.monotonic() - t0
        self.timings.update({f"phase:{k}": v for k, v in marks.items()})

    # ----------------------------------------------------------------- processes
    def _service(self, name: str) -> _Service:
        if name not in self._services:
            raise LabError(f"unknown lab service {name!r}; known: {', '.join(SERVICES)}")
        return self._services[name]

    def _spawn(self, svc: _Service) -> None:
        with self._lock:
            if not self._up:
                raise LabError("the lab is going down")
            with open(svc.log, "ab") as log:
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
                env=env or self._venv_env(name),
                cwd=str(self.dir),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            # A one-shot command is registered too, so that down() during set-up stops it.
            key = f"setup:{name}:{proc.pid}"
            with self._lock:
                self._services[key] = _Service(
                    key, argv, {}, log_path, proc=proc, started=procs.start_time(proc.pid)
                )
                self._record_state()
            try:
                rc = proc.wait(timeout=self.start_timeout)
            except subprocess.TimeoutExpired:
                procs.stop_group(proc.pid)
                raise LabError(
                    f"{name}: {argv[0]} did not finish in {self.start_timeout:.0f}s:\n"
                    + _tail(log_path, 40)
                ) from None
        if rc != 0:
            raise LabError(
                f"{name}: {' '.join(argv[:4])} failed (exit {rc}):\n{_tail(log_path, 40)}"
            )

    def _venv_env(self, name: str, home: Path | None = None) -> dict[str, str]:
        venv_bin = str(self.python.parent)
        env = {
            "PATH": f"{venv_bin}:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(home or self.dir / name.split("-")[0]),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "TMPDIR": str(self.dir),
        }
        return env

    def _gunicorn(self, name: str, port: int, config: Path) -> _Service:
        env = self._venv_env(name)
        env.update({"LAB_APP": name, "LAB_APP_CONFIG": str(config)})
        argv = [
            str(self.python.parent / "gunicorn"),
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
        return _Service(name, argv, env, self.dir / "logs" / f"{name}.log", port=port)

    # ----------------------------------------------------------------- MariaDB / RabbitMQ
    def _db_url(self, db: str) -> str:
        return (
            f"mysql+pymysql://lab:{self.passwords['db']}@127.0.0.1:{self.ports['mysql']}/{db}"
            "?charset=utf8"
        )

    def _start_mariadb(self) -> None:
        d = self.dir / "mysql"
        mariadbd = next(p for p in MARIADBD if Path(p).exists())
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(d), "LANG": "C.UTF-8"}
        self._run(
            "mariadb",
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={d / 'data'}",
                "--user=root",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            env=env,
        )
        (d / "tmp").mkdir()
        sock = d / "mysqld.sock"
        argv = [
            mariadbd,
            "--no-defaults",
            f"--datadir={d / 'data'}",
            "--user=root",
            "--bind-address=127.0.0.1",
            f"--port={self.ports['mysql']}",
            f"--socket={sock}",
            f"--pid-file={d / 'mysqld.pid'}",
            f"--tmpdir={d / 'tmp'}",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--performance-schema=OFF",
            "--max-connections=400",
            "--open-files-limit=4096",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=32M",
            # Lab data is disposable: trade durability for migration speed.
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-doublewrite=0",
            "--innodb-flush-method=O_DIRECT_NO_FSYNC",
            "--character-set-server=utf8mb4",
        ]
        self._spawn(
            _Service("mariadb", argv, env, self.dir / "logs" / "mariadb.log", self.ports["mysql"])
        )
        self._wait_ready(["mariadb"])
        sql = "".join(
            f"CREATE DATABASE {db} CHARACTER SET utf8;"
            for db in ("keystone", "barbican", "nova_api", "nova", "octavia")
        )
        sql += (
            f"CREATE USER 'lab'@'127.0.0.1' IDENTIFIED BY '{self.passwords['db']}';"
            "GRANT ALL PRIVILEGES ON *.* TO 'lab'@'127.0.0.1';"
        )
        self._run("mariadb", ["mariadb", f"--socket={sock}", "-uroot", "-e", sql], env=env)

    def _start_rabbitmq(self) -> None:
        d = self.dir / "rabbitmq"
        for sub in ("mnesia", "log"):
            (d / sub).mkdir()
        (d / "enabled_plugins").write_text("[].\n")
        (d / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.ports['rabbitmq']}\n"
            "disk_free_limit.absolute = 1MB\n"
            "log.console = true\nlog.file = false\n"
        )
        cookie = d / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16))
        cookie.chmod(0o400)
        env = {
            "PATH": "/usr/lib/rabbitmq/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(d),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "ERL_EPMD_PORT": str(self.ports["epmd"]),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        # Our own epmd, on our port and loopback only, so the lab never shares (or leaves) one.
        self._spawn(
            _Service(
                "epmd",
                ["epmd", "-port", str(self.ports["epmd"]), "-address", "127.0.0.1"],
                dict(env),
                self.dir / "logs" / "epmd.log",
                port=self.ports["epmd"],
            )
        )
        env.update(
            {
                "RABBITMQ_NODENAME": f"lab{self.ports['rabbitmq']}@localhost",
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.ports["rabbitmq"]),
                "RABBITMQ_DIST_PORT": str(self.ports["rabbit_dist"]),
                "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
                "RABBITMQ_LOG_BASE": str(d / "log"),
                "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
                "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
                "RABBITMQ_PID_FILE": str(d / "rabbitmq.pid"),
                "RABBITMQ_LOGS": "-",
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": (
                    "-kernel inet_dist_use_interface {127,0,0,1}"
                ),
            }
        )
        self._wait_ready(["epmd"])
        self._spawn(
            _Service(
                "rabbitmq",
                [RABBIT_SERVER],
                env,
                self.dir / "logs" / "rabbitmq.log",
                port=self.ports["rabbitmq"],
                cwd=d,
            )
        )
        self._wait_ready(["rabbitmq"])

    # ----------------------------------------------------------------- configuration
    def _transport_url(self) -> str:
        return f"rabbit://guest:guest@127.0.0.1:{self.ports['rabbitmq']}/"

    def _authtoken(self, user: str) -> dict[str, str]:
        return {
            "www_authenticate_uri": self.identity_url,
            "auth_url": self.identity_url,
            "auth_type": "password",
            "username": user,
            "password": self.passwords[user],
            "project_name": "service",
            "user_domain_name": "Default",
            "project_domain_name": "Default",
            "region_name": REGION,
            "service_token_roles_required": "true",
        }

    def _write_configs(self, ca: tuple[Path, Path]) -> None:
        d = self.dir
        for script in ("wsgi_apps.py", "keystone_setup.py"):
            shutil.copy(HERE / script, d / "bin" / script)
        venv_root = self.python.parent.parent
        policy = {"enforce_scope": "false", "enforce_new_defaults": "false"}

        # Keystone
        ks = d / "keystone"
        for repo in ("fernet-keys", "credential-keys"):
            (ks / repo).mkdir(mode=0o700)
            for index in ("0", "1"):
                fd = os.open(ks / repo / index, os.O_WRONLY | os.O_CREAT, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(base64.urlsafe_b64encode(os.urandom(32)).decode())
        _write_ini(
            ks / "keystone.conf",
            {
                "DEFAULT": {"debug": "false"},
                "database": {"connection": self._db_url("keystone")},
                "token": {"provider": "fernet"},
                "fernet_tokens": {"key_repository": str(ks / "fernet-keys")},
                "fernet_receipts": {"key_repository": str(ks / "fernet-keys")},
                "credential": {"key_repository": str(ks / "credential-keys")},
                "cache": {"enabled": "false"},
                "oslo_policy": policy,
            },
        )
        ports = self.ports
        spec = {
            "config": str(ks / "keystone.conf"),
            "region": REGION,
            "identity_url": self.identity_url,
            "admin": {
                "username": "admin",
                "password": self.passwords["admin"],
                "project": "admin",
            },
            "projects": ["service", "lab"],
            "extra_roles": [
                "load-balancer_observer",
                "load-balancer_global_observer",
                "load-balancer_member",
                "load-balancer_admin",
                "load-balancer_quota_admin",
                "creator",
            ],
            "users": [
                {
                    "username": svc,
                    "password": self.passwords[svc],
                    "project": "service",
                    "roles": ["admin", "service"],
                }
                for svc in ("barbican", "nova", "octavia")
            ]
            + [
                {
                    "username": "member",
                    "password": self.passwords["member"],
                    "project": "lab",
                    "roles": ["member", "load-balancer_member", "creator"],
                }
            ],
            "services": [
                {
                    "name": "nova",
                    "type": "compute",
                    "url": f"http://127.0.0.1:{ports['nova']}/v2.1",
                },
                {
                    "name": "octavia",
                    "type": "load-balancer",
                    "url": f"http://127.0.0.1:{ports['octavia']}",
                },
                {
                    "name": "barbican",
                    "type": "key-manager",
                    "url": f"http://127.0.0.1:{ports['barbican']}",
                },
            ],
        }
        fd = os.open(ks / "setup.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(spec, f)

        # Barbican: its plugins read only the default locations, i.e. HOME/.barbican/.
        bh = d / "barbican" / "home" / ".barbican"
        bh.mkdir(parents=True, mode=0o700)
        paste = d / "barbican" / "barbican-api-paste.ini"
        shutil.copy(venv_root / "etc" / "barbican" / "barbican-api-paste.ini", paste)
        _write_ini(
            bh / "barbican.conf",
            {
                "DEFAULT": {
                    "debug": "false",
                    "host_href": f"http://127.0.0.1:{ports['barbican']}",
                    "transport_url": self._transport_url(),
                },
                "database": {"connection": self._db_url("barbican")},
                "secretstore": {
                    "namespace": "barbican.secretstore.plugin",
                    "enabled_secretstore_plugins": "store_crypto",
                },
                "crypto": {
                    "namespace": "barbican.crypto.plugin",
                    "enabled_crypto_plugins": "simple_crypto",
                },
                "simple_crypto_plugin": {
                    "kek": base64.b64encode(os.urandom(32)).decode(),
                },
                "keystone_authtoken": self._authtoken("barbican"),
                "queue": {"enable": "false"},
                "keystone_notifications": {"enable": "false"},
                "oslo_policy": policy,
            },
        )

        # Nova API: flavors and keypairs only (no compute, scheduler or placement).
        nv = d / "nova"
        shutil.copy(venv_root / "etc" / "nova" / "api-paste.ini", nv / "api-paste.ini")
        (nv / "lock").mkdir()
        _write_ini(
            nv / "nova.conf",
            {
                "DEFAULT": {
                    "debug": "false",
                    "transport_url": self._transport_url(),
                    "state_path": str(nv),
                    "host": f"lab-{ports['nova']}",
                    "my_ip": "127.0.0.1",
                },
                "api": {"auth_strategy": "keystone"},
                "api_database": {"connection": self._db_url("nova_api")},
                "database": {"connection": self._db_url("nova")},
                "keystone_authtoken": self._authtoken("nova"),
                "oslo_concurrency": {"lock_path": str(nv / "lock")},
                "wsgi": {"api_paste_config": str(nv / "api-paste.ini")},
                "oslo_policy": policy,
            },
        )

        # Octavia: one octavia.conf for API and worker; the API adds the Nova compute driver.
        oc = d / "octavia"
        (oc / "lock").mkdir()
        endpoint = {"region_name": REGION, "endpoint_type": "internal"}
        base: dict[str, dict[str, str]] = {
            "DEFAULT": {"debug": "false", "transport_url": self._transport_url()},
            "api_settings": {
                "bind_host": "127.0.0.1",
                "bind_port": str(ports["octavia"]),
                "auth_strategy": "keystone",
                "api_base_uri": f"http://127.0.0.1:{ports['octavia']}",
            },
            "database": {"connection": self._db_url("octavia")},
            "keystone_authtoken": self._authtoken("octavia"),
            "service_auth": {
                k: v
                for k, v in self._authtoken("octavia").items()
                if k not in ("www_authenticate_uri", "service_token_roles_required")
            },
            "certificates": {
                "cert_manager": "barbican_cert_manager",
                "barbican_auth": "barbican_acl_auth",
                "ca_certificate": str(ca[0]),
                "ca_private_key": str(ca[1]),
                "ca_private_key_passphrase": self.passwords["ca"],
                "server_certs_key_passphrase": secrets.token_hex(16),
                **endpoint,
            },
            "controller_worker": {
                "amphora_driver": "amphora_noop_driver",
                "compute_driver": "compute_noop_driver",
                "network_driver": "network_noop_driver",
                "image_driver": "image_noop_driver",
                "volume_driver": "volume_noop_driver",
                "amp_ssh_key_name": "amphora-backdoor",
                "amp_image_tag": "amphora",
                "amp_flavor_id": "amphora",
                "amp_boot_network_list": "00000000-0000-4000-8000-000000000001",
                "amp_secgroup_list": "00000000-0000-4000-8000-000000000002",
                "loadbalancer_topology": "SINGLE",
                "client_ca": str(ca[0]),
                "workers": "1",
            },
            "haproxy_amphora": {"server_ca": str(ca[0])},
            "health_manager": {
                "heartbeat_key": secrets.token_hex(16),
                "controller_ip_port_list": "127.0.0.1:5555",
            },
            "task_flow": {"jobboard_enabled": "false"},
            "nova": dict(endpoint),
            "neutron": {"region_name": REGION, "valid_interfaces": "internal"},
            "glance": {"region_name": REGION, "valid_interfaces": "internal"},
            "cinder": {"region_name": REGION, "valid_interfaces": "internal"},
            "oslo_concurrency": {"lock_path": str(oc / "lock")},
            "oslo_policy": policy,
        }
        _write_ini(self.octavia_conf, _merge(base, self.octavia_overrides))
        _write_ini(
            oc / "octavia-api.conf",
            {"controller_worker": {"compute_driver": "compute_nova_driver"}},
        )

        # clouds.yaml for the admin and the member user (JSON is valid YAML).
        clouds = {
            "clouds": {
                name: {
                    "auth": {
                        "auth_url": self.identity_url,
                        "username": user,
                        "password": self.passwords[user],
                        "project_name": project,
                        "user_domain_name": "Default",
                        "project_domain_name": "Default",
                    },
                    "region_name": REGION,
                    "interface": "public",
                    "identity_api_version": 3,
                }
                for name, user, project in (
                    (self.admin_cloud, "admin", "admin"),
                    (self.member_cloud, "member", "lab"),
                )
            }
        }
        fd = os.open(self.clouds_yaml, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(clouds, f, indent=2)

    # ----------------------------------------------------------------- OpenStack services
    def _setup_keystone(self) -> None:
        ks = self.dir / "keystone"
        self._run(
            "keystone",
            [
                str(self.python),
                str(self.dir / "bin" / "keystone_setup.py"),
                str(ks / "setup.json"),
            ],
        )
        self._spawn(self._gunicorn("keystone", self.ports["keystone"], ks / "keystone.conf"))

    def _setup_barbican(self) -> None:
        home = self.dir / "barbican" / "home"
        env = self._venv_env("barbican", home=home)
        self._run(
            "barbican",
            [
                str(self.python.parent / "barbican-manage"),
                "db",
                "upgrade",
                "--db-url",
                self._db_url("barbican"),
            ],
            env=env,
        )
        svc = self._gunicorn(
            "barbican", self.ports["barbican"], home / ".barbican" / "barbican.conf"
        )
        svc.env["HOME"] = str(home)
        svc.env["LAB_APP_PASTE"] = str(self.dir / "barbican" / "barbican-api-paste.ini")
        self._spawn(svc)

    def _setup_nova(self) -> None:
        conf = self.dir / "nova" / "nova.conf"
        manage = str(self.python.parent / "nova-manage")
        self._run("nova-api", [manage, "--config-file", str(conf), "api_db", "sync"])
        # db sync reads the API database's cell mappings: it must come second.
        self._run("nova-api", [manage, "--config-file", str(conf), "db", "sync"])
        svc = self._gunicorn("nova-api", self.ports["nova"], conf)
        # The API runs under gunicorn's threads, not eventlet.
        svc.env["OS_NOVA_DISABLE_EVENTLET_PATCHING"] = "1"
        self._spawn(svc)

    def _setup_octavia(self, rabbit: Future) -> None:
        conf = str(self.octavia_conf)
        self._run(
            "octavia-api",
            [
                str(self.python.parent / "octavia-db-manage"),
                "--config-file",
                conf,
                "upgrade",
                "head",
            ],
        )
        svc = self._gunicorn("octavia-api", self.ports["octavia"], self.octavia_conf)
        svc.env["LAB_APP_EXTRA_CONFIG"] = str(self.dir / "octavia" / "octavia-api.conf")
        self._spawn(svc)
        rabbit.result()
        env = self._venv_env("octavia-worker")
        if self.worker_pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(str(p) for p in self.worker_pythonpath)
        self._spawn(
            _Service(
                "octavia-worker",
                [str(self.python.parent / "octavia-worker"), "--config-file", conf],
                env,
                self.dir / "logs" / "octavia-worker.log",
            )
        )

    # ----------------------------------------------------------------- readiness
    def _token(self) -> str:
        body = json.dumps(
            {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {
                                "name": "admin",
                                "domain": {"id": "default"},
                                "password": self.passwords["admin"],
                            }
                        },
                    },
                    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
                }
            }
        ).encode()
        req = urllib.request.Request(  # noqa: S310 (loopback http URL built here)
            self.identity_url + "/auth/tokens",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (loopback URL)
            return resp.headers["X-Subject-Token"]

    def _probe(self, name: str, token: str | None) -> bool:
        svc = self._services[name]
        if name == "octavia-worker":
            return WORKER_READY_MARK in _tail(svc.log, 400)
        if svc.port is None or not procs.port_open(svc.port):
            return False
        paths = {
            "keystone": "/v3",
            "barbican": "/v1/secrets?limit=1",
            "nova-api": "/v2.1/flavors",
            "octavia-api": "/v2/lbaas/loadbalancers",
        }
        if name not in paths:
            return True
        req = urllib.request.Request(f"http://127.0.0.1:{svc.port}{paths[name]}")
        if token:
            req.add_header("X-Auth-Token", token)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (loopback URL)
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

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
                        f"log tail:\n{_tail(svc.log, 40)}"
                    )
                if self._probe(name, token):
                    pending.remove(name)
            if not pending:
                return
            if time.monotonic() > deadline:
                tails = "\n".join(
                    f"--- {n} ---\n{_tail(self._services[n].log, 40)}" for n in pending
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
