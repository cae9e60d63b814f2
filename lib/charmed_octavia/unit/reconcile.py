"""The reconcile's steps on the machine: apt sources and packages as ``openstack-origin``
says, the managed files, and the services (started, restarted only when what they read
changed, the standalone API unit masked).

Each step changes nothing when nothing changed: a hook with nothing to do installs and
restarts nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from charmed_octavia.unit import origin as origin_mod
from charmed_octavia.unit.machine import (
    MASKED_SERVICES,
    PACKAGES,
    SERVICES,
    File,
    Workload,
    WorkloadError,
)

Status = Callable[[str], None]


def sync_apt_sources(wl: Workload, origin: origin_mod.Origin, status: Status) -> bool:
    """The apt source and preference files as the origin says; True if any changed."""
    changed = False
    for path, content in origin.apt_files(wl.architecture()).items():
        if content is None:
            changed |= wl.remove_file(path)
        elif path == origin_mod.CLOUD_LIST:
            # charmhelpers' add_source installs the keyring, then writes this file.
            if wl.read_file(path) == content.encode() and not wl.missing_packages(
                [origin_mod.CLOUD_KEYRING_PACKAGE]
            ):
                continue
            status(f"Adding apt source {origin.value}")
            wl.add_apt_source(origin.source)
            if wl.read_file(path) != content.encode():
                raise WorkloadError(
                    f"{path} does not name {origin.cloud_pocket} after adding {origin.source}"
                )
            changed = True
        else:
            changed |= wl.write_file(File(path, content.encode()))
    return changed


def install_packages(
    wl: Workload, origin: origin_mod.Origin, *, from_new_sources: bool, status: Status
) -> bool:
    """The Octavia packages installed; True if anything was installed.

    ``from_new_sources``: the sources changed since the last successful install, so the
    indexes are refreshed and every package is installed or upgraded from them. ``status`` is
    told what is being done (a maintenance message)."""
    if from_new_sources:
        status(f"Installing packages from {origin.value}")
        wl.apt_update()
        wl.apt_install(PACKAGES, upgrade=True)
        return True
    missing = wl.missing_packages(PACKAGES)
    if missing:
        status(f"Installing {', '.join(missing)}")
        wl.apt_install(missing)
        return True
    return False


def keep_masked(wl: Workload, services: Sequence[str] = MASKED_SERVICES) -> None:
    """``services`` stopped, disabled and masked (charmhelpers' service_pause). By default the
    packaged standalone API: apache2 serves the API, and a masked unit cannot be started again
    by a package upgrade."""
    for name in services:
        if wl.service_active(name):
            wl.service("stop", name)
        if wl.service_enabled(name):
            wl.service("disable", name)
        if not wl.service_masked(name):
            wl.service("mask", name)


def apply_files(wl: Workload, files: Mapping[str, File | None]) -> set[str]:
    """Write or remove every managed file; the paths that changed."""
    changed: set[str] = set()
    for path, file in files.items():
        if file is None:
            if wl.remove_file(path):
                changed.add(path)
        elif wl.write_file(file):
            changed.add(path)
    return changed


def changed_services(
    changed_paths: Iterable[str], readers: Mapping[str, Sequence[str]]
) -> list[str]:
    """Services that read any of ``changed_paths``, in the order ``readers`` names them.

    ``readers`` maps a service to the paths it reads.
    """
    changed = set(changed_paths)
    return [svc for svc, paths in readers.items() if changed.intersection(paths)]


def run_services(wl: Workload, restart: Sequence[str], *, pacemaker: Sequence[str] = ()) -> None:
    """Every service enabled and running; those in ``restart`` restarted if they were.

    ``pacemaker``: services pacemaker starts at boot (hacluster disabled them): left
    disabled."""
    for name in SERVICES:
        if name not in pacemaker and not wl.service_enabled(name):
            wl.service("enable", name)
        if not wl.service_active(name):
            wl.service("start", name)
        elif name in restart:
            wl.service("restart", name)


def stop_services(wl: Workload) -> None:
    for name in SERVICES:
        if wl.service_active(name):
            wl.service("stop", name)
