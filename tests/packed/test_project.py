"""The project as charmcraft 3 and 4 read it: both accept charmcraft.yaml and see the two
platforms (charmcraft 3 and 4 refuse the old ``bases`` for 24.04)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.bases import BASES
from tests.infrastructure import require
from tests.packed import builder


@pytest.mark.parametrize("version", [builder.CHARMCRAFT_3_VERSION, builder.CHARMCRAFT_VERSION])
def test_charmcraft_loads_the_project_with_both_platforms(version, tmp_path):
    # Arrange
    require(None if shutil.which("git") else "git is missing", "the project listing")
    program = builder.charmcraft(version)
    project = tmp_path / "project"
    for name in builder.project_files():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(builder.ROOT / name, project / name)

    # Act
    done = subprocess.run(
        [str(program), "expand-extensions"], cwd=project, capture_output=True, text=True
    )

    # Assert
    assert done.returncode == 0, done.stderr[-2000:]
    expanded = yaml.safe_load(done.stdout)
    assert sorted(expanded["platforms"]) == sorted(b.platform for b in BASES)
    assert expanded["parts"]["charm"]["charm-entrypoint"] == "charm/charm.py"
