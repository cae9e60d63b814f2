"""openstack-origin parsing and the apt files it needs (caracal included)."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest
from charmed_octavia.unit import origin
from charmed_octavia.unit.origin import (
    CLOUD_LIST,
    PROPOSED_LIST,
    PROPOSED_PREFERENCES,
    InvalidOrigin,
    parse_origin,
)

from tests.unit.fake_machine import FakeApt, FakeAptBoundary

UCA = "http://ubuntu-cloud.archive.canonical.com/ubuntu"
REPO = Path(__file__).resolve().parents[3]


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
    ("value", "kind", "pocket"),
    [
        ("cloud:jammy-caracal", "distro", ""),
        ("cloud:jammy-updates/caracal", "distro", ""),
        ("cloud:jammy-caracal/proposed", "distro-proposed", "proposed"),
    ],
)
def test_older_series_origin_of_the_new_series_release_becomes_its_distro(value, kind, pocket):
    # Act: after a series upgrade from Jammy, the option still names Jammy's Cloud Archive.
    got = parse_origin(value, "noble")

    # Assert
    assert (got.value, got.kind, got.release, got.pocket) == (kind, "distro", "caracal", pocket)
    assert got.carried_from == value.strip()
    assert got.apt_files("amd64")[CLOUD_LIST] is None  # the Jammy pocket goes away


@pytest.mark.parametrize(
    ("value", "series", "message"),
    [
        # Noble carries caracal, not bobcat: no series upgrade makes it a Noble origin.
        ("cloud:jammy-bobcat", "noble", "is for jammy, but this unit runs noble"),
        ("cloud:noble-dalmatian", "jammy", "is for noble, but this unit runs jammy"),
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


# -- charmhelpers 1.2.1 and the releases it does not know ------------------------------------


@pytest.fixture
def installed_charmhelpers():
    """``charmhelpers.fetch.ubuntu`` with the tables the installed package ships.

    Re-executing the module drops what ``teach_charmhelpers`` added before; the library
    teaches it again on its next use.
    """
    import charmhelpers.fetch.ubuntu

    module = importlib.reload(charmhelpers.fetch.ubuntu)
    yield module
    importlib.reload(charmhelpers.fetch.ubuntu)


@pytest.fixture
def apt_root(tmp_path) -> FakeAptBoundary:
    """A jammy unit's /etc under tmp_path, with charmhelpers' apt and dpkg faked."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "lsb-release").write_text("DISTRIB_ID=Ubuntu\nDISTRIB_CODENAME=jammy\n")
    return FakeAptBoundary(tmp_path, FakeApt([], {}))


def test_installed_charmhelpers_is_1_2_1_and_rejects_jammy_caracal(
    installed_charmhelpers, apt_root
):
    # Arrange
    import charmhelpers.fetch

    # Act
    with apt_root.active(), pytest.raises(charmhelpers.fetch.SourceConfigError) as err:
        charmhelpers.fetch.add_source("cloud:jammy-caracal", fail_invalid=True)

    # Assert
    assert importlib.metadata.version("charmhelpers") == "1.2.1"
    assert str(err.value) == "Unsupported cloud: source option jammy-caracal"
    # 1.2.1 installs the keyring before it looks the pocket up, then writes nothing.
    assert apt_root.apt.calls == [("apt-install", "ubuntu-cloud-keyring")]
    assert not (apt_root.root / CLOUD_LIST.lstrip("/")).exists()
    assert "caracal" not in installed_charmhelpers.OPENSTACK_RELEASES
    assert "noble" not in installed_charmhelpers.UBUNTU_OPENSTACK_RELEASE


def test_teaching_charmhelpers_resolves_caracal_and_keeps_what_it_knew(installed_charmhelpers):
    # Arrange
    pockets = installed_charmhelpers.CLOUD_ARCHIVE_POCKETS
    known_before = dict(pockets)

    # Act
    added = origin.teach_charmhelpers(installed_charmhelpers)
    added_again = origin.teach_charmhelpers(installed_charmhelpers)

    # Assert
    assert pockets["jammy-caracal"] == "jammy-updates/caracal"
    assert pockets["jammy-caracal/updates"] == "jammy-updates/caracal"
    assert pockets["jammy-updates/caracal"] == "jammy-updates/caracal"
    assert pockets["jammy-caracal/proposed"] == "jammy-proposed/caracal"
    assert pockets["jammy-proposed/caracal"] == "jammy-proposed/caracal"
    assert pockets["noble-epoxy"] == "noble-updates/epoxy"
    assert {k: pockets[k] for k in known_before} == known_before
    assert "jammy-caracal" in added and "focal-yoga" not in added
    assert added_again == []
    releases = installed_charmhelpers.OPENSTACK_RELEASES
    assert releases[releases.index("yoga") :] == (
        "yoga",
        "zed",
        "antelope",
        "bobcat",
        "caracal",
        "dalmatian",
        "epoxy",
        "flamingo",
    )
    assert installed_charmhelpers.UBUNTU_OPENSTACK_RELEASE["noble"] == "caracal"


@pytest.mark.parametrize(
    "value",
    [
        "cloud:jammy-caracal",
        "cloud:jammy-caracal/proposed",
        "cloud:jammy-updates/caracal",
        "cloud:jammy-proposed/caracal",
        "cloud:jammy-bobcat",
    ],
)
def test_real_add_source_installs_the_keyring_then_writes_what_the_origin_expects(apt_root, value):
    # Arrange
    parsed = parse_origin(value, "jammy")
    fetch = origin.charmhelpers_fetch()

    # Act
    with apt_root.active():
        fetch.add_source(parsed.source, fail_invalid=True)

    # Assert
    written = (apt_root.root / CLOUD_LIST.lstrip("/")).read_text()
    assert written == parsed.apt_files("amd64")[CLOUD_LIST]
    assert f"deb {UCA} {parsed.cloud_pocket} main\n" in written
    assert apt_root.apt.calls == [("apt-install", "ubuntu-cloud-keyring"), ("write", CLOUD_LIST)]


def test_real_add_source_refuses_another_series_cloud_archive(apt_root):
    # Arrange: the unit runs noble; charmhelpers checks the series itself too.
    (apt_root.root / "etc" / "lsb-release").write_text("DISTRIB_CODENAME=noble\n")
    fetch = origin.charmhelpers_fetch()

    # Act
    with apt_root.active(), pytest.raises(fetch.SourceConfigError, match="jammy-caracal"):
        fetch.add_source("cloud:jammy-caracal", fail_invalid=True)

    # Assert
    assert apt_root.apt.calls == []
    assert not (apt_root.root / CLOUD_LIST.lstrip("/")).exists()


def test_every_cloud_spelling_maps_to_its_own_series_pocket():
    # Act
    pockets = origin.cloud_archive_pockets()

    # Assert
    for key, pocket in pockets.items():
        series, _, release = pocket.partition("/")
        assert release in key and release in origin.CLOUD_RELEASES[series.split("-")[0]]
        assert series.endswith("-proposed") == ("proposed" in key)


def test_charm_import_loads_no_charmhelpers_and_fetch_never_loads_network_ip():
    # Arrange: a fresh interpreter, as a hook starts one.
    code = (
        "import json, sys; sys.path[:0] = ['charm', 'lib']; import charm\n"
        "loaded = lambda: sorted(m for m in sys.modules if m.startswith('charmhelpers'))\n"
        "at_import = loaded()\n"
        "import charmhelpers.osplatform as p; p.get_platform = lambda: 'ubuntu'\n"
        "from charmed_octavia.unit import origin; origin.charmhelpers_fetch()\n"
        "print(json.dumps([at_import, loaded()]))\n"
    )

    # Act
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )

    # Assert
    at_import, after_fetch = json.loads(result.stdout.splitlines()[-1])
    assert at_import == []
    assert "charmhelpers.fetch.ubuntu" in after_fetch
    # It runs apt-get at import when netifaces is missing.
    assert "charmhelpers.contrib.network.ip" not in after_fetch
