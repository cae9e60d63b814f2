"""What an action handler gets from the charm: plain values and a connection factory.

The handlers are in ``actions.py`` beside charm.py: ``HANDLERS`` maps each action name to
``handler(event, ctx)``. charm.py observes
every action named in actions.yaml and calls the handler with an ``ActionContext``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ops
    from charmed_octavia.unit.config import CharmConfig
    from openstack.connection import Connection

# Root-only state of the charm on the unit (amphora SSH key, known hosts, plan runs).
STATE_DIR = Path("/var/lib/charm-octavia")


@dataclasses.dataclass(frozen=True)
class ActionContext:
    """Everything an action needs from the charm, computed once per action event."""

    # The charm's validated config, as the reconcile uses it (amp_ssh_key_name is the keypair
    # name the rendered octavia.conf gives amphorae; openstack_origin where packages come from).
    config: CharmConfig
    # Opens an openstacksdk connection with the service credentials of the identity-service
    # relation; raises ``RuntimeError`` saying what is missing when the relation is not ready.
    connect: Callable[[], Connection]
    # Root-only directory for the amphora SSH private key and the known-hosts records.
    ssh_dir: Path
    # Root-only directory for test-plan run records (ids, created resources, reports).
    state_dir: Path
    # Root-only directory for the actions' full reports (action_reports.save_report).
    report_dir: Path
    # Path of the rendered octavia.conf.
    octavia_conf: Path
    # Ubuntu series of the unit ("jammy", "noble").
    series: str
    # Installed Octavia package versions, e.g. {"octavia-common": "1:14.0.0-0ubuntu1~cloud0"}.
    package_versions: Callable[[], Mapping[str, str]]


Handler = Callable[["ops.ActionEvent", ActionContext], None]
