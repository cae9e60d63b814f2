"""The existing Octavia charm's leader settings, read through Juju's ``leader-get`` hook tool:
the boundary this charm crosses once, on its first hook after ``juju refresh --switch``.

ops has no API for leader settings (a Juju 2 feature the reactive charms use); the hook tool
is still there in every hook. Tests replace ``leader_get`` with a named fake.
"""

from __future__ import annotations

import json
import logging
import subprocess

logger = logging.getLogger(__name__)


def leader_get() -> dict[str, str]:
    """Every leader setting; empty when there are none or the hook tool is not there."""
    try:
        out = subprocess.run(
            ["leader-get", "--format=json"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError) as e:
        # Never the output: it holds the heartbeat key.
        logger.warning("leader settings not read (%s)", type(e).__name__)
        return {}
    try:
        settings = json.loads(out or "{}")
    except ValueError:
        logger.warning("leader settings not read (leader-get printed no JSON)")
        return {}
    if not isinstance(settings, dict):
        return {}
    return {str(k): str(v) for k, v in settings.items() if v is not None}
