"""FakeMachineTools: apt-get, apt-cache, dpkg-query, dpkg, systemctl and octavia-db-manage for a
packed charm's hooks in a unit root, as programs on the hooks' PATH.

A named fake at the boundaries that cannot run here: apt would change this machine's packages
(and reach the Ubuntu archive), this machine has no systemd as PID 1, and octavia-db-manage
needs Octavia installed from the Ubuntu packages. The apt and dpkg answers are the unit tests'
``FakeApt``; what the packages' maintainer scripts would do on install is done here to the unit
root (the ``octavia`` user and group, services started and enabled unless masked). State is a
JSON file (``$FAKE_STATE``): installed packages, services, and every call made.

    python -m tests.packed.machine_tools <program> [args...]
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PROGRAMS = ("apt-get", "apt-cache", "dpkg-query", "dpkg", "systemctl", "octavia-db-manage")
SERVICE_PACKAGES = ("octavia-api", "octavia-worker", "octavia-health-manager")
SERVICE_PACKAGES += ("octavia-housekeeping", "apache2")


@contextmanager
def _state() -> Iterator[dict[str, Any]]:
    path = Path(os.environ["FAKE_STATE"])
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = json.loads(path.read_text()) if path.exists() else {}
        for key, default in (("installed", {}), ("calls", []), ("candidate", "2:14.0.0-0ubuntu1")):
            state.setdefault(key, default)
        for key in ("active", "enabled", "masked"):
            state.setdefault(key, [])
        yield state
        path.write_text(json.dumps(state, indent=1, sort_keys=True))


def _add_system_user(name: str) -> None:
    """What adduser does in octavia-common's postinst: a system user and group."""
    passwd, group = Path("/etc/passwd"), Path("/etc/group")
    if any(line.split(":")[0] == name for line in passwd.read_text().splitlines()):
        return
    gid = 990
    with group.open("a") as handle:
        handle.write(f"{name}:x:{gid}:\n")
    with passwd.open("a") as handle:
        handle.write(f"{name}:x:{gid}:{gid}::/var/lib/{name}:/usr/sbin/nologin\n")


def _installed(state: dict[str, Any], package: str) -> None:
    version = state["candidate"]
    if package.startswith("octavia-"):
        state["installed"]["octavia-common"] = version
        state["installed"]["python3-octavia"] = version
        _add_system_user("octavia")
    # Debian packages start and enable their services on install, unless masked.
    if package in SERVICE_PACKAGES and package not in state["masked"]:
        for key in ("active", "enabled"):
            if package not in state[key]:
                state[key].append(package)


def _apt(state: dict[str, Any], argv: list[str]) -> int:
    sys.path[:0] = [str(Path(__file__).resolve().parents[2] / "lib")]
    from tests.unit.fake_machine import FakeApt

    calls: list[tuple[str, ...]] = []
    apt = FakeApt(calls, state["installed"])
    apt.candidate_version = state["candidate"]
    apt.on_install.append(lambda package: _installed(state, package))
    status, output = apt.execute(argv)
    sys.stdout.write(output)
    return status


def _dpkg_query(state: dict[str, Any], argv: list[str]) -> int:
    if "-f" not in argv and "--showformat" not in argv:
        return _apt(state, argv)
    # -W -f FORMAT packages: one line per known package, in the given format.
    fmt = argv[argv.index("-f") + 1].encode().decode("unicode_escape")
    names = [a for a in argv[argv.index("-f") + 2 :] if not a.startswith("-")]
    for name in names:
        if name in state["installed"]:
            sys.stdout.write(
                fmt.replace("${Package}", name)
                .replace("${Status}", "install ok installed")
                .replace("${Version}", state["installed"][name])
            )
    return 0 if all(n in state["installed"] for n in names) else 1


def _systemctl(state: dict[str, Any], argv: list[str]) -> int:
    quiet = "--quiet" in argv
    verb, *names = [a for a in argv if not a.startswith("-")]
    if verb in ("is-active", "is-enabled"):
        (name,) = names
        if verb == "is-enabled" and name in state["masked"]:
            if not quiet:
                print("masked")
            return 1
        on = name in state["active" if verb == "is-active" else "enabled"]
        if not quiet:
            print(
                ("active" if on else "inactive")
                if verb == "is-active"
                else ("enabled" if on else "disabled")
            )
        return 0 if on else 1
    for name in names:
        if verb in ("start", "restart", "reload"):
            if name in state["masked"]:
                print(
                    f"Failed to {verb} {name}.service: Unit {name}.service is masked.",
                    file=sys.stderr,
                )
                return 1
            state["active"] = sorted({*state["active"], name})
        elif verb == "stop":
            state["active"] = [n for n in state["active"] if n != name]
        elif verb == "enable":
            state["enabled"] = sorted({*state["enabled"], name})
        elif verb == "disable":
            state["enabled"] = [n for n in state["enabled"] if n != name]
        elif verb == "mask":
            state["masked"] = sorted({*state["masked"], name})
        else:
            print(f"FakeMachineTools: systemctl {verb} is not faked", file=sys.stderr)
            return 1
    return 0


def main(argv: list[str]) -> int:
    program, *args = argv
    with _state() as state:
        state["calls"].append([program, *args])
        if program in ("apt-get", "apt-cache"):
            return _apt(state, [program, *args])
        if program == "dpkg-query":
            return _dpkg_query(state, [program, *args])
        if program == "dpkg" and args == ["--print-architecture"]:
            print("amd64")
            return 0
        if program == "systemctl":
            return _systemctl(state, args)
        if program == "octavia-db-manage":
            # The schema itself is migrated for real in tests/integration/test_charm_files.py.
            return 0
    print(f"FakeMachineTools: {program} {args} is not faked", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
