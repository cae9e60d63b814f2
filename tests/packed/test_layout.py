"""What each packed charm holds: charmcraft's dispatch and hooks, the charm's code, library,
templates and amphora scripts as in the tree, and a venv with exactly the lock's packages for
the base's CPython."""

from __future__ import annotations

import zipfile
from pathlib import Path

import yaml
from packaging.utils import canonicalize_name

from tests.bases import BASES, Base
from tests.packed.test_lock import lock_pins

ROOT = Path(__file__).resolve().parents[2]
# What charmcraft's builder adds to the venv besides the lock (a recent pip for itself).
BUILDER_EXTRAS = {"pip"}


def _tree(directory: str, suffixes: tuple[str, ...]) -> dict[str, bytes]:
    base = ROOT / directory
    return {
        f"{directory}/{p.relative_to(base)}": p.read_bytes()
        for p in sorted(base.rglob("*"))
        if p.is_file() and p.suffix in suffixes and "__pycache__" not in p.parts
    }


def _charm(charms: dict[str, Path], base: Base) -> zipfile.ZipFile:
    return zipfile.ZipFile(charms[base.platform])


def _executable(info: zipfile.ZipInfo) -> bool:
    return bool((info.external_attr >> 16) & 0o111)


def test_dispatch_and_hooks_run_the_charm(charms, base):
    # Act
    with _charm(charms, base) as charm:
        dispatch = charm.read("dispatch").decode()
        infos = {i.filename: i for i in charm.infolist()}
        hooks = {n: charm.read(n).decode() for n in infos if n.startswith("hooks/")}

    # Assert
    assert "PYTHONPATH=lib:venv" in dispatch and "exec ./charm/charm.py" in dispatch
    assert _executable(infos["dispatch"]) and _executable(infos["charm/charm.py"])
    # The zip holds the hooks (links to dispatch in the build) as copies of it.
    assert set(hooks) == {"hooks/install", "hooks/start", "hooks/upgrade-charm"}
    assert all(text == dispatch and _executable(infos[h]) for h, text in hooks.items())


def test_code_templates_scripts_and_yaml_are_the_trees(charms, base):
    # Arrange
    wanted = {
        **_tree("charm", (".py",)),
        **_tree("lib", (".py", ".sh")),
        **_tree("templates", (".j2",)),
        **{n: (ROOT / n).read_bytes() for n in ("metadata.yaml", "config.yaml", "actions.yaml")},
    }

    # Act
    with _charm(charms, base) as charm:
        names = set(charm.namelist())
        packed = {n: charm.read(n) for n in wanted if n in names}

    # Assert
    assert "lib/charmed_octavia/amphora/scripts/collect.sh" in packed
    assert packed == wanted
    # Development files stay out; the charm's own lib is whole.
    for name in ("tox.ini", "pyproject.toml", "requirements.txt", "requirements-charm.txt"):
        assert name not in names
    assert not [n for n in names if n.startswith(("tests/", "parts/", "prime/", ".ci/"))]
    lib = {n for n in names if n.startswith("lib/") and not n.endswith("/")}
    assert lib - {n for n in lib if "__pycache__" in n} == set(_tree("lib", (".py", ".sh")))


def test_manifest_names_the_base(charms, base):
    with _charm(charms, base) as charm:
        manifest = yaml.safe_load(charm.read("manifest.yaml"))
    assert manifest["bases"] == [
        {"name": "ubuntu", "channel": base.version, "architectures": ["amd64"]}
    ]


def test_venv_holds_exactly_the_lock_for_the_bases_python(charms, base):
    # Arrange
    wanted = lock_pins(base.python)

    # Act
    with _charm(charms, base) as charm:
        names = charm.namelist()
    installed = {}
    for name in names:
        first = name.split("/")[1] if name.startswith("venv/") and name.count("/") > 1 else ""
        if first.endswith(".dist-info"):
            project, _, version = first[: -len(".dist-info")].rpartition("-")
            installed[canonicalize_name(project)] = version

    # Assert
    assert {n: installed.get(n) for n in wanted} == wanted
    assert set(installed) - set(wanted) <= BUILDER_EXTRAS


def test_native_code_is_built_for_the_bases_cpython(charms, base):
    # Act
    with _charm(charms, base) as charm:
        modules = [n for n in charm.namelist() if n.startswith("venv/") and n.endswith(".so")]
    others = {b.cp_tag for b in BASES} - {base.cp_tag}

    # Assert: cryptography's Rust, cffi, psutil, PyYAML... for this CPython or the stable ABI.
    assert any("cryptography/hazmat/bindings/_rust" in m for m in modules)
    assert all(base.cp_tag in m or ".abi3." in m for m in modules), modules
    assert not [m for m in modules if any(tag in m for tag in others)]


def test_both_platforms_were_built():
    assert [b.charm_file for b in BASES] == [
        "octavia_ubuntu@22.04-amd64.charm",
        "octavia_ubuntu@24.04-amd64.charm",
    ]


def _manylinux_glibc(tag: str) -> tuple[int, int] | None:
    """The glibc a wheel tag needs (manylinux_2_28_x86_64, manylinux2014_x86_64)."""
    legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
    platform = tag.split("-")[-1]
    for name, version in legacy.items():
        if platform.startswith(name + "_"):
            return version
    if platform.startswith("manylinux_"):
        major, minor = platform.split("_")[1:3]
        return int(major), int(minor)
    return None


def test_native_wheels_need_no_newer_glibc_than_the_base_has(charms, base):
    # Arrange
    with _charm(charms, base) as charm:
        wheels = {
            n.split("/")[1]: [
                line.split(":", 1)[1].strip()
                for line in charm.read(n).decode().splitlines()
                if line.startswith("Tag:")
            ]
            for n in charm.namelist()
            if n.startswith("venv/") and n.endswith(".dist-info/WHEEL")
        }

    # Act: a wheel loads if any of its tags' glibc is the base's or older.
    native = {name: tags for name, tags in wheels.items() if any("linux" in t for t in tags)}
    needs = {
        name: min(g for g in map(_manylinux_glibc, tags) if g is not None)
        for name, tags in native.items()
    }

    # Assert
    assert any(name.startswith("cryptography-") for name in needs)
    assert {n: g for n, g in needs.items() if g > base.glibc} == {}
