"""The lab amphora's SSH endpoint: a real sshd on 127.0.0.1 (free port, own host key, own
config) in a private mount namespace, and the fakes its sessions see first on PATH. With a
place on lb-mgmt-net, a second one listens on the amphora's address there, port 22.

The fakes (``scripts/``) stand where the lab host differs from an amphora VM:
``systemctl`` is FakeSystemctl (this host has no systemd as PID 1; the fake records
daemon-reload), ``dmesg``/``journalctl`` are FakeKernelLog (only this amphora's OOM reports of
the shared kernel's log) and ``pidof`` is FakePidof (only this amphora's processes).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.lab import procs
from tests.lab.files import fill_template, write_executable

SSHD = "/usr/sbin/sshd"
SCRIPTS = Path(__file__).resolve().parent / "scripts"


def _fake_awk() -> str:
    """The awk of the lab's fakes: mawk where installed (Debian's and Ubuntu's required awk),
    which starts in half gawk's time. The fakes run in every session and exist on no real
    amphora: their cost is lab overhead, not the check's."""
    return shutil.which("mawk") or shutil.which("awk") or "awk"


def install_systemctl(root: Path) -> None:
    """FakeSystemctl as ``<root>/fakebin/systemctl``, logging to ``<root>/systemctl.log``."""
    write_executable(
        root / "fakebin/systemctl",
        fill_template(SCRIPTS / "fake-systemctl.sh", {"__ROOT__": str(root)}),
    )


def install_cgroup_fakes(root: Path, memcg: str) -> None:
    """FakePidof and FakeKernelLog in ``<root>/fakebin``, keeping what belongs to the memory
    cgroup ``memcg`` (its path as the kernel prints it)."""
    write_executable(
        root / "fakebin/pidof",
        fill_template(
            SCRIPTS / "fake-pidof.sh",
            {
                "__REAL__": shutil.which("pidof") or "/bin/pidof",
                "__MEMCG__": memcg,
                "__AWK__": _fake_awk(),
            },
        ),
    )
    for tool in ("dmesg", "journalctl"):
        real = shutil.which(tool)
        if real:  # a fake only where the host has the tool: the check looks for it
            write_executable(
                root / "fakebin" / tool,
                fill_template(
                    SCRIPTS / "fake-kernel-log.sh",
                    {
                        "__TOOL__": tool,
                        "__REAL__": real,
                        "__MEMCG__": memcg,
                        "__AWK__": _fake_awk(),
                    },
                ),
            )


def force_command(root: Path) -> str:
    """sshd's ForceCommand: the one command line of scripts/force-command.sh."""
    text = fill_template(SCRIPTS / "force-command.sh", {"__ROOT__": str(root)})
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if len(lines) != 1:
        raise RuntimeError(f"force-command.sh holds {len(lines)} command lines, not one")
    return lines[0]


def _write_config(root: Path, port: int, host_key: Path, listen: str, name: str) -> Path:
    ssh_dir = root / "ssh"
    config = ssh_dir / f"{name}_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                f"ListenAddress {listen}",
                f"HostKey {host_key}",
                f"PidFile {root / 'run' / f'{name}.pid'}",
                f"AuthorizedKeysFile {ssh_dir / 'authorized_keys'}",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                f"ForceCommand {force_command(root)}",
                "MaxStartups 300:30:400",
                "MaxSessions 100",
                "PrintMotd no",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    return config


def spawn_sshd(
    root: Path,
    preexec_fn: Callable[[], None],
    *,
    prefix: Sequence[str] = (),
    listen: tuple[str, int] | None = None,
    name: str = "sshd",
) -> tuple[subprocess.Popen[bytes], int]:
    """Start the amphora's sshd (as ``preexec_fn`` sets up its process) on ``listen``, by
    default a free port of 127.0.0.1; return it and its port at once (``wait_listening``
    waits for it). ``prefix`` (``nsenter --net=...``) runs it in another network namespace:
    the amphora's on lb-mgmt-net, where a second sshd (``name``) listens on its address."""
    ssh_dir = root / "ssh"
    host_key = ssh_dir / "host_ed25519"
    if not host_key.exists():  # one host key, whichever address the client reaches
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True
        )
    (ssh_dir / "authorized_keys").touch(mode=0o600)
    address, port = listen or ("127.0.0.1", procs.free_port())
    config = _write_config(root, port, host_key, address, name)
    # sshd's privilege-separation directory, as the openssh-server unit creates it.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    # sshd's private mount namespace: the amphora's own (empty) home for the login user
    # hides this host's /root, whose shell start-up files would otherwise run in every
    # session (bash sources ~/.bashrc when started by sshd), as on no real amphora; and
    # /etc/systemd is the amphora's own copy, so the host's files stay untouched.
    home = root / "home"
    home.mkdir(mode=0o700, exist_ok=True)
    sshd = subprocess.Popen(
        [
            *prefix,
            "/usr/bin/unshare",
            "--mount",
            "--propagation",
            "private",
            "/bin/sh",
            "-c",
            'mount --bind "$0" /root && mount --bind "$1" /etc/systemd || exit 97; '
            'shift; exec "$@"',
            str(home),
            str(root / "etc/systemd"),
            SSHD,
            "-D",
            "-e",
            "-f",
            str(config),
        ],
        preexec_fn=preexec_fn,
        stderr=open(root / "run" / f"{name}.log", "wb"),  # noqa: SIM115
    )
    return sshd, port


def wait_listening_in(sshd: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """``wait_listening`` for an sshd in another network namespace: its listening socket read
    from its own view of the kernel's TCP tables."""
    deadline = time.monotonic() + 10
    wanted = f":{port:04X}"
    while time.monotonic() < deadline and sshd.poll() is None:
        for table in ("tcp", "tcp6"):
            with contextlib.suppress(OSError):
                rows = Path(f"/proc/{sshd.pid}/net/{table}").read_text().splitlines()[1:]
                # Column 4 is the state: 0A is LISTEN.
                if any(r.split()[1].endswith(wanted) and r.split()[3] == "0A" for r in rows):
                    return
        time.sleep(0.05)
    raise RuntimeError(f"lab sshd did not start: {log.read_text()}")


def wait_listening(sshd: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Return once sshd accepts connections on ``port``; raise if it exits or 10 s pass."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if sshd.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"lab sshd did not start: {log.read_text()}")
