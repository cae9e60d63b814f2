"""The lab amphora: real haproxy and sshd in a memory cgroup sized as a scaled amphora.

A ``LabAmphora`` is a directory tree (its ``/var/lib/octavia``, ``/etc/systemd``) and a child
memory cgroup of this process's own memory cgroup (v1 or v2) holding:

- a real sshd on 127.0.0.1 (free port, own host key, own config) as the amphora's SSH
  endpoint, in a private mount namespace where ``/etc/systemd`` is the amphora's own copy
  (bind mount); its ``ForceCommand`` puts the fakes first on every session's PATH:
  ``systemctl`` is FakeSystemctl (this host has no systemd as PID 1; the fake records
  daemon-reload), ``dmesg``/``journalctl`` are FakeKernelLog and ``pidof`` is FakePidof
  (``sshd.py``, ``scripts/``);
- a real haproxy (Debian package) in master-worker mode, started and reloaded as the
  amphora's systemd unit does (``haproxy -c`` check, then ``-W`` start / ``SIGUSR2`` reload),
  with ``haproxy.cfg`` rendered by Octavia's own templater (``releases.py``):
  ``templater="vulnerable"`` uses the lab venv's octavia 14.0.2 as released, ``"fixed"`` puts
  a copy of it with the upstream change for LP #2119987 applied (``patches/``) first on
  sys.path, ``"upstream"`` octavia 17.0.1's package;
- through Octavia (``heartbeats=True``), one heartbeat sender per amphora the worker boots on
  it: the amphora agent's own ``run_sender`` with the agent configuration the worker rendered,
  reporting the lab amphora's real haproxy (``heartbeat.py``), outside the memory cgroup.

A test may give it a place on lb-mgmt-net (``attach_management``: a network namespace holding
an amphora's Neutron port, plugged on the lab's chassis): then the amphorae it stands for
report that port's address as their ``lb_network_ip``, their heartbeats leave from there, and
a second sshd listens there on port 22, so that a client on lb-mgmt-net reaches it as a
verifier on a unit reaches an amphora, with no address map. Without one (the SRU plan's lab),
the address is the noop driver's ``192.0.2.1`` and ``ssh_settings`` maps it to 127.0.0.1 (a
named fake).

The amphora's memory report given to the templater is computed as the amphora agent would
read /proc/meminfo inside a VM of that size: free = limit - usage, cached = the cgroup's page
cache and shmem. The connection limit is scaled with the memory (50000 for 32 GiB).

Why the simulation is faithful where the verdict depends on it:

- Memory. Everything a real amphora charges to its RAM while haproxy reloads is charged to the
  cgroup: the old generation (master, worker, TLS cache), the agent's ``haproxy -c`` of the new
  file (haproxy allocates and touches the whole cache in check mode too) and the new
  generation, plus sshd and the check's session (sh, awk, dmesg: about 2 MiB, as on a VM).
  Measured at 1 GiB with the fixed templater: one generation is its cache (248.0 bytes per
  entry, 386420 KiB of shmem for 1594584 entries) plus about 8 MiB (anon, kernel, page cache);
  the cgroup's peak (memory.max_usage_in_bytes) is 784324 KiB, two generations, 25% left.
  What the lab leaves out (a VM's kernel, systemd, the agent: a few hundred MiB of 32 GiB,
  about 1.5%) is below the scaled sshd's share. The connection term (32 KiB per connection,
  maxconn scaled with the memory) keeps the same share of memory as on the 32 GiB amphora.
- Kernel log. A real amphora is a VM: its ``dmesg`` and ``journalctl -k`` show its own kernel's
  OOM reports only. The lab amphora shares this host's kernel with every other memory cgroup
  (other lab amphorae may run beside it and be OOM-killed), so its sessions see the kernel log
  through FakeKernelLog, which keeps the OOM reports of this amphora's cgroup only.

The package by part: ``cgroup`` (the memory cgroup), ``sshd`` (sshd and its sessions' fakes),
``haproxy`` (rendering, check, start, reload and their waits), ``scripts/`` (the shell
programs installed into the amphora), ``driver`` (the octavia-worker's amphora driver, with
``driver_render.py``), ``compute`` (its compute driver, which boots each Octavia amphora's
heartbeats), ``management`` (its place on lb-mgmt-net, when a test gives it one),
``heartbeat`` (the amphora agent's health sender, one per Octavia amphora), ``options``
(their ``[lab_amphora]`` options) and ``templater.py`` (the render for ``LabAmphora`` itself).
The drivers run in Octavia's services, in the lab venv: what they import of ``tests.lab``
(this package included) is standard library only at module level; ``charmed_octavia`` and
``tests.certificates`` are imported inside the methods that use them.

Usage::

    with LabAmphora(memory_bytes=1 << 30, templater="vulnerable") as amp:
        amp.authorize(public_key_line)
        amp.create_listener()        # render + start haproxy (listener create)
        amp.create_pool()            # render + reload (pool create): OOM with "vulnerable"
        settings = amp.ssh_settings(private_key_path, known_hosts_path)
        report = amphora.check_amphorae([amp.amphora()], ssh=settings,
                                        since=amp.since, haproxy_dir=amp.octavia_dir)

``unavailable_reason()`` says why a lab amphora cannot run here (for ``pytest.skip``).
"""

from __future__ import annotations

import datetime
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.lab.amphora import heartbeat, management, releases
from tests.lab.amphora.cgroup import (
    MemoryCgroup,
    cgroup_meminfo_kb,
    cgroup_oom_kills,
    memory_cgroup_problem,
)
from tests.lab.amphora.haproxy import (
    HAPROXY,
    check_config,
    child_pids,
    install_wrapper,
    run_templater,
    start_master,
    wait_for_reload,
    wait_workers,
)
from tests.lab.amphora.sshd import (
    SSHD,
    install_cgroup_fakes,
    install_systemctl,
    spawn_sshd,
    wait_listening,
    wait_listening_in,
)
from tests.lab.files import write_private
from tests.lab.procs import free_port

if TYPE_CHECKING:
    # Only for types: the lab venv's worker imports this package without the library.
    from charmed_octavia.amphora.discovery import Amphora
    from charmed_octavia.amphora.ssh import SSHSettings

__all__ = [
    "COMPUTE_DRIVER_NAME",
    "DRIVER_NAME",
    "HAPROXY",
    "LAB_NETWORK_IP",
    "PLUGIN_DIR",
    "SSHD",
    "TEMPLATER_REPORT_KEY",
    "LabAmphora",
    "MemoryCgroup",
    "cgroup_meminfo_kb",
    "cgroup_oom_kills",
    "child_pids",
    "free_port",
    "unavailable_reason",
    "wait_for_reload",
]

LAB_NETWORK_IP = "192.0.2.1"  # what Octavia's noop amphora driver reports
DRIVER_NAME = "lab_amphora_driver"  # entry points in tests/lab/amphora_plugin
COMPUTE_DRIVER_NAME = "lab_amphora_compute"
LAB_DIR = Path(__file__).resolve().parent.parent
PLUGIN_DIR = LAB_DIR / "amphora_plugin"
REPO_ROOT = LAB_DIR.parent.parent
FULL_MEMORY_KB = 32 * 1024 * 1024  # the amphora the lab stands for: 32 GiB
FULL_CONNECTION_LIMIT = 50000  # Octavia's default_connection_limit
# The package-version entry naming the templater (and patch) in a plan run on a lab amphora.
TEMPLATER_REPORT_KEY = "octavia haproxy.cfg templater (lab amphora)"


def unavailable_reason() -> str | None:
    """Why no lab amphora can run here, or ``None``."""
    for tool in (HAPROXY, SSHD, "/usr/bin/unshare", "/usr/bin/ssh-keygen", releases.PATCH_TOOL):
        if not Path(tool).exists():
            return f"{tool} is missing (tests/setup-host.sh installs it)"
    if os.geteuid() != 0:
        return "the lab amphora needs root (memory cgroup, mount namespace, sshd)"
    return memory_cgroup_problem()


class LabAmphora:
    """See the module docstring."""

    def __init__(
        self,
        memory_bytes: int = 1 << 30,
        templater: str = "vulnerable",
        base_dir: Path | None = None,
        name: str | None = None,
        *,
        heartbeats: bool = True,
    ) -> None:
        releases.check_templater(templater)
        self.memory_bytes = memory_bytes
        self.templater = templater
        # Through Octavia, each amphora the worker boots on it sends heartbeats (compute.py).
        self.heartbeats = heartbeats
        self.amphora_id = str(uuid.uuid4())
        self.lb_id = str(uuid.uuid4())
        self.listener_id = str(uuid.uuid4())
        self.pool_id = str(uuid.uuid4())
        self.cert_id = str(uuid.uuid4())
        self.name = name or f"lab-amphora-{self.amphora_id[:8]}"
        self._own_dir = base_dir is None
        self.root = Path(base_dir or tempfile.mkdtemp(prefix="lab-amphora-"))
        self.octavia_dir = str(self.root / "var/lib/octavia")
        self.scale = FULL_MEMORY_KB / (memory_bytes // 1024)
        self.connection_limit = max(1, round(FULL_CONNECTION_LIMIT / self.scale))
        self.cgroup: MemoryCgroup | None = None
        self.sshd: subprocess.Popen[bytes] | None = None
        self.mgmt_sshd: subprocess.Popen[bytes] | None = None
        self.management: management.Management | None = None
        self.haproxy: subprocess.Popen[bytes] | None = None
        self.ssh_port = 0
        self.vip_port = free_port()
        # When the amphora started (aware, UTC): its checks read the kernel log from here.
        self.since: datetime.datetime | None = None
        self.renders: list[dict[str, Any]] = []
        self._started: list[int] = []

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> LabAmphora:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        # dmesg/journalctl --since have second resolution and local time.
        # A second back: the readers compare to the second.
        self.since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
        for sub in ("var/lib/octavia/certs", "etc/systemd", "fakebin", "ssh", "run", "bin"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # sshd's sessions and haproxy's worker (user nobody) traverse the tree.
        os.chmod(self.root, 0o755)  # noqa: S103
        shutil.copy("/etc/systemd/system.conf", self.root / "etc/systemd/system.conf")
        install_systemctl(self.root)
        (self.root / "var/lib/octavia/haproxy-default-user-group.conf").write_text(
            "global\n    group nogroup\n"
        )
        self._write_cert()
        self.cgroup = MemoryCgroup(self.name, self.memory_bytes)
        # The check's view of haproxy processes and of the kernel log is the amphora's own.
        install_cgroup_fakes(self.root, self.cgroup.kernel_path)
        install_wrapper(self.root, self.cgroup.dir)
        try:
            self._start_sshd()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        heartbeat.stop_all(self.root)
        for proc in (self.haproxy, self.sshd, self.mgmt_sshd):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self.cgroup is not None:
            self.cgroup.remove(self._started)
            self.cgroup = None
        if self._own_dir:
            shutil.rmtree(self.root, ignore_errors=True)

    def _in_cgroup(self) -> None:
        # Runs in the child before exec: join the amphora's cgroup and lift the soft
        # open-files limit to the hard one, as the amphora unit's LimitNOFILE does.
        assert self.cgroup is not None
        self.cgroup.procs_file.write_text(str(os.getpid()))
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def _write_cert(self) -> None:
        # The test process's builder; never imported where the driver runs (the lab venv).
        from tests.certificates import self_signed

        certs = self.root / "var/lib/octavia/certs" / self.lb_id
        certs.mkdir(parents=True, exist_ok=True)
        made = self_signed("xxlarge.devstack", key_type="rsa", days=2)
        pem = certs / f"{self.cert_id}.pem"
        write_private(pem, made.cert_pem + made.key_pem())
        # Octavia uploads a crt-list named after the listener that lists the certificates.
        (certs / f"{self.listener_id}.pem").write_text(f"{pem}\n")

    # -- sshd ------------------------------------------------------------------------------
    def _start_sshd(self) -> None:
        self.sshd, self.ssh_port = spawn_sshd(self.root, self._in_cgroup)
        self._started.append(self.sshd.pid)
        wait_listening(self.sshd, self.ssh_port, self.root / "run/sshd.log")

    def authorize(self, public_key_line: str) -> None:
        with open(self.root / "ssh/authorized_keys", "a") as handle:
            handle.write(public_key_line.strip() + "\n")

    def host_public_key(self) -> str:
        return (self.root / "ssh/host_ed25519.pub").read_text().strip()

    def ssh_settings(self, private_key_path: Path, known_hosts_path: Path) -> SSHSettings:
        from charmed_octavia.amphora.ssh import SSHSettings

        # The lab's address map (a named fake): Octavia's noop driver reports 192.0.2.1.
        return SSHSettings(
            private_key_path=Path(private_key_path),
            known_hosts_path=Path(known_hosts_path),
            username="root",
            address_map={LAB_NETWORK_IP: ("127.0.0.1", self.ssh_port)},
        )

    def management_ssh_settings(
        self, private_key_path: Path, known_hosts_path: Path
    ) -> SSHSettings:
        """SSH to the amphorae at their ``lb_network_ip`` on lb-mgmt-net, port 22, with no
        address map: for a client on lb-mgmt-net (the chassis' namespace, as a unit's o-hm0)."""
        from charmed_octavia.amphora.ssh import SSHSettings

        return SSHSettings(
            private_key_path=Path(private_key_path),
            known_hosts_path=Path(known_hosts_path),
            username="root",
        )

    def amphora(self) -> Amphora:
        from charmed_octavia.amphora.discovery import Amphora

        return Amphora(
            id=self.amphora_id,
            loadbalancer_id=self.lb_id,
            lb_network_ip=self.management.address if self.management else LAB_NETWORK_IP,
            role="STANDALONE",
            status="ALLOCATED",
        )

    # -- the lab control plane's amphora driver ---------------------------------------------
    def octavia_overrides(self, settle_timeout: float = 60.0) -> dict[str, dict[str, str]]:
        """octavia.conf sections that make the lab's octavia-worker drive this amphora.

        The worker loads ``lab_amphora_driver`` (tests/lab/amphora/driver.py), which renders
        haproxy.cfg with this amphora's templater ("vulnerable": the worker's own octavia,
        "fixed": a copy of it with the LP #2119987 patch, "upstream": 17.0.1's), writes it
        under ``octavia_dir`` and starts or reloads haproxy in this amphora's memory cgroup.
        The connection limit is scaled with the memory. With
        ``heartbeats``, its compute driver is ``lab_amphora_compute`` (compute.py): each
        amphora it boots sends heartbeats from here to the lab's health manager. Pass with
        ``worker_pythonpath()`` to ``tests.lab.control.Lab``.
        """
        if self.cgroup is None:
            raise RuntimeError("start the lab amphora first")
        lab = {
            "root": str(self.root),
            "cgroup_dir": str(self.cgroup.dir),
            "memory_bytes": str(self.memory_bytes),
            "templater": self.templater,
            "haproxy": HAPROXY,
            "settle_timeout": str(settle_timeout),
        }
        path = releases.octavia_path(self.templater)
        if path is not None:
            lab["octavia_path"] = str(path)
        drivers = {"amphora_driver": DRIVER_NAME}
        if self.heartbeats:
            drivers["compute_driver"] = COMPUTE_DRIVER_NAME
            lab["heartbeat_ttl"] = os.environ.get("LAB_TTL", "7200")
        return {
            "controller_worker": drivers,
            "haproxy_amphora": {
                "base_path": self.octavia_dir,
                "base_cert_dir": f"{self.octavia_dir}/certs",
                "default_connection_limit": str(self.connection_limit),
            },
            "lab_amphora": lab,
        }

    def attach_management(self, netns: str, address: str) -> management.Management:
        """Give the lab amphora its port on lb-mgmt-net: the Octavia amphorae booted on it from
        now on send their heartbeats from network namespace ``netns`` (which holds the port,
        plugged on the lab's chassis) and report ``address`` as their ``lb_network_ip``
        (``management.py``); a second sshd listens there on ``[address]:22``."""
        placed = management.attach(self.root, netns, address)
        self.mgmt_sshd, _ = spawn_sshd(
            self.root,
            self._in_cgroup,
            prefix=placed.command(),
            listen=(placed.address, 22),
            name="sshd-mgmt",
        )
        self._started.append(self.mgmt_sshd.pid)
        wait_listening_in(self.mgmt_sshd, 22, self.root / "run/sshd-mgmt.log")
        self.management = placed
        return placed

    def heartbeat_agent(self, amphora_id: str) -> Path:
        """The agent directory of Octavia amphora ``amphora_id`` on this lab amphora: its
        ``amphora-agent.conf`` (private), ``heartbeat.log`` and ``view/`` (heartbeat.py)."""
        return heartbeat.agent_dir(self.root, amphora_id)

    def set_heartbeat_key(self, amphora_id: str, key: str) -> None:
        """Sign the amphora's heartbeats with ``key`` from now on: its agent configuration
        rewritten and reloaded (SIGHUP), as after an agent configuration update."""
        directory = self.heartbeat_agent(amphora_id)
        pid = heartbeat.sender_pid(directory)
        if pid is None:
            raise RuntimeError(f"no heartbeat sender runs for amphora {amphora_id}")
        path = heartbeat.agent_conf(directory)
        write_private(path, heartbeat.replace_heartbeat_key(path.read_text(), key))
        os.kill(pid, signal.SIGHUP)

    def templater_description(self) -> str:
        """What this amphora's haproxy.cfg is rendered with: the templater, the Octavia
        release and, for ``fixed``, the patch file and its upstream commit."""
        return releases.describe(self.templater)

    def octavia_path(self) -> Path | None:
        """The Octavia package the templater puts first on sys.path (None: the lab venv's)."""
        return releases.octavia_path(self.templater)

    @staticmethod
    def worker_pythonpath() -> list[Path]:
        """The octavia-worker's PYTHONPATH: the driver's entry point and its module."""
        return [PLUGIN_DIR, REPO_ROOT]

    def driver_events(self) -> list[dict[str, Any]]:
        """What the driver did, one record per render (see driver.py)."""
        path = self.root / "run/driver-events.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def systemctl_log(self) -> str:
        path = self.root / "systemctl.log"
        return path.read_text() if path.exists() else ""

    def system_conf(self) -> str:
        return (self.root / "etc/systemd/system.conf").read_text()

    # -- haproxy ---------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return Path(self.octavia_dir) / self.lb_id / "haproxy.cfg"

    def render(self, with_pool: bool) -> str:
        """haproxy.cfg from Octavia's templater for the listener (and pool) and memory now."""
        assert self.cgroup is not None
        spec = {
            "base_dir": self.octavia_dir,
            "lb_id": self.lb_id,
            "project_id": "lab-project",
            "vip": "127.0.0.1",
            "amphora_id": self.amphora_id,
            "default_connection_limit": self.connection_limit,
            "memory": self.cgroup.meminfo_kb(),
            "listeners": [
                {
                    "id": self.listener_id,
                    "protocol": "TERMINATED_HTTPS",
                    "port": self.vip_port,
                    "connection_limit": -1,
                    "cert_id": self.cert_id,
                    "pool_id": self.pool_id if with_pool else None,
                }
            ],
        }
        rendered = run_templater(spec, self.templater)
        self.renders.append({"memory": spec["memory"], **rendered})
        return rendered["config"]

    def _haproxy_args(self) -> list[str]:
        return [
            "-f",
            str(self.config_path),
            "-f",
            str(Path(self.octavia_dir) / "haproxy-default-user-group.conf"),
        ]

    def _write_config(self, text: str) -> subprocess.CompletedProcess[str]:
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(text)
        self.config_path.chmod(0o600)
        return check_config(self._haproxy_args(), self._in_cgroup)

    def create_listener(self) -> None:
        """Listener create: render, check, start haproxy (master-worker) in the cgroup."""
        check = self._write_config(self.render(with_pool=False))
        if check.returncode:
            raise RuntimeError(
                f"haproxy -c exited {check.returncode}: {check.stdout}{check.stderr}"
            )
        self.haproxy = start_master(self.root / "run", self._haproxy_args(), self._in_cgroup)
        self._started.append(self.haproxy.pid)
        wait_workers(self.haproxy, self.root / "run/haproxy.log", 1, timeout=60)

    def create_pool(self, settle: float = 60.0) -> dict[str, Any]:
        """Pool create: render, check, reload (SIGUSR2); wait for a new worker or a kill."""
        assert self.haproxy is not None and self.cgroup is not None
        kills_before = self.cgroup.oom_kills()
        old = set(self.workers())
        # As the amphora's ExecReload: "haproxy -c" first, SIGUSR2 only if the check passed.
        check = self._write_config(self.render(with_pool=True))
        outcome: dict[str, Any] = {"new_workers": []}
        if check.returncode == 0:
            self.haproxy.send_signal(signal.SIGUSR2)
            outcome = wait_for_reload(self.cgroup.dir, self.haproxy.pid, old, kills_before, settle)
        else:
            time.sleep(1)  # let the kernel finish printing its report
        return {
            "check_returncode": check.returncode,
            "oom_kills": self.cgroup.oom_kills() - kills_before,
            "master_alive": self.haproxy.poll() is None,
            "new_workers": outcome["new_workers"],
        }

    def workers(self) -> list[int]:
        return child_pids(self.haproxy.pid) if self.haproxy is not None else []
