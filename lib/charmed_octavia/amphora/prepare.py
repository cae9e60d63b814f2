"""The test plan's amphora preparation: systemd's default start and stop timeouts set to
infinity, then one ``daemon-reload`` (``scripts/prepare.sh``; nothing changes the second time).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from charmed_octavia.amphora.fanout import Job, load_script, run_all
from charmed_octavia.amphora.results import AmphoraResult

if TYPE_CHECKING:
    from charmed_octavia.amphora.discovery import Amphora
    from charmed_octavia.amphora.ssh import CommandResult, SSHSettings

# Idempotent: daemon-reload only when the file changed; exit 2 (edit) or 3 (reload) on failure.
PREPARE_SCRIPT = load_script("prepare.sh")
_FAILED_STEP = {2: "editing /etc/systemd/system.conf", 3: "systemctl daemon-reload"}


def _handle(result: AmphoraResult, output: CommandResult) -> None:
    match = re.search(r"^@@changed (\d)$", output.stdout, re.M)
    if output.exit_status == 0 and match:
        result.changed = match.group(1) == "1"
        result.verdict = "ok"
        result.reason = (
            "DefaultTimeoutStartSec/DefaultTimeoutStopSec set to infinity; systemd reloaded"
            if result.changed
            else "already prepared; nothing changed"
        )
        return
    step = _FAILED_STEP.get(output.exit_status or 0, "the preparation script")
    result.verdict = "error"
    result.reason = (
        f"{step} failed (exit {output.exit_status}): "
        f"{output.stderr.strip()[-300:] or 'no error output'}"
    )


def prepare_amphorae(
    amphorae: Iterable[Amphora],
    *,
    ssh: SSHSettings,
    concurrency: int = 10,
    timeout: float = 30.0,
) -> list[AmphoraResult]:
    """Set systemd's default start/stop timeouts to infinity and reload systemd (once)."""
    return run_all(amphorae, ssh, Job(PREPARE_SCRIPT, [], timeout, _handle), concurrency)
