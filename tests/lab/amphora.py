"""The lab amphora: real haproxy and sshd in a memory cgroup sized as a scaled amphora.

A ``LabAmphora`` is a directory tree (its ``/var/lib/octavia``, ``/etc/systemd``) and a child
memory cgroup of this process's own memory cgroup (v1 or v2) holding:

- a real sshd on 127.0.0.1 (free port, own host key, own config) as the amphora's SSH
  endpoint, in a private mount namespace where ``/etc/systemd`` is the amphora's own copy
  (bind mount); its ``ForceCommand`` puts the fakes first on every session's PATH:
  ``systemctl`` is ``FakeSystemctl`` (this host has no systemd as PID 1; the fake records
  daemon-reload), ``dmesg``/``journalctl`` are ``FakeKernelLog`` and ``pidof`` is ``FakePidof``
  (below);
- a real haproxy (Debian package) in master-worker mode, started and reloaded as the
  amphora's systemd unit does (``haproxy -c`` check, then ``-W`` start / ``SIGUSR2`` reload),
  with ``haproxy.cfg`` rendered by Octavia's own templater: ``templater="vulnerable"`` uses the
  lab venv's octavia 14.0.x, ``"fixed"`` puts octavia 17.0.1's package first on sys.path.

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
  through ``FakeKernelLog``, which keeps the OOM reports of this amphora's cgroup only.

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

import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from tests.lab import procs
from tests.lab import venv as lab_venv

LAB_NETWORK_IP = "192.0.2.1"  # what Octavia's noop amphora driver reports
DRIVER_NAME = "lab_amphora_driver"  # entry point in tests/lab/amphora_plugin
PLUGIN_DIR = Path(__file__).resolve().with_name("amphora_plugin")
REPO_ROOT = Path(__file__).resolve().parent.parent.parent
FIXED_RELEASE = "17.0.1"
FULL_MEMORY_KB = 32 * 1024 * 1024  # the amphora the lab stands for: 32 GiB
FULL_CONNECTION_LIMIT = 50000  # Octavia's default_connection_limit
HAPROXY = "/usr/sbin/haproxy"
SSHD = "/usr/sbin/sshd"


def _own_memory_cgroup() -> tuple[int, Path] | None:
    """(cgroup version, directory) of this process's memory cgroup."""
    lines = Path("/proc/self/cgroup").read_text().splitlines()
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return 1, Path("/sys/fs/cgroup/memory") / path.lstrip("/")
    for line in lines:
        if line.startswith("0::"):
            base = Path("/sys/fs/cgroup") / line[3:].lstrip("/")
            if "memory" in (Path("/sys/fs/cgroup") / "cgroup.controllers").read_text().split():
                return 2, base
    return None


def unavailable_reason() -> str | None:
    """Why no lab amphora can run here, or ``None``."""
    for tool in (HAPROXY, SSHD, "/usr/bin/unshare", "/usr/bin/ssh-keygen"):
        if not Path(tool).exists():
            return f"{tool} is missing (tests/setup-host.sh installs haproxy and openssh)"
    if os.geteuid() != 0:
        return "the lab amphora needs root (memory cgroup, mount namespace, sshd)"
    own = _own_memory_cgroup()
    if own is None:
        return "no memory cgroup controller in /proc/self/cgroup (cgroup v1 or v2 needed)"
    version, parent = own
    probe = parent / f"lab-amphora-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        return f"memory cgroup {parent} is not writable: {exc.strerror}"
    if version == 2 and "memory" not in (parent / "cgroup.subtree_control").read_text().split():
        try:
            (parent / "cgroup.subtree_control").write_text("+memory")
        except OSError as exc:
            return f"cannot enable the memory controller below {parent}: {exc.strerror}"
    return None


def cgroup_meminfo_kb(directory: Path, limit_bytes: int) -> dict[str, int]:
    """What the amphora agent would report from /proc/meminfo in a VM of the cgroup's size."""
    version = 1 if (directory / "memory.limit_in_bytes").exists() else 2
    stats: dict[str, int] = {}
    for line in (directory / "memory.stat").read_text().splitlines():
        key, value = line.split()
        stats[key] = int(value)
    cached = (
        stats.get("total_cache", stats.get("cache", 0)) if version == 1 else stats.get("file", 0)
    )
    usage_name = "memory.usage_in_bytes" if version == 1 else "memory.current"
    usage = int((directory / usage_name).read_text())
    return {
        "total": limit_bytes // 1024,
        "free": max(0, limit_bytes - usage) // 1024,
        "buffers": 0,
        "cached": cached // 1024,
    }


def cgroup_oom_kills(directory: Path) -> int:
    """How many processes the kernel OOM-killer has killed in the cgroup."""
    name = "memory.oom_control" if (directory / "memory.oom_control").exists() else "memory.events"
    for line in (directory / name).read_text().splitlines():
        key, value = line.split()
        if key == "oom_kill":
            return int(value)
    return 0


def child_pids(pid: int) -> list[int]:
    """The children of ``pid`` (haproxy's workers of a master), from /proc."""
    return sorted(p for p, fields in procs.live_processes() if int(fields[1]) == pid)


def _vsz_pages(pids: set[int]) -> list[int] | None:
    try:
        return [int(Path(f"/proc/{p}/statm").read_text().split()[0]) for p in sorted(pids)]
    except (FileNotFoundError, ProcessLookupError):
        return None


def wait_for_reload(
    cgroup_dir: Path, master_pid: int, old_workers: set[int], kills_before: int, settle: float
) -> dict[str, Any]:
    """After a start or reload: wait for a new ready worker or an OOM kill in the cgroup."""
    deadline = time.monotonic() + settle
    new: set[int] = set()
    while time.monotonic() < deadline:
        if cgroup_oom_kills(cgroup_dir) > kills_before:
            time.sleep(1)  # let the kernel finish printing its report
            break
        if not Path(f"/proc/{master_pid}").exists():
            break
        new = set(child_pids(master_pid)) - old_workers
        # A worker is ready once its cache is mapped: its VSZ no longer grows.
        if new:
            before = _vsz_pages(new)
            time.sleep(0.3)
            if before is not None and before == _vsz_pages(new):
                break
        time.sleep(0.2)
    return {
        "oom_kills": cgroup_oom_kills(cgroup_dir) - kills_before,
        "master_alive": Path(f"/proc/{master_pid}").exists(),
        "new_workers": sorted(new),
    }


class MemoryCgroup:
    """A child memory cgroup of this process's own, with a hard limit; removed by ``remove``."""

    def __init__(self, name: str, limit_bytes: int) -> None:
        own = _own_memory_cgroup()
        if own is None:
            raise RuntimeError("no memory cgroup")
        self.version, parent = own
        self.dir = parent / name
        self.dir.mkdir()
        if self.version == 1:
            (self.dir / "memory.limit_in_bytes").write_text(str(limit_bytes))
        else:
            (self.dir / "memory.max").write_text(str(limit_bytes))
            (self.dir / "memory.swap.max").write_text("0")
        self.limit_bytes = limit_bytes
        root = Path("/sys/fs/cgroup/memory" if self.version == 1 else "/sys/fs/cgroup")
        # The path the kernel prints as memcg= / task_memcg=.
        self.kernel_path = "/" + str(self.dir.relative_to(root))

    @property
    def procs_file(self) -> Path:
        return self.dir / "cgroup.procs"

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in self.procs_file.read_text().split()]
        except FileNotFoundError:
            return []

    def oom_kills(self) -> int:
        return cgroup_oom_kills(self.dir)

    def meminfo_kb(self) -> dict[str, int]:
        """What the amphora agent would report from /proc/meminfo in a VM of this size."""
        return cgroup_meminfo_kb(self.dir, self.limit_bytes)

    def remove(self, started: list[int]) -> None:
        """Kill what is left inside (only processes this lab started or their children)."""
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        for _ in range(50):
            try:
                self.dir.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"cannot remove {self.dir} (started pids {started})")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fixed_octavia_path() -> Path:
    """octavia 17.0.1's package, unpacked once from its wheel into the lab cache."""
    target = lab_venv.cache_dir() / f"octavia-{FIXED_RELEASE}"
    if (target / "octavia" / "common").is_dir():
        return target
    with tempfile.TemporaryDirectory(dir=lab_venv.cache_dir()) as tmp:
        python = lab_venv.ensure_venv() / "bin" / "python"
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                "-d",
                tmp,
                f"octavia=={FIXED_RELEASE}",
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("octavia-*.whl"))
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(unpacked)
        try:
            unpacked.rename(target)
        except OSError:
            if not (target / "octavia").is_dir():
                raise
    return target


# Every SSH session of the lab amphora, as sshd's ForceCommand (run by the login shell like
# any command): the fakes first on PATH, then the client's command. sshd itself runs in a
# private mount namespace in which /etc/systemd is the amphora's own copy (see _start_sshd),
# so sessions need no namespace or mount of their own: on a real amphora neither exists.
_FORCE_COMMAND = (
    'PATH="__ROOT__/fakebin:$PATH"; export PATH; eval "${SSH_ORIGINAL_COMMAND:-exit 0}"'
)


_HAPROXY_WRAPPER = """#!/bin/sh
# haproxy as the amphora runs it: in the amphora's memory cgroup with the unit's open-files
# limit; the master (start) also in its own network namespace holding the VIPs, as the
# amphora's "amphora-haproxy" namespace does. Usage: amphora-haproxy check ARGS... |
# amphora-haproxy start VIP[,VIP...] ARGS...
echo $$ > "__CGROUP__/cgroup.procs" || exit 90
ulimit -n "$(ulimit -Hn)" || exit 91
mode=$1; shift
if [ "$mode" = check ]; then exec __HAPROXY__ -c -q "$@"; fi
[ "$mode" = start ] || { echo "amphora-haproxy: unknown mode $mode" >&2; exit 2; }
vips=$1; shift
exec /usr/bin/unshare --net /bin/sh -c '
ip link set lo up || exit 92
for vip in $(echo "$0" | tr , " "); do ip addr add "$vip" dev lo || exit 93; done
exec "$@"' "$vips" __HAPROXY__ "$@"
"""

_FAKE_SYSTEMCTL = """#!/bin/sh
# FakeSystemctl: the lab host has no systemd as PID 1; a real amphora's systemctl reloads
# systemd. This fake records each daemon-reload so tests can see that it happened.
if [ "$1" = daemon-reload ] && [ "$#" -eq 1 ]; then
    date '+%s daemon-reload' >> "__ROOT__/systemctl.log"
    exit 0
fi
echo "FakeSystemctl: only 'daemon-reload' is supported, got: $*" >&2
exit 1
"""


# One OOM report is printed under the kernel's oom_lock, from "invoked oom-killer" to
# "Killed process": reports of different cgroups never interleave.
_FAKE_KERNEL_LOG = r"""#!/bin/sh
# FakeKernelLog: the lab amphora shares the host's kernel, whose log holds the OOM reports of
# every memory cgroup; a real amphora (a VM) has its own kernel and log. This runs the real
# __TOOL__ and keeps only the OOM reports whose oom_memcg or task_memcg is the amphora's
# cgroup (or below it); other lines pass unchanged.
rc=$( { { __REAL__ "$@"; echo $? >&4; } | __AWK__ -v memcg="__MEMCG__" '
function flush() { if (keep) printf "%s", block; block = ""; inblock = 0; keep = 0 }
/ invoked oom-killer: / { if (inblock) flush(); inblock = 1 }
inblock {
    block = block $0 "\n"
    if (index($0, "oom-kill:constraint=")) {
        for (i = 1; i <= 2; i++) {
            field = (i == 1 ? "oom_memcg=" : "task_memcg=") memcg
            if (index($0, field ",") || index($0, field "/")) keep = 1
        }
    }
    if (index($0, "Killed process ")) flush()
    next
}
# Pieces of a report whose start is before --since: which cgroup they are from is unknown.
/Killed process |oom-kill:|\[ *pid *\] +uid +tgid|\[ *[0-9]+\]( +-?[0-9]+)+ +[^ ]+$/ { next }
{ print }
END { flush() }
' >&3; } 4>&1 ) 3>&1
exit "${rc:-1}"
"""


_FAKE_PIDOF = r"""#!/bin/sh
# FakePidof: a real amphora (a VM) sees its own processes only; the lab amphora shares this
# host's process table with other labs' haproxy. This runs the real pidof and keeps the pids
# in the amphora's memory cgroup (or below it), by each pid's /proc/PID/cgroup: the v1 memory
# controller's path, else the v2 path. Exit status 1 when none is left, as pidof's.
__REAL__ "$@" | __AWK__ -v memcg="__MEMCG__" '
{
    out = ""
    for (i = 1; i <= NF; i++) {
        file = "/proc/" $i "/cgroup"
        v1 = ""
        v2 = ""
        while ((getline line < file) > 0) {
            split(line, f, ":")
            if (f[2] ~ /(^|,)memory(,|$)/) { v1 = f[3]; break }
            if (f[1] == "0" && v2 == "") v2 = f[3]
        }
        close(file)
        cg = (v1 != "" ? v1 : v2)
        if (cg == memcg || index(cg, memcg "/") == 1) out = out (out == "" ? "" : " ") $i
    }
    if (out != "") { print out; found = 1 }
}
END { exit !found }'
"""


def _fake_awk() -> str:
    """The awk of the lab's fakes: mawk where installed (Debian's and Ubuntu's required awk),
    which starts in half gawk's time. The fakes run in every session and exist on no real
    amphora: their cost is lab overhead, not the check's."""
    return shutil.which("mawk") or shutil.which("awk") or "awk"


class LabAmphora:
    """See the module docstring."""

    def __init__(
        self,
        memory_bytes: int = 1 << 30,
        templater: str = "vulnerable",
        base_dir: Path | None = None,
        name: str | None = None,
    ) -> None:
        if templater not in ("vulnerable", "fixed"):
            raise ValueError("templater is 'vulnerable' or 'fixed'")
        self.memory_bytes = memory_bytes
        self.templater = templater
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
        self.haproxy: subprocess.Popen[bytes] | None = None
        self.ssh_port = 0
        self.vip_port = free_port()
        self.since = ""
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
        self.since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - 1))
        for sub in ("var/lib/octavia/certs", "etc/systemd", "fakebin", "ssh", "run", "bin"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # sshd's sessions and haproxy's worker (user nobody) traverse the tree.
        os.chmod(self.root, 0o755)  # noqa: S103
        shutil.copy("/etc/systemd/system.conf", self.root / "etc/systemd/system.conf")
        self._write_exec(
            self.root / "fakebin/systemctl", _FAKE_SYSTEMCTL.replace("__ROOT__", str(self.root))
        )
        (self.root / "var/lib/octavia/haproxy-default-user-group.conf").write_text(
            "global\n    group nogroup\n"
        )
        self._write_cert()
        self.cgroup = MemoryCgroup(self.name, self.memory_bytes)
        # FakePidof (above): the check's view of haproxy processes is the amphora's own.
        self._write_exec(
            self.root / "fakebin/pidof",
            _FAKE_PIDOF.replace("__REAL__", shutil.which("pidof") or "/bin/pidof")
            .replace("__MEMCG__", self.cgroup.kernel_path)
            .replace("__AWK__", _fake_awk()),
        )
        for tool in ("dmesg", "journalctl"):
            real = shutil.which(tool)
            if real:  # a fake only where the host has the tool: the check looks for it
                self._write_exec(
                    self.root / "fakebin" / tool,
                    _FAKE_KERNEL_LOG.replace("__TOOL__", tool)
                    .replace("__REAL__", real)
                    .replace("__MEMCG__", self.cgroup.kernel_path)
                    .replace("__AWK__", _fake_awk()),
                )
        self._write_exec(
            self.root / "bin/amphora-haproxy",
            _HAPROXY_WRAPPER.replace("__CGROUP__", str(self.cgroup.dir)).replace(
                "__HAPROXY__", HAPROXY
            ),
        )
        try:
            self._start_sshd()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for proc in (self.haproxy, self.sshd):
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

    @staticmethod
    def _write_exec(path: Path, text: str) -> None:
        path.write_text(text)
        path.chmod(0o755)

    def _in_cgroup(self) -> None:
        # Runs in the child before exec: join the amphora's cgroup and lift the soft
        # open-files limit to the hard one, as the amphora unit's LimitNOFILE does.
        assert self.cgroup is not None
        self.cgroup.procs_file.write_text(str(os.getpid()))
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def _write_cert(self) -> None:
        certs = self.root / "var/lib/octavia/certs" / self.lb_id
        certs.mkdir(parents=True, exist_ok=True)
        key = certs / "key.tmp"
        crt = certs / "crt.tmp"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=xxlarge.devstack",
                "-keyout",
                str(key),
                "-out",
                str(crt),
            ],
            check=True,
            capture_output=True,
        )
        pem = certs / f"{self.cert_id}.pem"
        pem.write_text(crt.read_text() + key.read_text())
        pem.chmod(0o600)
        key.unlink()
        crt.unlink()
        # Octavia uploads a crt-list named after the listener that lists the certificates.
        (certs / f"{self.listener_id}.pem").write_text(f"{pem}\n")

    # -- sshd ------------------------------------------------------------------------------
    def _start_sshd(self) -> None:
        ssh_dir = self.root / "ssh"
        host_key = ssh_dir / "host_ed25519"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True
        )
        (ssh_dir / "authorized_keys").touch(mode=0o600)
        self.ssh_port = free_port()
        config = ssh_dir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.ssh_port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {host_key}",
                    f"PidFile {self.root / 'run/sshd.pid'}",
                    f"AuthorizedKeysFile {ssh_dir / 'authorized_keys'}",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    f"ForceCommand {_FORCE_COMMAND.replace('__ROOT__', str(self.root))}",
                    "MaxStartups 300:30:400",
                    "MaxSessions 100",
                    "PrintMotd no",
                    "LogLevel ERROR",
                    "",
                ]
            )
        )
        # sshd's privilege-separation directory, as the openssh-server unit creates it.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        # sshd's private mount namespace: the amphora's own (empty) home for the login user
        # hides this host's /root, whose shell start-up files would otherwise run in every
        # session (bash sources ~/.bashrc when started by sshd), as on no real amphora; and
        # /etc/systemd is the amphora's own copy, so the host's files stay untouched.
        home = self.root / "home"
        home.mkdir(mode=0o700, exist_ok=True)
        self.sshd = subprocess.Popen(
            [
                "/usr/bin/unshare",
                "--mount",
                "--propagation",
                "private",
                "/bin/sh",
                "-c",
                'mount --bind "$0" /root && mount --bind "$1" /etc/systemd || exit 97; '
                'shift; exec "$@"',
                str(home),
                str(self.root / "etc/systemd"),
                SSHD,
                "-D",
                "-e",
                "-f",
                str(config),
            ],
            preexec_fn=self._in_cgroup,
            stderr=open(self.root / "run/sshd.log", "wb"),  # noqa: SIM115
        )
        self._started.append(self.sshd.pid)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.ssh_port)) == 0:
                    return
            if self.sshd.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"lab sshd did not start: {(self.root / 'run/sshd.log').read_text()}")

    def authorize(self, public_key_line: str) -> None:
        with open(self.root / "ssh/authorized_keys", "a") as handle:
            handle.write(public_key_line.strip() + "\n")

    def host_public_key(self) -> str:
        return (self.root / "ssh/host_ed25519.pub").read_text().strip()

    def ssh_settings(self, private_key_path: Path, known_hosts_path: Path) -> Any:
        from charmed_octavia.amphora.ssh import SSHSettings

        # The one named fake of the lab: Octavia's noop driver reports 192.0.2.1.
        return SSHSettings(
            private_key_path=Path(private_key_path),
            known_hosts_path=Path(known_hosts_path),
            username="root",
            address_map={LAB_NETWORK_IP: ("127.0.0.1", self.ssh_port)},
        )

    def amphora(self) -> Any:
        from charmed_octavia.amphora.discovery import Amphora

        return Amphora(
            id=self.amphora_id,
            loadbalancer_id=self.lb_id,
            lb_network_ip=LAB_NETWORK_IP,
            role="STANDALONE",
            status="ALLOCATED",
        )

    # -- the lab control plane's amphora driver ---------------------------------------------
    def octavia_overrides(self, settle_timeout: float = 60.0) -> dict[str, dict[str, str]]:
        """octavia.conf sections that make the lab's octavia-worker drive this amphora.

        The worker loads ``lab_amphora_driver`` (tests/lab/amphora_driver.py), which renders
        haproxy.cfg with this amphora's templater ("vulnerable": the worker's own octavia,
        "fixed": 17.0.1's), writes it under ``octavia_dir`` and starts or reloads haproxy in
        this amphora's memory cgroup. The connection limit is scaled with the memory. Pass
        with ``worker_pythonpath()`` to ``tests.lab.control.Lab``.
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
        if self.templater == "fixed":
            lab["fixed_octavia_path"] = str(fixed_octavia_path())
        return {
            "controller_worker": {"amphora_driver": DRIVER_NAME},
            "haproxy_amphora": {
                "base_path": self.octavia_dir,
                "base_cert_dir": f"{self.octavia_dir}/certs",
                "default_connection_limit": str(self.connection_limit),
            },
            "lab_amphora": lab,
        }

    @staticmethod
    def worker_pythonpath() -> list[Path]:
        """The octavia-worker's PYTHONPATH: the driver's entry point and its module."""
        return [PLUGIN_DIR, REPO_ROOT]

    def driver_events(self) -> list[dict[str, Any]]:
        """What the driver did, one record per render (see amphora_driver.py)."""
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
        python = lab_venv.ensure_venv() / "bin" / "python"
        cmd = [str(python), str(Path(__file__).with_name("amphora_templater.py"))]
        if self.templater == "fixed":
            cmd += ["--octavia-path", str(fixed_octavia_path())]
        out = subprocess.run(
            cmd, input=json.dumps(spec), capture_output=True, text=True, check=False
        )
        if out.returncode:
            raise RuntimeError(f"Octavia's templater failed: {out.stderr[-2000:]}")
        rendered = json.loads(out.stdout)
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
        check = subprocess.run(
            [HAPROXY, "-c", "-q", *self._haproxy_args()],
            capture_output=True,
            text=True,
            preexec_fn=self._in_cgroup,
        )
        return check

    def create_listener(self) -> None:
        """Listener create: render, check, start haproxy (master-worker) in the cgroup."""
        check = self._write_config(self.render(with_pool=False))
        if check.returncode:
            raise RuntimeError(
                f"haproxy -c exited {check.returncode}: {check.stdout}{check.stderr}"
            )
        self.haproxy = subprocess.Popen(
            [
                HAPROXY,
                "-W",
                "-db",
                "-S",
                str(self.root / "run/master.sock"),
                *self._haproxy_args(),
                "-p",
                str(self.root / "run/haproxy.pid"),
            ],
            preexec_fn=self._in_cgroup,
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "run/haproxy.log", "ab"),  # noqa: SIM115
        )
        self._started.append(self.haproxy.pid)
        self._wait_workers(1, timeout=60)

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

    def _wait_workers(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.haproxy is not None and self.haproxy.poll() is not None:
                raise RuntimeError(
                    f"haproxy exited: {(self.root / 'run/haproxy.log').read_text()[-2000:]}"
                )
            if len(self.workers()) >= count:
                return
            time.sleep(0.1)
        raise RuntimeError("haproxy started no worker")
