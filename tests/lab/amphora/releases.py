"""The Octavia packages the lab amphora's templaters render ``haproxy.cfg`` with.

- ``vulnerable``: the lab venv's own octavia (14.0.2, Caracal), as released;
- ``fixed``: a copy of that same package with the upstream change for LP #2119987 applied
  (``patches/lp2119987-ssl-cachesize.patch``, one hunk of ``jinja_cfg.py``): what the SRU
  ships, so that the comparison with ``vulnerable`` differs in the fix alone;
- ``upstream``: octavia 17.0.1's whole package (a later release that has the fix, and more).

The copies live in the lab cache, unpacked or patched once: the patched one in a directory
named by the release and the patch's digest, so that a changed patch makes a new copy.

Standard library only: the lab amphora's driver uses these from the octavia-worker.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from tests.lab import venv as lab_venv

TEMPLATERS = ("vulnerable", "fixed", "upstream")
UPSTREAM_RELEASE = "17.0.1"
UPSTREAM_PIN = f"octavia=={UPSTREAM_RELEASE}"
HERE = Path(__file__).resolve().parent
PATCH = HERE / "patches" / "lp2119987-ssl-cachesize.patch"
PATCH_COMMIT = "cc3dd1abe3e23071662494786a5e5bddb3538e89"
PATCH_TITLE = "Reduce tune.ssl.cachesize for HTTPS terminating listeners"
PATCHED_FILE = "octavia/common/jinja/haproxy/combined_listeners/jinja_cfg.py"
PATCH_TOOL = "/usr/bin/patch"


def site_packages() -> Path:
    """The lab venv's site-packages (where its octavia is installed)."""
    found = sorted((lab_venv.ensure_venv() / "lib").glob("python3*/site-packages"))
    if not found:
        raise RuntimeError(f"no site-packages in the lab venv {lab_venv.ensure_venv()}")
    return found[0]


def vulnerable_release() -> str:
    """The version of the lab venv's octavia (what pip installed: 14.0.2)."""
    found = importlib.metadata.distributions(name="octavia", path=[str(site_packages())])
    return next(iter(found)).version


def _cache_dir(name: str) -> tuple[Path, Path]:
    target = lab_venv.cache_dir() / name
    target.parent.mkdir(parents=True, exist_ok=True)
    return target, target.parent


def _place(built: Path, target: Path) -> None:
    # Another process may have placed the same copy first: theirs is as good.
    try:
        built.rename(target)
    except OSError:
        if not (target / "octavia").is_dir():
            raise


def apply_patch(directory: Path, *, dry_run: bool = False) -> subprocess.CompletedProcess[str]:
    """``patch`` the octavia tree under ``directory`` with the LP #2119987 patch: strictly
    (no fuzz, never reversed), so that a hunk that no longer matches fails."""
    return subprocess.run(
        [
            PATCH_TOOL,
            *(["--dry-run"] if dry_run else []),
            "-p1",
            "--batch",
            "--forward",
            "--fuzz=0",
            "--no-backup-if-mismatch",
            "-d",
            str(directory),
            "-i",
            str(PATCH),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def patched_octavia_path() -> Path:
    """The lab venv's octavia with the patch applied: a copy in the lab cache, made once."""
    release = vulnerable_release()
    digest = hashlib.sha256(PATCH.read_bytes()).hexdigest()[:12]
    target, cache = _cache_dir(f"octavia-{release}+{PATCH.stem}-{digest}")
    if (target / "octavia" / "common").is_dir():
        return target
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        built = Path(tmp) / "tree"
        shutil.copytree(
            site_packages() / "octavia",
            built / "octavia",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        applied = apply_patch(built)
        if applied.returncode:
            raise RuntimeError(
                f"{PATCH.name} does not apply to octavia {release}: "
                f"{applied.stdout}{applied.stderr}"
            )
        _place(built, target)
    return target


def upstream_octavia_path() -> Path:
    """octavia 17.0.1's package, unpacked once from its wheel into the lab cache."""
    target, cache = _cache_dir(f"octavia-{UPSTREAM_RELEASE}")
    if (target / "octavia" / "common").is_dir():
        return target
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        python = lab_venv.ensure_venv() / "bin" / "python"
        subprocess.run(
            [str(python), "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, UPSTREAM_PIN],
            check=True,
        )
        wheel = next(Path(tmp).glob("octavia-*.whl"))
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(unpacked)
        _place(unpacked, target)
    return target


def check_templater(templater: str) -> None:
    if templater not in TEMPLATERS:
        raise ValueError(f"templater is one of {', '.join(TEMPLATERS)}, not {templater!r}")


def octavia_path(templater: str) -> Path | None:
    """The directory put first on ``sys.path`` to render with ``templater``'s octavia, or
    ``None`` for the lab venv's own (``vulnerable``)."""
    check_templater(templater)
    if templater == "fixed":
        return patched_octavia_path()
    if templater == "upstream":
        return upstream_octavia_path()
    return None


def describe(templater: str) -> str:
    """What ``templater`` renders with, for reports: release, and patch with its commit."""
    check_templater(templater)
    if templater == "upstream":
        return f"upstream: octavia {UPSTREAM_RELEASE} as released"
    release = vulnerable_release()
    if templater == "vulnerable":
        return f"vulnerable: octavia {release} as released"
    patch = PATCH.relative_to(HERE.parent.parent.parent)
    return (
        f"fixed: octavia {release} + {patch} (upstream commit {PATCH_COMMIT[:12]} "
        f'"{PATCH_TITLE}", LP #2119987)'
    )
