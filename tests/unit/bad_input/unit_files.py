"""What is on the fake unit's disk, to tell whether a refused input changed anything."""

from __future__ import annotations

from pathlib import Path


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``root``: its mode and content."""
    return {
        str(path.relative_to(root)): (path.stat().st_mode, path.read_bytes())
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
