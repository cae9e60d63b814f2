"""How tests treat missing infrastructure: a skip outside CI, a failure naming it in CI."""

from __future__ import annotations

import pytest

from tests.infrastructure import require


def test_missing_infrastructure_fails_in_ci_naming_it(monkeypatch):
    # Arrange
    monkeypatch.setenv("CI", "true")

    # Act
    with pytest.raises(pytest.fail.Exception) as failed:
        require("haproxy is missing", "the lab amphora")

    # Assert
    assert "the lab amphora unavailable: haproxy is missing" in str(failed.value)


def test_missing_infrastructure_skips_outside_ci(monkeypatch):
    # Arrange
    monkeypatch.delenv("CI", raising=False)

    # Act / Assert
    with pytest.raises(pytest.skip.Exception, match="the lab unavailable: no mariadb"):
        require("no mariadb", "the lab")


def test_present_infrastructure_neither_skips_nor_fails(monkeypatch):
    monkeypatch.setenv("CI", "true")
    require(None, "the lab")
    require("", "the lab")
