"""Files the lab writes and reads: INI configuration, private (0600) files, log tails, and the
shell programs it installs from templates (standard library only: the lab amphora's driver,
loaded by the lab's octavia-worker, imports this module in the lab venv).
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from pathlib import Path

Sections = dict[str, dict[str, str]]


def write_private(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path``, created with ``mode`` (never readable by others first)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def write_ini(path: Path, sections: Mapping[str, Mapping[str, str]], mode: int = 0o600) -> None:
    """An INI file of ``sections`` (``DEFAULT`` included), option names kept as given."""
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # type: ignore[assignment]  # keep option case
    for section, options in sections.items():
        if section != "DEFAULT" and not parser.has_section(section):
            parser.add_section(section)
        for key, value in options.items():
            parser.set(section, key, value)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        parser.write(f)


def read_ini(path: Path) -> Sections:
    """The sections of an INI file written by ``write_ini`` (``DEFAULT`` included)."""
    # No default section: DEFAULT reads as a section of its own, not into every other.
    parser = configparser.RawConfigParser(default_section="\0")
    parser.optionxform = str  # type: ignore[assignment]  # keep option case
    parser.read(path)
    return {section: dict(parser.items(section)) for section in parser.sections()}


def merge_sections(base: Sections, extra: Mapping[str, Mapping[str, str]] | None) -> Sections:
    """``base`` with the options of ``extra`` added or replaced, section by section."""
    merged = {k: dict(v) for k, v in base.items()}
    for section, options in (extra or {}).items():
        merged.setdefault(section, {}).update({k: str(v) for k, v in options.items()})
    return merged


def tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a log (read from its last 64 KiB)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(data.splitlines()[-lines:])


def fill_template(path: Path, substitutions: Mapping[str, str]) -> str:
    """The text of ``path`` with each ``__PLACEHOLDER__`` key replaced, in the given order."""
    text = path.read_text()
    for placeholder, value in substitutions.items():
        text = text.replace(placeholder, value)
    return text


def write_executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)
