"""A unit's root file system on this machine: an overlay of ``/`` whose writes land in a
directory of the test's, entered through a private mount namespace and ``chroot``.

What a charm hook or a packaged service does to ``/etc``, ``/usr`` or ``/var`` (apt sources,
octavia.conf, apache's site, users and groups) stays in ``upper``; this machine's files are
never touched. ``put`` places a file as the unit has it (an Ubuntu ``os-release``, a package's
program); ``run`` executes a command inside. ``/proc``, ``/sys``, ``/dev`` and ``/run`` are this
machine's, bound in, so processes, sockets and cgroups work as usual. Every ``run`` mounts the
same upper directory again: the unit's changes persist from one command to the next. Inside
a ``session`` every command enters one held mount instead: overlayfs allows a single mount of an
upper directory at a time, so commands that run at once (a server and the commands beside it)
must share it.

Needs root, ``unshare`` and overlayfs; ``unavailable_reason`` says why not.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

UNSHARE = "/usr/bin/unshare"
NSENTER = "/usr/bin/nsenter"
_SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def _tool(name: str) -> str:
    # By absolute path: the command's own environment (a hook's PATH) may not name them.
    return shutil.which(name, path=_SYSTEM_PATH) or name


# Bound in from this machine: kernel interfaces, devices, runtime sockets.
_BOUND = ("proc", "sys", "dev", "run")

UBUNTU = {
    "22.04": ("jammy", "Jammy Jellyfish"),
    "24.04": ("noble", "Noble Numbat"),
}


def ubuntu_os_release(version: str) -> str:
    """/etc/os-release of an Ubuntu release, as charmcraft, charmhelpers and the charm read it."""
    codename, name = UBUNTU[version]
    return (
        f'PRETTY_NAME="Ubuntu {version} LTS"\nNAME="Ubuntu"\nVERSION_ID="{version}"\n'
        f'VERSION="{version} LTS ({name})"\nVERSION_CODENAME={codename}\nID=ubuntu\n'
        f"ID_LIKE=debian\nUBUNTU_CODENAME={codename}\n"
    )


def ubuntu_lsb_release(version: str) -> str:
    codename, _ = UBUNTU[version]
    return (
        f"DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE={version}\nDISTRIB_CODENAME={codename}\n"
        f'DISTRIB_DESCRIPTION="Ubuntu {version} LTS"\n'
    )


def unavailable_reason() -> str | None:
    """Why no unit root can be made here, or None."""
    if os.geteuid() != 0:
        return "a unit root needs root (mount namespace, overlayfs, chroot)"
    for tool in (UNSHARE, NSENTER):
        if not Path(tool).exists():
            return f"{tool} is missing (util-linux)"
    with tempfile.TemporaryDirectory(prefix="unit-root-probe-") as tmp:
        root = UnitRoot(Path(tmp))
        try:
            root.run(["/bin/true"], timeout=30)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            return f"cannot mount an overlay of / here: {exc}"
    return None


class UnitRoot:
    """See the module docstring. ``base`` holds ``upper``, ``work`` and the mount point."""

    def __init__(self, base: Path) -> None:
        self.base = Path(base)
        self.upper = self.base / "upper"
        self.work = self.base / "work"
        self.merged = self.base / "merged"
        for path in (self.upper, self.work, self.merged):
            path.mkdir(parents=True, exist_ok=True)
        # The process holding the session's mount namespace (0: no session).
        self._holder = 0
        self._session_binds: tuple[Path, ...] = ()

    def path(self, inside: str) -> Path:
        """Where a path of the unit is written in the upper layer."""
        return self.upper / inside.lstrip("/")

    def put(self, inside: str, content: str | bytes, mode: int = 0o644) -> Path:
        """Place a file at ``inside`` (replacing a file or symlink of this machine's)."""
        target = self.path(inside)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        data = content.encode() if isinstance(content, str) else content
        target.write_bytes(data)
        target.chmod(mode)
        return target

    def link(self, inside: str, points_to: str) -> None:
        """Make ``inside`` a symbolic link to ``points_to``."""
        target = self.path(inside)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        target.symlink_to(points_to)

    def as_ubuntu(self, version: str) -> None:
        """Make the unit an Ubuntu ``version`` (22.04, 24.04) as programs read it."""
        # /etc/os-release is a link to /usr/lib/os-release on Debian and Ubuntu alike.
        self.put("/usr/lib/os-release", ubuntu_os_release(version))
        self.put("/etc/lsb-release", ubuntu_lsb_release(version))

    def _script(self, argv: Sequence[str], cwd: str, binds: Sequence[Path] = ()) -> str:
        mount, mkdir = _tool("mount"), _tool("mkdir")
        mounts = [
            f"{mount} -t overlay overlay -o lowerdir=/,upperdir={self.upper},"
            f"workdir={self.work} {self.merged}",
            *(f"{mount} --rbind /{name} {self.merged}/{name}" for name in _BOUND),
            # This machine's own directories, written through (a build's output, a cache).
            *(
                f"{mkdir} -p {shlex.quote(f'{self.merged}{p}')} && "
                f"{mount} --bind {shlex.quote(str(p))} {shlex.quote(f'{self.merged}{p}')}"
                for p in binds
            ),
        ]
        chroot = [_tool("chroot"), str(self.merged), "/bin/sh", "-c", 'cd "$0" && exec "$@"']
        command = shlex.join(chroot)
        return " && ".join(mounts) + f" && exec {command} {shlex.join([cwd, *argv])}"

    def _command(self, argv: Sequence[str], cwd: str, binds: Sequence[Path]) -> list[str]:
        if not self._holder:
            script = self._script(argv, cwd, binds)
            return [UNSHARE, "--mount", "--propagation", "private", "/bin/sh", "-c", script]
        if not set(map(Path, binds)) <= set(self._session_binds):
            raise ValueError(f"binds {list(binds)} were not made when the session began")
        enter = [NSENTER, f"--target={self._holder}", "--mount", "--root", "--"]
        return [*enter, "/bin/sh", "-c", 'cd "$0" && exec "$@"', cwd, *argv]

    @contextlib.contextmanager
    def session(self, binds: Sequence[Path] = ()) -> Iterator[None]:
        """Mount the unit root once; every ``run`` and ``popen`` until the exit enters it."""
        if self._holder:
            raise RuntimeError("a session of this unit root is already held")
        holder = subprocess.Popen(
            [*self._command(["/bin/sleep", "infinity"], "/", binds)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            # The holder is "sleep infinity" itself once the overlay is mounted: every step
            # before it execs the next.
            deadline = time.monotonic() + 30
            while Path(f"/proc/{holder.pid}/cmdline").read_bytes() != b"/bin/sleep\0infinity\0":
                if holder.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the unit root did not mount (exit {holder.returncode})")
                time.sleep(0.05)
            self._holder, self._session_binds = holder.pid, tuple(map(Path, binds))
            yield
        finally:
            self._holder, self._session_binds = 0, ()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(holder.pid, 9)
            with contextlib.suppress(subprocess.TimeoutExpired):
                holder.wait(timeout=10)

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str = "/",
        input: str | bytes | None = None,
        timeout: float = 300,
        check: bool = True,
        binds: Sequence[Path] = (),
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the unit root; its output is returned as text. ``binds`` are
        absolute directories of this machine seen (and written) as themselves inside."""
        return subprocess.run(
            self._command(argv, cwd, binds),
            env=dict(env) if env is not None else None,
            input=input.decode() if isinstance(input, bytes) else input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def popen(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str = "/",
        binds: Sequence[Path] = (),
        **kwargs: object,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` inside the unit root and return at once (a server: the caller stops
        it by its PID, which leads the process group of the namespace's processes)."""
        return subprocess.Popen(
            self._command(argv, cwd, binds),
            env=dict(env) if env is not None else None,
            start_new_session=True,
            **kwargs,  # type: ignore[arg-type]
        )

    def remove(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)
