"""The lifecycle's pieces without a charm: the release of an Octavia version, whether an origin
upgrades it, whether the schema is new enough, and pause/resume on a fake machine."""

from __future__ import annotations

import pytest
from charmed_octavia.unit import lifecycle
from charmed_octavia.unit.machine import SERVICES
from charmed_octavia.unit.origin import parse_origin

from tests.unit.fake_machine import FakeMachine


@pytest.mark.parametrize(
    ("version", "release"),
    [
        ("2:14.0.0-0ubuntu1~cloud0", "caracal"),
        ("1:13.0.0-0ubuntu1~cloud0", "bobcat"),
        ("10.1.0-0ubuntu1", "yoga"),
        ("2:16.0.0-0ubuntu1", "epoxy"),
        ("2:99.0.0-0ubuntu1", ""),
        ("unknown", ""),
        ("", ""),
    ],
)
def test_release_of_an_octavia_version(version, release):
    assert lifecycle.release_of(version) == release


@pytest.mark.parametrize(
    ("installed", "origin", "series", "available"),
    [
        ("2:13.0.0-0ubuntu1~cloud0", "cloud:jammy-caracal", "jammy", True),
        ("2:14.0.0-0ubuntu1~cloud0", "cloud:jammy-caracal", "jammy", False),
        ("2:14.0.0-0ubuntu1~cloud0", "cloud:jammy-bobcat", "jammy", False),  # a downgrade
        ("10.0.0-0ubuntu1", "cloud:jammy-zed", "jammy", True),
        ("2:14.0.0-0ubuntu1~cloud0", "cloud:jammy-caracal", "noble", False),  # carried over
        ("", "cloud:jammy-caracal", "jammy", False),  # nothing installed: an install
    ],
)
def test_upgrade_available(installed, origin, series, available):
    assert lifecycle.upgrade_available(installed, parse_origin(origin, series)) is available


@pytest.mark.parametrize(
    ("installed", "synced", "wait"),
    [
        ("2:14.0.0-0ubuntu1~cloud0", "2:13.0.0-0ubuntu1~cloud0", "caracal"),
        ("2:14.0.0-0ubuntu1~cloud0", "2:14.0.0-0ubuntu1~cloud0", ""),
        ("2:14.0.1-0ubuntu1", "2:14.0.0-0ubuntu1~cloud0", ""),  # same release
        ("2:13.0.0-0ubuntu1~cloud0", "2:14.0.0-0ubuntu1~cloud0", ""),  # older code runs on
        ("2:14.0.0-0ubuntu1", "unknown", ""),
        ("2:14.0.0-0ubuntu1", "", ""),  # not migrated at all: the caller's own wait
    ],
)
def test_schema_wait(installed, synced, wait):
    assert lifecycle.schema_wait(installed, synced) == wait


def test_pause_then_resume_on_a_machine(tmp_path):
    # Arrange
    machine = FakeMachine(tmp_path)
    machine.active.update(SERVICES)
    machine.enabled.update(SERVICES)

    # Act
    lifecycle.pause(machine)
    paused = (set(machine.active), set(machine.enabled), set(machine.masked))
    lifecycle.pause(machine)  # again: nothing more to do
    again = len(machine.calls)
    lifecycle.resume(machine)

    # Assert
    assert paused == (set(), set(), set(SERVICES))
    assert again == 3 * len(SERVICES)
    assert machine.masked == set()
    # Resume leaves enabling and starting to the reconcile (which knows of pacemaker).
    assert machine.enabled == set()
    assert machine.active == set()


def test_chosen_services_keep_the_charms_order_and_refuse_others():
    assert lifecycle.chosen_services("") == list(SERVICES)
    assert lifecycle.chosen_services(" apache2  octavia-worker ") == ["octavia-worker", "apache2"]
    with pytest.raises(ValueError, match="services: 'mysql nova-api' names no service"):
        lifecycle.chosen_services("apache2 mysql nova-api")
    with pytest.raises(ValueError, match="without control characters"):
        lifecycle.chosen_services("apache2\noctavia-worker")
