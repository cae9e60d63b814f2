"""A fake unit machine for ops.testing: the charm's apt, dpkg and systemctl calls.

apt-get, dpkg and systemctl cannot run against a test's temporary tree (they act on the real
machine), so ``FakeMachine`` keeps packages and services in memory and records every call.
Files are real: they are written under a temporary root by the real ``Machine`` code, except
that ownership is recorded rather than applied (the ``octavia`` user and group exist only once
the packages are installed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from charmed_octavia import workload


class FakeMachine(workload.Machine):
    """A fake of the unit machine: files under ``root``; apt, dpkg and systemd in memory."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.installed: dict[str, str] = {}
        self.candidate_version = "2:14.0.0-0ubuntu1"
        self.arch = "amd64"
        self.active: set[str] = set()
        self.enabled: set[str] = set()
        self.owners: dict[str, tuple[str, str]] = {}
        # Every side effect, in order: ("apt-update",), ("apt-install", pkgs...),
        # ("systemctl", action, name), ("run", *command), ("write", path).
        self.calls: list[tuple[str, ...]] = []
        self.fail_commands: dict[str, str] = {}

    def calls_of(self, kind: str) -> list[tuple[str, ...]]:
        return [c for c in self.calls if c[0] == kind]

    def architecture(self) -> str:
        return self.arch

    def package_versions(self, packages: Sequence[str]) -> dict[str, str]:
        return {p: self.installed[p] for p in packages if p in self.installed}

    def apt_update(self) -> None:
        self.calls.append(("apt-update",))

    def apt_install(self, packages: Sequence[str]) -> None:
        self.calls.append(("apt-install", *packages))
        if "apt-get" in self.fail_commands:
            raise workload.WorkloadError(self.fail_commands["apt-get"])
        for package in packages:
            self.installed[package] = self.candidate_version
            if package.startswith("octavia-"):
                # Their dependencies, as the Ubuntu packages declare them.
                self.installed["octavia-common"] = self.candidate_version
                self.installed["python3-octavia"] = self.candidate_version
            if package.startswith("octavia-") or package == "apache2":
                # Debian packages start and enable their services on install.
                self.active.add(package)
                self.enabled.add(package)

    def write_file(self, file: workload.File) -> bool:
        before = self.owners.get(file.path)
        recorded = (file.owner, file.group)
        self.owners[file.path] = recorded
        # Ownership is applied as the current user; only the names are checked by tests.
        me = _current_names()
        changed = super().write_file(
            workload.File(file.path, file.content, file.mode, owner=me[0], group=me[1])
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

    def service(self, action: str, name: str) -> None:
        self.calls.append(("systemctl", action, name))
        if action in ("start", "restart", "reload"):
            self.active.add(name)
        elif action == "stop":
            self.active.discard(name)
        elif action == "enable":
            self.enabled.add(name)
        elif action == "disable":
            self.enabled.discard(name)

    def run(self, command: Sequence[str]) -> str:
        self.calls.append(("run", *command))
        if command[0] in self.fail_commands:
            raise workload.WorkloadError(self.fail_commands[command[0]])
        return ""


def _current_names() -> tuple[str, str]:
    import grp
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
