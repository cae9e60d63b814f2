"""The operator's lifecycle of the unit's services: pause and resume as charmhelpers'
``pause_unit``/``resume_unit`` do them, restarts, and the OpenStack release the installed
Octavia and the database schema are at (for ``action-managed-upgrade`` and the followers'
wait for the leader's migration).

Paused services are stopped, disabled and masked (charmhelpers' ``service_pause``): masked,
no package upgrade can start them again while the unit is paused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from charmed_octavia.cloud.outcomes import CONTROL, shown
from charmed_octavia.unit import origin as origin_mod
from charmed_octavia.unit import reconcile
from charmed_octavia.unit.machine import SERVICES, VERSION_PACKAGES, Workload

# The texts of charmhelpers' _ows_check_if_paused, which operators and tests know.
PAUSED = "Paused. Use 'resume' action to resume normal service."
SERIES_UPGRADING = "Ready for do-release-upgrade and reboot. Set complete when finished."

# Octavia's major version per OpenStack release (the packages' upstream versions).
OCTAVIA_MAJOR: dict[int, str] = {
    6: "ussuri",
    7: "victoria",
    8: "wallaby",
    9: "xena",
    10: "yoga",
    11: "zed",
    12: "antelope",
    13: "bobcat",
    14: "caracal",
    15: "dalmatian",
    16: "epoxy",
    17: "flamingo",
}
# "2:14.0.0-0ubuntu1~cloud0": an optional epoch, then the upstream major version.
_VERSION = re.compile(r"^(?:\d+:)?(?P<major>\d+)\.")


def installed_version(wl: Workload) -> str:
    """The installed Octavia's package version ("" when none is installed)."""
    installed = wl.package_versions(VERSION_PACKAGES)
    return next((installed[p] for p in VERSION_PACKAGES if p in installed), "")


def release_of(version: str) -> str:
    """The OpenStack release of an Octavia package version ("" when unknown)."""
    match = _VERSION.match(version.strip())
    return OCTAVIA_MAJOR.get(int(match["major"]), "") if match else ""


def _rank(release: str) -> int:
    releases = origin_mod.openstack_releases()
    return releases.index(release) if release in releases else -1


def upgrade_available(installed: str, origin: origin_mod.Origin) -> bool:
    """Whether ``origin`` offers a newer OpenStack release than the installed version.

    As charmhelpers' ``openstack_upgrade_available``: nothing installed, no upgrade."""
    current = release_of(installed)
    if not current or not origin.release:
        return False
    return _rank(origin.release) > _rank(current)


def schema_wait(installed: str, synced: str) -> str:
    """The release whose schema this unit's code needs and the database is not at yet ("" when
    the schema is there, the leader having migrated it for this release or a later one, or
    when the leader has not migrated at all: the caller waits for that on its own).

    ``synced`` is the Octavia version the leader last migrated the database for; a unit whose
    code is older than the schema keeps running, as during a rolling upgrade."""
    want, have = release_of(installed), release_of(synced)
    if want and have and _rank(want) > _rank(have):
        return want
    return ""


def pause(wl: Workload, services: Sequence[str] = SERVICES) -> None:
    """Stopped, disabled and masked (charmhelpers' service_pause)."""
    reconcile.keep_masked(wl, services)


def resume(wl: Workload, services: Sequence[str] = SERVICES) -> None:
    """Unmasked. The reconcile enables and starts them once the unit is ready (all but those
    pacemaker starts, which hacluster keeps disabled)."""
    for name in services:
        if wl.service_masked(name):
            wl.service("unmask", name)


def running(wl: Workload, services: Sequence[str] = SERVICES) -> list[str]:
    return [name for name in services if wl.service_active(name)]


def restart(wl: Workload, services: Sequence[str]) -> None:
    """Stop every one of ``services``, then start them (charms.openstack's restart_services)."""
    for name in services:
        wl.service("stop", name)
    for name in services:
        wl.service("start", name)


def chosen_services(text: str) -> list[str]:
    """The managed services a space-separated ``services`` parameter names (all when empty);
    ValueError naming the unknown ones."""
    if CONTROL.search(text):
        raise ValueError("services must be one line without control characters")
    names = text.split()
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        raise ValueError(
            f"services: {shown(' '.join(unknown))} names no service of this charm "
            f"(it manages {', '.join(SERVICES)})"
        )
    return [s for s in SERVICES if s in names] if names else list(SERVICES)
