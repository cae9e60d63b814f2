"""The lab amphora's three templaters (tests/lab/amphora/releases.py) on their own: the
LP #2119987 patch applies cleanly to the lab venv's octavia 14.0.2, the patched copy differs
from the package in that one file, and Octavia's templater gives the vulnerable cache size
unpatched and the fixed one patched (the same as 17.0.1's). Needs the lab venv, not the lab."""

from __future__ import annotations

import filecmp
import re
import shutil
from pathlib import Path

import pytest

from tests.infrastructure import require
from tests.lab.amphora import haproxy, releases

CONNECTION_LIMIT = 1562  # the 1 GiB lab amphora's: 32 KiB each, 49984 KiB in all


@pytest.fixture(scope="module")
def octavia_14() -> Path:
    require(
        None if Path(releases.PATCH_TOOL).exists() else f"{releases.PATCH_TOOL} is missing",
        "patch (tests/setup-host.sh installs it)",
    )
    return releases.site_packages() / "octavia"


def test_the_lab_venv_has_octavia_14_0_2_as_released(octavia_14):
    # Act / Assert: the vulnerable side of the comparison is what the SRU patches.
    assert releases.vulnerable_release() == "14.0.2"
    assert releases.describe("vulnerable") == "vulnerable: octavia 14.0.2 as released"


def test_the_patch_applies_cleanly_to_octavia_14(octavia_14, tmp_path):
    # Arrange: the released file alone, at its place in the package.
    copy = tmp_path / releases.PATCHED_FILE
    copy.parent.mkdir(parents=True)
    shutil.copy(octavia_14.parent / releases.PATCHED_FILE, copy)

    # Act
    checked = releases.apply_patch(tmp_path, dry_run=True)

    # Assert: no fuzz, no offset, nothing but the one file.
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout == f"checking file {releases.PATCHED_FILE}\n"


def test_the_patched_copy_differs_from_the_package_in_jinja_cfg_alone(octavia_14):
    # Act
    patched = releases.patched_octavia_path()
    differing: list[str] = []

    def walk(cmp: filecmp.dircmp[str], prefix: str) -> None:
        differing.extend(f"{prefix}{name}" for name in cmp.diff_files + cmp.left_only)
        differing.extend(f"{prefix}{name}" for name in cmp.right_only)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(octavia_14, patched / "octavia", ignore=["__pycache__"]), "octavia/")

    # Assert
    assert patched.name.startswith("octavia-14.0.2+lp2119987-ssl-cachesize-")
    assert differing == [releases.PATCHED_FILE]
    assert "* 2 // 5" in (patched / releases.PATCHED_FILE).read_text()
    assert releases.describe("fixed").startswith(
        "fixed: octavia 14.0.2 + tests/lab/amphora/patches/lp2119987-ssl-cachesize.patch "
        f"(upstream commit {releases.PATCH_COMMIT[:12]}"
    )


def _cachesize(free_kb: int, templater: str) -> int | None:
    spec = {
        "base_dir": "/var/lib/octavia",
        "lb_id": "lb",
        "project_id": "project",
        "vip": "127.0.0.1",
        "amphora_id": "amphora",
        "default_connection_limit": CONNECTION_LIMIT,
        "memory": {"total": 1 << 20, "free": free_kb, "buffers": 0, "cached": 0},
        "listeners": [
            {
                "id": "listener",
                "protocol": "TERMINATED_HTTPS",
                "port": 443,
                "connection_limit": -1,
                "cert_id": "cert",
                "pool_id": None,
            }
        ],
    }
    config = haproxy.run_templater(spec, templater)["config"]
    assert re.search(rf"^\s*maxconn {CONNECTION_LIMIT}$", config, re.M), config
    found = re.search(r"^\s*tune\.ssl\.cachesize (\d+)$", config, re.M)
    return int(found.group(1)) if found else None


@pytest.mark.parametrize(
    ("free_kb", "vulnerable", "fixed"),
    [
        # 950016 KiB left after the connections: half of it x 5, or 2/5 of it x 4.
        (1_000_000, 2_375_040, 1_520_024),
        # 10016 KiB left: half (5008) is above the old 4000 floor, 2/5 (4006) below the new
        # 5000 one: haproxy's default cache.
        (60_000, 25_040, None),
    ],
)
def test_the_patched_templater_gives_the_fixed_size_and_the_released_one_the_vulnerable(
    octavia_14, free_kb, vulnerable, fixed
):
    # Act
    sizes = {t: _cachesize(free_kb, t) for t in releases.TEMPLATERS}

    # Assert: the patch is upstream's change: 17.0.1 renders the same size.
    assert sizes == {"vulnerable": vulnerable, "fixed": fixed, "upstream": fixed}
