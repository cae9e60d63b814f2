"""The reconcile's machine steps that need no machine: which services a change restarts."""

from __future__ import annotations

from charmed_octavia.unit import machine
from charmed_octavia.unit.reconcile import changed_services


def test_readers_restart_only_what_reads_a_file():
    # Act / Assert
    assert changed_services([machine.APACHE_SITE], machine.READERS) == ["apache2"]
    assert changed_services([machine.ISSUING_CA_KEY], machine.READERS) == list(
        machine.CONTROLLER_SERVICES
    )
    assert changed_services([machine.OCTAVIA_CONF], machine.READERS) == list(machine.SERVICES)
    assert changed_services([], machine.READERS) == []
