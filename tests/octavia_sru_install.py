"""``pip install .`` of this repository into a fresh venv, as a verifier does: the installed
``octavia-sru`` console script, for the tests that run it as a subprocess.

The repository's packaging inputs are copied to a folder of the test's first, so the build
(setuptools writes ``build/`` and ``*.egg-info`` beside the sources) never touches the tree
under test.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "actions.yaml", "lib")


def install(python: Path | str, where: Path) -> Path:
    """A venv made with ``python`` under ``where`` holding ``pip install`` of the repository;
    the path of its ``octavia-sru``."""
    source = where / "src"
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / name)
    venv = where / "venv"
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(source)],
        check=True,
        timeout=900,
        capture_output=True,
        text=True,
    )
    return venv / "bin" / "octavia-sru"


if __name__ == "__main__":  # python -m tests.octavia_sru_install DIR [PYTHON]
    print(install(sys.argv[2] if len(sys.argv) > 2 else sys.executable, Path(sys.argv[1])))
