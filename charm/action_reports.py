"""Full action reports as files, and results that fit what Juju carries.

One ``action-set`` argument holds at most 128 KiB, and a check of dozens of amphorae (or an
OOM task table) goes past it. Actions therefore save their whole report under the charm's
state directory (directory 0700, file 0600, root only: reports name hosts and kernel logs)
and return a summary, the report's path, and lists cut short (``commands.workspace.capped``).
"""

from __future__ import annotations

import datetime
import os
import secrets
from pathlib import Path


def save_report(directory: Path, action: str, text: str, suffix: str = "json") -> Path:
    """Write ``text`` as a new report of ``action``; its path."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dt%H%M%S")
    path = directory / f"{action}-{stamp}-{secrets.token_hex(3)}.{suffix}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path
