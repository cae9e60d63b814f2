"""The lab's virtualenv: the OpenStack 2024.1 (Caracal) servers from PyPI, pinned and cached.

Built once per pin set under ``${LAB_CACHE_DIR:-~/.cache/charmed-octavia}/venv-<hash>``; the
build happens in a temporary directory renamed into place, so a concurrent caller either sees
a complete venv or builds its own and loses the rename race harmlessly.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONSTRAINTS = HERE / "constraints.txt"

# The servers themselves; everything else comes from constraints.txt.
SERVERS = (
    "keystone==25.0.0",
    "barbican==18.0.0",
    "nova==29.4.0",
    "octavia==14.0.2",
    "neutron==24.2.2",
    "glance==28.1.0",
    "openstack-placement==11.0.0",
    "gunicorn",
    "PyMySQL",
    "python-memcached",
    # pkg_resources is still imported by some of the servers' dependencies.
    "setuptools<81",
)

# Imported after the build to prove the venv works; a failure discards the build. Glance and
# Neutron both register oslo.config's socket options: each is imported in its own process.
SMOKE_IMPORTS = (
    "import octavia.opts, keystone, barbican, nova, gunicorn, pymysql, "
    "neutron.plugins.ml2.drivers.ovn.mech_driver.mech_driver",
    "import glance.common.wsgi_app, glance_store",
    "import placement.wsgi",
)

BASE_PYTHON_ENV = "LAB_PYTHON"


class VenvError(RuntimeError):
    """The lab's virtualenv could not be built."""


def cache_dir() -> Path:
    configured = os.environ.get("LAB_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "charmed-octavia"


def base_python() -> str:
    """The interpreter the venv is made from (the servers need Python 3.11+)."""
    return os.environ.get(BASE_PYTHON_ENV) or shutil.which("python3") or sys.executable


def _python_version(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def pins_key(python_version: str) -> str:
    digest = hashlib.sha256()
    digest.update(python_version.encode())
    digest.update("\n".join(SERVERS).encode())
    digest.update(CONSTRAINTS.read_bytes())
    return digest.hexdigest()[:16]


def venv_path() -> Path:
    """Where the venv for the current pins lives (it may not be built yet)."""
    return cache_dir() / f"venv-{pins_key(_python_version(base_python()))}"


def _is_complete(root: Path) -> bool:
    return (root / ".complete").is_file() and (root / "bin" / "python").exists()


def ensure_venv() -> Path:
    """Return the root of the lab venv, building it first if needed."""
    python = base_python()
    version = _python_version(python)
    if tuple(int(p) for p in version.split(".")) < (3, 11):
        raise VenvError(f"the lab's servers need Python 3.11+, {python} is {version}")
    root = cache_dir() / f"venv-{pins_key(version)}"
    if _is_complete(root):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    # One builder at a time per cache; others wait and then find the venv complete.
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_complete(root):
            return root
        _build(python, root)
    return root


def _build(python: str, root: Path) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        log = tmp.with_suffix(".log")
        with open(log, "w") as out:

            def run(*args: str) -> None:
                proc = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, check=False)
                if proc.returncode != 0:
                    out.flush()
                    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
                    raise VenvError(f"{' '.join(args[:4])} ... failed:\n{tail}")

            # Scripts embed the venv's absolute path; _fix_shebangs rewrites them to the
            # final path before the rename.
            run(python, "-m", "venv", str(tmp))
            pip = [str(tmp / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
            run(*pip, "install", "-q", "--upgrade", "pip<25")
            run(*pip, "install", "-q", "-c", str(CONSTRAINTS), *SERVERS)
            for imports in SMOKE_IMPORTS:
                run(str(tmp / "bin" / "python"), "-c", imports)
        _fix_shebangs(tmp, root)
        (tmp / ".complete").write_text("\n".join(SERVERS) + "\n")
        if root.exists():
            shutil.rmtree(root)
        os.rename(tmp, root)
        log.unlink(missing_ok=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _fix_shebangs(tmp: Path, root: Path) -> None:
    """Point console scripts and activation scripts at the final location."""
    old, new = str(tmp).encode(), str(root).encode()
    for script in (tmp / "bin").iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        data = script.read_bytes()
        if old in data:
            script.write_bytes(data.replace(old, new))


if __name__ == "__main__":
    print(ensure_venv())
