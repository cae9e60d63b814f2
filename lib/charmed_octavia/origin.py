"""The ``openstack-origin`` option: where the OpenStack packages come from.

Accepted values:

- ``distro``: the Ubuntu archive as the machine has it configured;
- ``distro-proposed``: also the series' ``-proposed`` pocket (SRU verification on Noble);
- ``cloud:<series>-<release>``, optionally with ``/updates`` or ``/proposed``, and the
  pocket spelling ``cloud:<series>-updates/<release>`` / ``cloud:<series>-proposed/<release>``:
  the Ubuntu Cloud Archive, whose key comes with the ``ubuntu-cloud-keyring`` package.

The series in a cloud origin must be the unit's own: the Cloud Archive only carries
releases built for that series.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Ubuntu Cloud Archive releases per series, and each series' own OpenStack release.
CLOUD_RELEASES: dict[str, tuple[str, ...]] = {
    "focal": ("victoria", "wallaby", "xena", "yoga"),
    "jammy": ("zed", "antelope", "bobcat", "caracal"),
    "noble": ("dalmatian", "epoxy", "flamingo"),
}
DISTRO_RELEASES: dict[str, str] = {"focal": "ussuri", "jammy": "yoga", "noble": "caracal"}

CLOUD_ARCHIVE_URL = "http://ubuntu-cloud.archive.canonical.com/ubuntu"
CLOUD_KEYRING_PACKAGE = "ubuntu-cloud-keyring"

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

    @property
    def needs_keyring(self) -> bool:
        return self.kind == "cloud"

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
            files[CLOUD_LIST] = (
                f"# Ubuntu Cloud Archive ({self.value}), written by the octavia charm\n"
                f"deb {CLOUD_ARCHIVE_URL} {self.series}-{self.pocket}/{self.release} main\n"
            )
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
            raise InvalidOrigin(f"distro-proposed needs a known Ubuntu series, not {series!r}")
        return Origin(text, series, DISTRO_RELEASES[series], "distro", "proposed")
    match = _CLOUD.match(text)
    if not match:
        raise InvalidOrigin(
            f"openstack-origin {value!r} is not distro, distro-proposed or "
            "cloud:<series>-<release>[/updates|/proposed]"
        )
    origin_series = match["series"]
    release = match["release"] or match["release2"]
    pocket = match["pocket"] or match["pocket2"] or "updates"
    if pocket not in ("updates", "proposed"):
        raise InvalidOrigin(
            f"openstack-origin {value!r}: pocket {pocket!r} is not updates or proposed"
        )
    if origin_series not in CLOUD_RELEASES:
        raise InvalidOrigin(f"openstack-origin {value!r}: no Cloud Archive for {origin_series!r}")
    if release not in CLOUD_RELEASES[origin_series]:
        known = ", ".join(CLOUD_RELEASES[origin_series])
        raise InvalidOrigin(
            f"openstack-origin {value!r}: {origin_series} has no Cloud Archive release "
            f"{release!r} (known: {known})"
        )
    if origin_series != series:
        raise InvalidOrigin(
            f"openstack-origin {value!r} is for {origin_series}, "
            f"but this unit runs {series or 'an unknown series'}"
        )
    return Origin(text, series, release, "cloud", pocket)
