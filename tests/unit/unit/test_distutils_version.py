"""The distutils.version shim charmhelpers needs on Python 3.12."""

from __future__ import annotations

import sys

import pytest
from charmed_octavia.unit import distutils_version
from charmed_octavia.unit.distutils_version import LooseVersion


@pytest.mark.parametrize(
    ("lower", "higher"),
    [("2.9.42", "3.1"), ("3.6.1", "3.10"), ("3.6", "3.6.1"), ("2.9", "2.9.0"), ("1.0a", "1.0b")],
)
def test_versions_compare_part_by_part(lower, higher):
    assert LooseVersion(lower) < LooseVersion(higher)
    assert LooseVersion(higher) >= lower
    assert not LooseVersion(higher) <= LooseVersion(lower)


def test_equal_versions_are_equal():
    assert LooseVersion("3.6.1") == "3.6.1"
    assert hash(LooseVersion("3.6.1")) == hash(LooseVersion("3.6.1"))


def test_install_registers_the_shim_only_where_distutils_is_missing(monkeypatch):
    # Arrange: as on Python 3.12 with the venv on PYTHONPATH, distutils cannot be imported.
    monkeypatch.setitem(sys.modules, "distutils", None)
    monkeypatch.delitem(sys.modules, "distutils.version", raising=False)

    # Act
    needed = distutils_version.install()
    from distutils.version import LooseVersion as imported  # pyright: ignore

    # Assert
    assert needed is True
    assert imported is LooseVersion
    assert distutils_version.install() is False
