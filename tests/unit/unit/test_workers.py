"""The API's mod_wsgi processes, as charmhelpers' _calculate_workers counts workers."""

from __future__ import annotations

import pytest
from charmed_octavia.unit import workers


@pytest.mark.parametrize(
    ("multiplier", "cpus", "wanted"),
    [
        (None, 1, 2),  # unset: twice the CPUs ...
        (None, 2, 4),
        (None, 16, 4),  # ... at most 4
        (0.25, 16, 4),  # set: CPUs x multiplier, not capped
        (0.25, 2, 1),  # at least one
        (0.0, 8, 1),  # an explicit 0 is one worker, not the unset default
        (1.5, 3, 4),  # truncated, as int()
        (4.0, 16, 64),
    ],
)
def test_api_processes(multiplier, cpus, wanted):
    # Act
    found = workers.api_processes(multiplier, cpus)

    # Assert
    assert found == wanted
