"""openstack-origin parsing and the apt files it needs (caracal included)."""

from __future__ import annotations

import pytest
from charmed_octavia.origin import (
    CLOUD_LIST,
    PROPOSED_LIST,
    PROPOSED_PREFERENCES,
    InvalidOrigin,
    parse_origin,
)

UCA = "http://ubuntu-cloud.archive.canonical.com/ubuntu"


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("cloud:jammy-caracal", f"deb {UCA} jammy-updates/caracal main"),
        ("cloud:jammy-caracal/updates", f"deb {UCA} jammy-updates/caracal main"),
        ("cloud:jammy-caracal/proposed", f"deb {UCA} jammy-proposed/caracal main"),
        ("cloud:jammy-updates/caracal", f"deb {UCA} jammy-updates/caracal main"),
        ("cloud:jammy-proposed/caracal", f"deb {UCA} jammy-proposed/caracal main"),
        ("cloud:jammy-bobcat", f"deb {UCA} jammy-updates/bobcat main"),
        (" cloud:jammy-caracal ", f"deb {UCA} jammy-updates/caracal main"),
    ],
)
def test_cloud_origin_writes_the_cloud_archive_source(value, line):
    # Arrange / Act
    origin = parse_origin(value, "jammy")
    files = origin.apt_files("amd64")

    # Assert
    assert origin.kind == "cloud" and origin.needs_keyring
    assert origin.release == line.split("/")[-1].split()[0]
    content = files[CLOUD_LIST]
    assert content is not None and line + "\n" in content
    assert files[PROPOSED_LIST] is None and files[PROPOSED_PREFERENCES] is None


def test_distro_writes_no_source_and_removes_old_ones():
    # Arrange / Act
    origin = parse_origin("distro", "noble")

    # Assert
    assert (origin.kind, origin.release, origin.needs_keyring) == ("distro", "caracal", False)
    assert origin.apt_files("amd64") == {
        CLOUD_LIST: None,
        PROPOSED_LIST: None,
        PROPOSED_PREFERENCES: None,
    }


@pytest.mark.parametrize(
    ("arch", "mirror"),
    [
        ("amd64", "http://archive.ubuntu.com/ubuntu"),
        ("arm64", "http://ports.ubuntu.com/ubuntu-ports"),
    ],
)
def test_distro_proposed_adds_the_pocket_and_pins_it_like_updates(arch, mirror):
    # Arrange / Act
    files = parse_origin("distro-proposed", "noble").apt_files(arch)

    # Assert
    assert f"deb {mirror} noble-proposed main universe\n" in (files[PROPOSED_LIST] or "")
    prefs = files[PROPOSED_PREFERENCES] or ""
    assert "Pin: release a=noble-proposed\nPin-Priority: 500\n" in prefs
    assert files[CLOUD_LIST] is None


@pytest.mark.parametrize(
    ("value", "series", "message"),
    [
        ("cloud:jammy-caracal", "noble", "is for jammy, but this unit runs noble"),
        ("cloud:jammy-caracal", "", "is for jammy, but this unit runs an unknown series"),
        ("cloud:jammy-dalmatian", "jammy", "jammy has no Cloud Archive release 'dalmatian'"),
        ("cloud:bionic-queens", "bionic", "no Cloud Archive for 'bionic'"),
        ("cloud:jammy-caracal/staging", "jammy", "pocket 'staging' is not updates or proposed"),
        ("cloud:jammy", "jammy", "is not distro, distro-proposed or cloud:"),
        ("caracal", "jammy", "is not distro, distro-proposed or cloud:"),
        ("deb http://example.com/ubuntu jammy main", "jammy", "is not distro"),
        ("distro-proposed", "bookworm", "needs a known Ubuntu series"),
    ],
)
def test_invalid_origins_say_why(value, series, message):
    # Act
    with pytest.raises(InvalidOrigin) as err:
        parse_origin(value, series)

    # Assert
    assert message in str(err.value)


def test_every_noble_cloud_release_parses():
    # Act
    releases = [parse_origin(f"cloud:noble-{r}", "noble").release for r in ("dalmatian", "epoxy")]

    # Assert
    assert releases == ["dalmatian", "epoxy"]
