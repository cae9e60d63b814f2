"""The ``openstack-origin`` option: where the OpenStack packages come from.

Accepted values:

- ``distro``: the Ubuntu archive as the machine has it configured;
- ``distro-proposed``: also the series' ``-proposed`` pocket (SRU verification on Noble);
- ``cloud:<series>-<release>``, optionally with ``/updates`` or ``/proposed``, and the
  pocket spelling ``cloud:<series>-updates/<release>`` / ``cloud:<series>-proposed/<release>``:
  the Ubuntu Cloud Archive, whose key comes with the ``ubuntu-cloud-keyring`` package.

The series in a cloud origin must be the unit's own: the Cloud Archive only carries
releases built for that series. One exception keeps a unit working across a series upgrade:
an origin of an older series whose release is the newer series' own (``cloud:jammy-caracal`` on
Noble, which carries Caracal) means that series' archive, ``distro`` (``distro-proposed`` for
the ``proposed`` pocket), until the operator sets the option anew.

Cloud origins are added on the unit by charmhelpers' ``add_source`` (it installs the keyring,
then writes ``cloud-archive.list``). charmhelpers 1.2.1 stops at yoga: ``teach_charmhelpers``
registers the releases listed here in its tables before it is used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType

from charmed_octavia.cloud.outcomes import shown

# Ubuntu Cloud Archive releases per series, and each series' own OpenStack release.
CLOUD_RELEASES: dict[str, tuple[str, ...]] = {
    "focal": ("victoria", "wallaby", "xena", "yoga"),
    "jammy": ("zed", "antelope", "bobcat", "caracal"),
    "noble": ("dalmatian", "epoxy", "flamingo"),
}
DISTRO_RELEASES: dict[str, str] = {"focal": "ussuri", "jammy": "yoga", "noble": "caracal"}

CLOUD_ARCHIVE_URL = "http://ubuntu-cloud.archive.canonical.com/ubuntu"
CLOUD_KEYRING_PACKAGE = "ubuntu-cloud-keyring"
# What charmhelpers' add_source writes to CLOUD_LIST for a pocket such as
# "jammy-updates/caracal"; the charm compares the file with it to add the source only once.
CLOUD_LIST_CONTENT = f"# Ubuntu Cloud Archive\ndeb {CLOUD_ARCHIVE_URL} {{}} main\n"

CLOUD_LIST = "/etc/apt/sources.list.d/cloud-archive.list"
PROPOSED_LIST = "/etc/apt/sources.list.d/ubuntu-proposed.list"
PROPOSED_PREFERENCES = "/etc/apt/preferences.d/ubuntu-proposed"

# The primary archive serves amd64 and i386; every other architecture is on the ports mirror.
_PRIMARY_ARCHES = ("amd64", "i386")
PRIMARY_ARCHIVE_URL = "http://archive.ubuntu.com/ubuntu"
PORTS_ARCHIVE_URL = "http://ports.ubuntu.com/ubuntu-ports"

# The pocket spelling first: "jammy-updates/caracal" would otherwise read as release "updates".
_CLOUD = re.compile(
    r"^cloud:(?P<series>[a-z]+)-(?:(?P<pocket2>updates|proposed)/(?P<release2>[a-z]+)"
    r"|(?P<release>[a-z]+)(?:/(?P<pocket>[a-z]+))?)$"
)


class InvalidOrigin(ValueError):
    """The openstack-origin value cannot be used on this unit; the message says why."""


@dataclass(frozen=True)
class Origin:
    """A parsed ``openstack-origin``."""

    value: str
    series: str
    # The OpenStack release the packages come from ("" when the series is unknown here).
    release: str
    # "cloud" for the Cloud Archive, "distro" otherwise.
    kind: str
    # "updates" or "proposed" for the Cloud Archive; "" or "proposed" for distro.
    pocket: str
    # The configured value when it named an older series and was carried over to this one.
    carried_from: str = ""

    @property
    def needs_keyring(self) -> bool:
        return self.kind == "cloud"

    @property
    def cloud_pocket(self) -> str:
        """The Cloud Archive pocket, e.g. ``jammy-updates/caracal`` ("" for distro)."""
        return f"{self.series}-{self.pocket}/{self.release}" if self.kind == "cloud" else ""

    @property
    def source(self) -> str:
        """This origin as charmhelpers' ``add_source`` takes it (one spelling per pocket)."""
        if self.kind != "cloud":
            return self.value
        suffix = "/proposed" if self.pocket == "proposed" else ""
        return f"cloud:{self.series}-{self.release}{suffix}"

    def apt_files(self, arch: str) -> dict[str, str | None]:
        """The apt source and preference files this origin needs; None marks a file to remove.

        Every file any origin may write is listed, so switching origin removes the old ones.
        """
        files: dict[str, str | None] = {
            CLOUD_LIST: None,
            PROPOSED_LIST: None,
            PROPOSED_PREFERENCES: None,
        }
        if self.kind == "cloud":
            # Written by charmhelpers' add_source, which installs the keyring first.
            files[CLOUD_LIST] = CLOUD_LIST_CONTENT.format(self.cloud_pocket)
        elif self.pocket == "proposed":
            mirror = PRIMARY_ARCHIVE_URL if arch in _PRIMARY_ARCHES else PORTS_ARCHIVE_URL
            files[PROPOSED_LIST] = (
                f"# {self.series}-proposed ({self.value}), written by the octavia charm\n"
                f"deb {mirror} {self.series}-proposed main universe\n"
            )
            # -proposed is not preferred by default; the operator asked for it, so its
            # packages win as they would from -updates.
            files[PROPOSED_PREFERENCES] = (
                "# written by the octavia charm for openstack-origin distro-proposed\n"
                "Package: *\n"
                f"Pin: release a={self.series}-proposed\n"
                "Pin-Priority: 500\n"
            )
        return files


def parse_origin(value: str, series: str) -> Origin:
    """Parse ``value`` for a unit running Ubuntu ``series``; raise InvalidOrigin if unusable."""
    text = value.strip()
    if text in ("distro", ""):
        return Origin("distro", series, DISTRO_RELEASES.get(series, ""), "distro", "")
    if text == "distro-proposed":
        if series not in DISTRO_RELEASES:
            raise InvalidOrigin(
                f"distro-proposed needs a known Ubuntu series, not {shown(series)}"
            )
        return Origin(text, series, DISTRO_RELEASES[series], "distro", "proposed")
    match = _CLOUD.match(text)
    if not match:
        raise InvalidOrigin(
            f"openstack-origin {shown(value)} is not distro, distro-proposed or "
            "cloud:<series>-<release>[/updates|/proposed]"
        )
    origin_series = match["series"]
    release = match["release"] or match["release2"]
    pocket = match["pocket"] or match["pocket2"] or "updates"
    if pocket not in ("updates", "proposed"):
        raise InvalidOrigin(
            f"openstack-origin {shown(value)}: pocket {shown(pocket)} is not updates or proposed"
        )
    if origin_series not in CLOUD_RELEASES:
        raise InvalidOrigin(
            f"openstack-origin {shown(value)}: no Cloud Archive for {shown(origin_series)}"
        )
    if release not in CLOUD_RELEASES[origin_series]:
        known = ", ".join(CLOUD_RELEASES[origin_series])
        raise InvalidOrigin(
            f"openstack-origin {shown(value)}: {origin_series} has no Cloud Archive release "
            f"{shown(release)} (known: {known})"
        )
    if _older(origin_series, series) and release == DISTRO_RELEASES.get(series):
        # After a series upgrade: the new series' archive carries that release.
        kind = "distro-proposed" if pocket == "proposed" else "distro"
        return Origin(kind, series, release, "distro", "proposed" * (pocket == "proposed"), text)
    if origin_series != series:
        raise InvalidOrigin(
            f"openstack-origin {shown(value)} is for {origin_series}, "
            f"but this unit runs {series or 'an unknown series'}"
        )
    return Origin(text, series, release, "cloud", pocket)


def _older(series: str, than: str) -> bool:
    """Whether Ubuntu ``series`` comes before ``than`` (both known here)."""
    order = list(DISTRO_RELEASES)
    return series in order and than in order and order.index(series) < order.index(than)


def cloud_archive_pockets() -> dict[str, str]:
    """Every ``cloud:`` spelling charmhelpers accepts, mapped to its pocket, for CLOUD_RELEASES.

    Keys follow charmhelpers' own table: ``<release>``, ``<release>/updates``,
    ``<series>-<release>``, ``<series>-<release>/updates``, ``<series>-updates/<release>`` and
    the same three ``proposed`` forms.
    """
    pockets: dict[str, str] = {}
    for series, releases in CLOUD_RELEASES.items():
        for release in releases:
            for pocket in ("updates", "proposed"):
                target = f"{series}-{pocket}/{release}"
                spellings = [f"{release}/{pocket}", f"{series}-{release}/{pocket}", target]
                if pocket == "updates":
                    spellings += [release, f"{series}-{release}"]
                pockets.update(dict.fromkeys(spellings, target))
    return pockets


def openstack_releases() -> tuple[str, ...]:
    """The OpenStack releases this module knows, oldest first.

    Each series' own release, then its Cloud Archive ones: series are listed oldest first.
    """
    ordered: list[str] = []
    for series, own in DISTRO_RELEASES.items():
        for release in (own, *CLOUD_RELEASES.get(series, ())):
            if release not in ordered:
                ordered.append(release)
    return tuple(ordered)


def teach_charmhelpers(fetch_ubuntu: ModuleType) -> list[str]:
    """Register in ``charmhelpers.fetch.ubuntu`` the releases it does not know yet.

    ``add_source("cloud:<series>-<release>")`` checks the series against the unit's
    (``_verify_is_ubuntu_rel``), then looks the pocket up in ``CLOUD_ARCHIVE_POCKETS``;
    a bare ``<release>`` origin matches ``OPENSTACK_RELEASES`` and, for the series' own
    release, ``UBUNTU_OPENSTACK_RELEASE``. 1.2.1 knows none after yoga. Entries it has are
    kept; calling this again adds nothing. Returns the ``CLOUD_ARCHIVE_POCKETS`` keys added.
    """
    table: dict[str, str] = fetch_ubuntu.CLOUD_ARCHIVE_POCKETS
    added = {key: pocket for key, pocket in cloud_archive_pockets().items() if key not in table}
    table.update(added)
    known: tuple[str, ...] = fetch_ubuntu.OPENSTACK_RELEASES
    new = tuple(r for r in openstack_releases() if r not in known)
    if new:
        # A tuple: add_source reads the module attribute, so rebinding it is enough.
        setattr(fetch_ubuntu, "OPENSTACK_RELEASES", known + new)  # noqa: B010 - typed as ModuleType
    for series, release in DISTRO_RELEASES.items():
        fetch_ubuntu.UBUNTU_OPENSTACK_RELEASE.setdefault(series, release)
    return list(added)


def charmhelpers_fetch() -> ModuleType:
    """``charmhelpers.fetch``, taught the releases it lacks; imported here, on first use.

    charmhelpers.fetch takes about 0.4 s to import (distutils through setuptools), so only the
    code that changes packages or apt sources imports it.
    """
    from charmed_octavia.unit import distutils_version

    # Before charmhelpers: its hookenv imports distutils, which Python 3.12 lacks.
    distutils_version.install()
    import charmhelpers.fetch
    import charmhelpers.fetch.ubuntu

    teach_charmhelpers(charmhelpers.fetch.ubuntu)
    # charmhelpers.fetch re-exports the tuple; keep both names the same object.
    charmhelpers.fetch.OPENSTACK_RELEASES = charmhelpers.fetch.ubuntu.OPENSTACK_RELEASES
    return charmhelpers.fetch
