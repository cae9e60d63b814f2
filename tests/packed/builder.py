"""Building the charm as ``charmcraft pack`` does, here: charmcraft's own code from PyPI, its
destructive mode, one clean copy of the project per platform, and the target CPython.

charmcraft refuses to build for an Ubuntu base on another host, and builds in LXD otherwise;
this machine is Debian and has no LXD. So the build runs in a unit root (``tests.unit_root``)
whose ``os-release`` is the base's (the host check, answered) and whose ``python3`` is the
base's CPython (the charm builder makes the charm's venv with ``python3``, so the wheels and
native code are the base's). pip would choose manylinux wheels by this machine's glibc; a
``_manylinux`` module (PEP 600) in that interpreter's stdlib, in the unit root only, gives the
base's instead, so no wheel needs a newer glibc than the base has. charmcraft itself runs on
this machine's Python with Debian's python3-apt (its apt backend; python-apt is not on PyPI).
Everything else is charmcraft's:
the charm plugin, the strict dependency install from ``requirements-charm.txt``, dispatch,
the hooks and the zip.

Built charms are cached by the digest of the project's files and the tools, so an unchanged
tree is built once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.bases import Base, interpreter
from tests.lab.venv import cache_dir
from tests.unit_root import UnitRoot

ROOT = Path(__file__).resolve().parents[2]
CHARMCRAFT_VERSION = "4.5.0"
# The project must also load in the last charmcraft 3 (checked, not built with).
CHARMCRAFT_3_VERSION = "3.5.3"
# charmcraft's apt backend; Debian's, for this machine's python3.
SYSTEM_PYTHON = Path("/usr/bin/python3")
APT_MODULES = ("apt", "apt_pkg", "apt_inst")
DIST_PACKAGES = Path("/usr/lib/python3/dist-packages")


class BuildFailed(RuntimeError):
    """charmcraft pack failed; the message ends with its output."""


def charmcraft(version: str = CHARMCRAFT_VERSION) -> Path:
    """charmcraft from PyPI in a venv of this machine's python3, with python3-apt linked in."""
    home = cache_dir() / f"charmcraft-{version}"
    program = home / "bin" / "charmcraft"
    if program.exists():
        return program
    tmp = Path(tempfile.mkdtemp(prefix=f".{home.name}.", dir=home.parent))
    try:
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", tmp], check=True)
        subprocess.run(
            [tmp / "bin" / "pip", "install", "-q", f"charmcraft=={version}"],
            check=True,
        )
        site = Path(
            subprocess.run(
                [
                    tmp / "bin" / "python",
                    "-c",
                    "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        for name in APT_MODULES:
            # The package and its compiled modules (apt/, apt_pkg.cpython-311-....so).
            for found in [DIST_PACKAGES / name, *DIST_PACKAGES.glob(f"{name}.cpython-*.so")]:
                if found.exists() and not (site / found.name).exists():
                    (site / found.name).symlink_to(found)
        # The venv's scripts name its directory; it moves into place whole.
        for script in (tmp / "bin").iterdir():
            if script.is_file() and not script.is_symlink():
                data = script.read_bytes()
                script.write_bytes(data.replace(str(tmp).encode(), str(home).encode()))
        shutil.rmtree(home, ignore_errors=True)
        os.rename(tmp, home)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return program


# Not in the charm (.jujuignore) and not read by the build: left out of the copy and digest.
_NOT_BUILT = ("tests/", ".ci/")


def project_files(root: Path = ROOT) -> list[str]:
    """The project's files as a clean clone would have them (tracked, and new ones that git
    does not ignore) that the build reads, sorted."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    names = [n for n in listed.split("\0") if n and not n.startswith(_NOT_BUILT)]
    return sorted(n for n in names if (root / n).is_file())


def digest(base: Base, files: list[str], root: Path = ROOT) -> str:
    sha = hashlib.sha256(f"{CHARMCRAFT_VERSION} {base} {MANYLINUX}\n".encode())
    for name in files:
        sha.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return sha.hexdigest()[:20]


def _copy_project(files: list[str], dest: Path, root: Path = ROOT) -> None:
    for name in files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)


MANYLINUX = """\
# The base's glibc for pip's choice of manylinux wheels (PEP 600), written by the charm build.
def manylinux_compatible(tag_major, tag_minor, tag_arch):
    return tag_arch == "x86_64" and (tag_major, tag_minor) <= {glibc}
"""


def _stdlib(python: Path) -> str:
    return subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def pack(base: Base) -> Path:
    """The charm for ``base`` (built now unless this tree's is cached)."""
    files = project_files()
    out = cache_dir() / "charms" / digest(base, files)
    charm = out / base.charm_file
    if charm.exists():
        return charm
    program = charmcraft()
    python = interpreter(base.python)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="charm-build-", dir=cache_dir()) as tmp:
        work = Path(tmp)
        src = work / "project"
        _copy_project(files, src)
        unit = UnitRoot(work / "root")
        unit.as_ubuntu(base.version)
        unit.link("/usr/local/bin/python3", str(python))
        unit.put(f"{_stdlib(python)}/_manylinux.py", MANYLINUX.format(glibc=base.glibc))
        pip_cache = Path.home() / ".cache" / "pip"
        pip_cache.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": f"/usr/local/bin:{program.parent}:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(Path.home()),
            "LANG": "C.UTF-8",
        }
        argv = [str(program), "pack", "--destructive-mode", f"--platform={base.platform}"]
        done = unit.run(
            argv, env=env, cwd=str(src), check=False, timeout=1200, binds=[src, pip_cache]
        )
        built = src / base.charm_file
        if done.returncode != 0 or not built.exists():
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
            raise BuildFailed(f"charmcraft pack {base.platform} exited {done.returncode}:\n{tail}")
        shutil.move(built, charm)
    return charm
