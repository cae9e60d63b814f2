"""A fake unit machine for ops.testing: the charm's apt, dpkg and systemctl calls.

apt-get, dpkg and systemctl cannot run against a test's temporary tree (they act on the real
machine), so ``FakeMachine`` keeps packages and services in memory and records every call.
Files are real: they are written under a temporary root by the real ``Machine`` code, except
that ownership is recorded rather than applied (the ``octavia`` user and group exist only once
the packages are installed).

Package handling runs the real ``Machine`` code and the real charmhelpers under
``FakeAptBoundary``: only the commands charmhelpers runs (apt-get, apt-cache, dpkg-query) and
the files it opens under ``/etc`` are faked, redirected to the temporary root.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from charmed_octavia.unit import machine as unit_machine

_DPKG_HEADER = (
    "Desired=Unknown/Install/Remove/Purge/Hold\n"
    "| Status=Not/Inst/Conf-files/Unpacked/halF-conf/Half-inst/trig-aWait/Trig-pend\n"
    "|/ Err?=(none)/Reinst-required (Status,Err: uppercase=bad)\n"
    "||/ Name Version Architecture Description\n"
    "+++-====-=======-============-===========\n"
)


class FakeApt:
    """A fake of apt-get, apt-cache and dpkg-query over an in-memory package set.

    Those commands would change or read this machine's packages, not the unit's; charmhelpers
    runs them through ``subprocess``, which ``FakeAptBoundary`` points here. Records
    ("apt-update",) and ("apt-install", *packages) in ``calls``.
    """

    CalledProcessError = subprocess.CalledProcessError
    STDOUT = subprocess.STDOUT
    DEVNULL = subprocess.DEVNULL
    PIPE = subprocess.PIPE

    def __init__(self, calls: list[tuple[str, ...]], installed: dict[str, str]) -> None:
        self.calls = calls
        self.installed = installed
        self.candidate_version = "2:14.0.0-0ubuntu1"
        # Names apt-cache does not know (no installation candidate).
        self.unknown: set[str] = set()
        # Exit status of apt-get per verb ("update", "install") while set (100: fetch failure).
        self.apt_get_exit: dict[str, int] = {}
        # The next this many apt-get runs exit 100 as when another process holds the lock.
        self.lock_held_for = 0
        self.on_install: list[Any] = []

    # -- the subprocess functions charmhelpers calls ------------------------------------------

    def check_call(self, cmd: Sequence[str], **_: Any) -> int:
        status, output = self.execute(cmd)
        if status:
            raise subprocess.CalledProcessError(status, list(cmd), output)
        return 0

    def call(self, cmd: Sequence[str], **_: Any) -> int:
        return self.execute(cmd)[0]

    def check_output(self, cmd: Sequence[str], **_: Any) -> str:
        status, output = self.execute(cmd)
        if status:
            raise subprocess.CalledProcessError(status, list(cmd), output)
        return output

    # -- the commands ---------------------------------------------------------------------------

    def execute(self, cmd: Sequence[str]) -> tuple[int, str]:
        """(exit status, output) of one apt-get, apt-cache, dpkg-query or env command."""
        name, args = cmd[0], [a for a in cmd[1:] if not a.startswith("-")]
        if name == "apt-get":
            return self._apt_get(args)
        if name == "apt-cache" and args[:1] == ["show"]:
            known = [p for p in args[1:] if p not in self.unknown]
            text = "".join(
                f"Package: {p}\nVersion: {self.candidate_version}\nArchitecture: amd64\n\n"
                for p in known
            )
            return (0 if known else 100), text
        if name == "dpkg-query":
            lines = [
                f"ii  {p}  {self.installed[p]}  amd64  {p}\n" for p in args if p in self.installed
            ]
            missing = [
                f"dpkg-query: no packages found matching {p}\n"
                for p in args
                if p not in self.installed
            ]
            return (1 if missing else 0), _DPKG_HEADER + "".join(lines + missing)
        if name == "env":
            # get_system_env reads /etc/environment through a shell.
            return 0, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
        raise FileNotFoundError(f"FakeApt does not run {list(cmd)}")

    def _apt_get(self, args: list[str]) -> tuple[int, str]:
        verb, packages = args[0], args[1:]
        self.calls.append(("apt-update",) if verb == "update" else (f"apt-{verb}", *packages))
        if self.lock_held_for:
            self.lock_held_for -= 1
            return 100, "E: Could not get lock /var/lib/dpkg/lock-frontend"
        if self.apt_get_exit.get(verb):
            return self.apt_get_exit[verb], "E: Unable to fetch some archives"
        if verb == "install":
            unknown = [p for p in packages if p in self.unknown]
            if unknown:
                return 100, f"E: Unable to locate package {unknown[0]}"
            for package in packages:
                self.installed[package] = self.candidate_version
                for hook in self.on_install:
                    hook(package)
        return 0, ""


class FakeAptBoundary:
    """Points charmhelpers' apt, dpkg and /etc file access at a ``FakeApt`` and a temp root.

    A fake: charmhelpers runs apt-get and writes /etc/apt on whatever machine it runs on.
    While entered, ``charmhelpers.fetch.ubuntu`` and ``charmhelpers.fetch.ubuntu_apt_pkg``
    run commands through ``apt``, ``charmhelpers.core.host`` reads the environment from it,
    and files charmhelpers opens by absolute path (``/etc/apt/...``, ``/etc/lsb-release``)
    resolve under ``root``; retries record their delay instead of sleeping. Writes are
    recorded as ("write", path) in ``apt.calls``.
    """

    def __init__(self, root: Path, apt: FakeApt) -> None:
        self.root = root
        self.apt = apt
        self.sleeps: list[float] = []

    def _open(self, file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        path = str(file)
        if not path.startswith("/"):
            raise PermissionError(f"FakeAptBoundary only maps absolute paths, not {path!r}")
        target = self.root / path.lstrip("/")
        if any(m in mode for m in "wax+"):
            target.parent.mkdir(parents=True, exist_ok=True)
            self.apt.calls.append(("write", path))
        return builtins.open(target, mode, *args, **kwargs)

    @contextlib.contextmanager
    def active(self) -> Iterator[FakeAptBoundary]:
        # Imported as installed: teaching the release tables is the code under test's job.
        import charmhelpers.core.host as host
        import charmhelpers.core.host_factory.ubuntu as host_ubuntu
        import charmhelpers.fetch.ubuntu as ubuntu

        with contextlib.ExitStack() as stack:
            for module, name, value in (
                (ubuntu, "subprocess", self.apt),
                (ubuntu, "open", self._open),
                (ubuntu, "time", SimpleNamespace(sleep=self.sleeps.append)),
                (ubuntu.ubuntu_apt_pkg, "subprocess", self.apt),
                (host, "subprocess", self.apt),
                (host_ubuntu, "open", self._open),
            ):
                stack.enter_context(_attribute(module, name, value))
            yield self


@contextlib.contextmanager
def _attribute(target: Any, name: str, value: Any) -> Iterator[None]:
    missing = object()
    before = target.__dict__.get(name, missing)
    setattr(target, name, value)
    try:
        yield
    finally:
        if before is missing:
            delattr(target, name)
        else:
            setattr(target, name, before)


class FakeMachine(unit_machine.Machine):
    """A fake of the unit machine: files under ``root``; apt, dpkg and systemd in memory."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.installed: dict[str, str] = {}
        self.arch = "amd64"
        # A fixed count, whatever machine runs the tests.
        self.cpus = 4
        self.active: set[str] = set()
        self.enabled: set[str] = set()
        self.masked: set[str] = set()
        self.owners: dict[str, tuple[str, str]] = {}
        # Every side effect, in order: ("apt-update",), ("apt-install", pkgs...),
        # ("systemctl", action, name), ("run", *command), ("write", path).
        self.calls: list[tuple[str, ...]] = []
        self.fail_commands: dict[str, str] = {}
        self.apt = FakeApt(self.calls, self.installed)
        self.apt.on_install.append(self._package_installed)
        self.boundary = FakeAptBoundary(root, self.apt)

    @property
    def candidate_version(self) -> str:
        return self.apt.candidate_version

    @candidate_version.setter
    def candidate_version(self, version: str) -> None:
        self.apt.candidate_version = version

    def clone(self, root: Path) -> FakeMachine:
        """The same machine under ``root``: its files copied, packages and services alike,
        no calls recorded (an installed unit made once, for many tests)."""
        import shutil

        shutil.copytree(self.root, root, symlinks=True)
        twin = type(self)(root)
        twin.installed.update(self.installed)
        twin.arch = self.arch
        twin.cpus = self.cpus
        for name in ("active", "enabled", "masked"):
            getattr(twin, name).update(getattr(self, name))
        twin.owners.update(self.owners)
        twin.fail_commands.update(self.fail_commands)
        twin.candidate_version = self.candidate_version
        return twin

    def calls_of(self, kind: str) -> list[tuple[str, ...]]:
        return [c for c in self.calls if c[0] == kind]

    def architecture(self) -> str:
        return self.arch

    def cpu_count(self) -> int:
        return self.cpus

    def package_versions(self, packages: Sequence[str]) -> dict[str, str]:
        return {p: self.installed[p] for p in packages if p in self.installed}

    def add_apt_source(self, source: str) -> None:
        with self.boundary.active():
            super().add_apt_source(source)

    def apt_update(self) -> None:
        with self.boundary.active():
            super().apt_update()

    def apt_install(self, packages: Sequence[str], *, upgrade: bool = False) -> None:
        with self.boundary.active():
            super().apt_install(packages, upgrade=upgrade)

    def _package_installed(self, package: str) -> None:
        version = self.installed[package]
        if package.startswith("octavia-"):
            # Their dependencies, as the Ubuntu packages declare them.
            self.installed["octavia-common"] = version
            self.installed["python3-octavia"] = version
        if (package.startswith("octavia-") or package == "apache2") and (
            package not in self.masked
        ):
            # Debian packages start and enable their services on install, unless masked.
            self.active.add(package)
            self.enabled.add(package)

    def write_file(self, file: unit_machine.File) -> bool:
        before = self.owners.get(file.path)
        recorded = (file.owner, file.group)
        self.owners[file.path] = recorded
        # Ownership is applied as the current user; only the names are checked by tests.
        me = _current_names()
        changed = super().write_file(
            unit_machine.File(file.path, file.content, file.mode, owner=me[0], group=me[1])
        )
        changed = changed or before != recorded
        if changed:
            self.calls.append(("write", file.path))
        return changed

    def remove_file(self, path: str) -> bool:
        removed = super().remove_file(path)
        if removed:
            self.owners.pop(path, None)
            self.calls.append(("remove", path))
        return removed

    def symlink(self, path: str, target: str) -> bool:
        changed = super().symlink(path, target)
        if changed:
            self.calls.append(("symlink", path, target))
        return changed

    def service_active(self, name: str) -> bool:
        return name in self.active

    def service_enabled(self, name: str) -> bool:
        return name in self.enabled

    def service_masked(self, name: str) -> bool:
        return name in self.masked

    def service(self, action: str, name: str) -> None:
        self.calls.append(("systemctl", action, name))
        if action in ("start", "restart") and name in self.masked:
            # As systemctl: a masked unit cannot be started.
            raise unit_machine.WorkloadError(f"systemctl {action} {name} failed (1): masked")
        if action in ("start", "restart", "reload"):
            self.active.add(name)
        elif action == "stop":
            self.active.discard(name)
        elif action == "enable":
            self.enabled.add(name)
        elif action == "disable":
            self.enabled.discard(name)
        elif action == "mask":
            self.masked.add(name)
        elif action == "unmask":
            self.masked.discard(name)

    def run(self, command: Sequence[str]) -> str:
        self.calls.append(("run", *command))
        if command[0] in self.fail_commands:
            raise unit_machine.WorkloadError(self.fail_commands[command[0]])
        return ""


def _current_names() -> tuple[str, str]:
    import grp
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
