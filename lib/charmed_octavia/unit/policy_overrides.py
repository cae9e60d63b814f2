"""Policy overrides from the ``policyd-override`` resource, as charmhelpers' ``policyd`` takes
them for the existing charm (``use-policyd-override``).

The resource is a ZIP archive. Its ``.yaml`` and ``.yml`` files, wherever they are in it, are
the overrides: each must be one YAML mapping of policy names to rule strings, and their names
(without the extension) must differ. Each is written, re-serialised, as
``/etc/octavia/policy.d/<name>.yaml``, the directory oslo.policy reads by default; the charm
owns that directory: any other file in it is removed. Templates (``.j2``, ``.tmpl``,
``.tpl``) are refused, as charmhelpers refuses them from a charm without a template function,
and so are the keys it always refuses (``admin_required``, ``cloud_admin``). Other files in the
archive are ignored.

Unlike charmhelpers, which empties policy.d when the resource is bad, a bad archive changes
nothing: the files in place stay, and the status says what is wrong.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import yaml

from charmed_octavia.cloud.outcomes import shown
from charmed_octavia.unit.machine import POLICY_DIR, File

RESOURCE = "policyd-override"
OPTION = "use-policyd-override"
# charmhelpers' status prefixes (policyd_status_message_prefix).
PREFIX = "PO: "
BROKEN_PREFIX = "PO (broken): "
YAML_EXTENSIONS = (".yaml", ".yml")
TEMPLATE_EXTENSIONS = (".j2", ".tmpl", ".tpl")
ALWAYS_REFUSED_KEYS = ("admin_required", "cloud_admin")
# Policy files are a few kilobytes; the bounds keep a ZIP bomb from filling the unit's disk.
MAX_FILES = 64
MAX_FILE_BYTES = 1024 * 1024
MAX_TOTAL_BYTES = 8 * 1024 * 1024
# A name oslo.policy and an operator can both read, kept inside policy.d.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


class PolicyOverrideError(ValueError):
    """The resource is not a usable overrides archive; the message says why."""


@dataclass(frozen=True)
class Overrides:
    """What policy.d should hold: ``files`` by path; ``problem`` ("" none) when the option
    is set but the resource cannot be used (then nothing on disk changes)."""

    enabled: bool
    files: dict[str, File] = field(default_factory=dict)
    problem: str = ""


def parse(data: bytes) -> dict[str, File]:
    """The policy.d files the archive ``data`` holds, by path; PolicyOverrideError says why
    it cannot be used."""
    if not data:
        raise PolicyOverrideError("the resource is empty")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise PolicyOverrideError("the resource is not a ZIP archive") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        chosen: dict[str, zipfile.ZipInfo] = {}
        for member in members:
            name = PurePosixPath(member.filename.replace("\\", "/")).name
            stem, dot, ext = name.rpartition(".")
            ext = f"{dot}{ext}".lower()
            if ext in TEMPLATE_EXTENSIONS:
                raise PolicyOverrideError(f"{shown(member.filename)} is a template; not supported")
            if ext not in YAML_EXTENSIONS or not dot:
                continue
            if not _NAME.fullmatch(stem):
                raise PolicyOverrideError(f"{shown(member.filename)}: not a usable file name")
            if stem in chosen:
                raise PolicyOverrideError(f"{stem} is in the archive twice")
            chosen[stem] = member
        if not chosen:
            raise PolicyOverrideError("the archive holds no .yaml or .yml file")
        if len(chosen) > MAX_FILES:
            raise PolicyOverrideError(f"more than {MAX_FILES} policy files")
        files: dict[str, File] = {}
        total = 0
        for stem, member in sorted(chosen.items()):
            text = _read(archive, member)
            total += len(text)
            if total > MAX_TOTAL_BYTES:
                raise PolicyOverrideError(f"the policy files exceed {MAX_TOTAL_BYTES} bytes")
            rules = _rules(text, member.filename)
            path = f"{POLICY_DIR}/{stem}.yaml"
            content = yaml.safe_dump(rules, default_flow_style=False).encode()
            # Read by the API, which runs as octavia; written by the charm alone.
            files[path] = File(path, content, mode=0o640, owner="root", group="octavia")
        return files


def _read(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    # file_size is the archive's own claim: read one byte past the bound to catch a lie.
    try:
        with archive.open(member) as stream:
            text = stream.read(MAX_FILE_BYTES + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as e:
        # CRC errors, encrypted members, unsupported compression.
        raise PolicyOverrideError(f"{shown(member.filename)} cannot be read: {e}") from None
    if len(text) > MAX_FILE_BYTES:
        raise PolicyOverrideError(f"{shown(member.filename)} exceeds {MAX_FILE_BYTES} bytes")
    return text


def _rules(text: bytes, filename: str) -> dict[str, str]:
    """One override file's mapping of policy names to rules, checked as charmhelpers'
    ``read_and_validate_yaml``."""
    where = shown(filename)
    try:
        doc = yaml.safe_load(text)
    except (yaml.YAMLError, UnicodeDecodeError):
        raise PolicyOverrideError(f"{where} is not YAML") from None
    if not isinstance(doc, dict) or not doc:
        raise PolicyOverrideError(f"{where} is not a mapping of policy names to rules")
    if not all(isinstance(k, str) for k in doc):
        raise PolicyOverrideError(f"{where}: the policy names are not all strings")
    if not all(isinstance(v, str) for v in doc.values()):
        raise PolicyOverrideError(f"{where}: the rules are not all strings")
    refused = sorted(set(doc).intersection(ALWAYS_REFUSED_KEYS))
    if refused:
        raise PolicyOverrideError(f"{where}: {', '.join(refused)} cannot be overridden")
    return doc


def wanted(enabled: bool, resource: bytes | None, missing_reason: str = "") -> Overrides:
    """What policy.d should hold for the option and the resource's content (None: not
    attached; ``missing_reason`` then says why it could not be had)."""
    if not enabled:
        return Overrides(enabled=False)
    if resource is None:
        reason = missing_reason or "the resource is not attached"
        return Overrides(enabled=True, problem=f"{OPTION} is set but {RESOURCE}: {reason}")
    try:
        return Overrides(enabled=True, files=parse(resource))
    except PolicyOverrideError as e:
        return Overrides(enabled=True, problem=f"{RESOURCE}: {e}")


def changes(overrides: Overrides, present: list[str]) -> tuple[dict[str, File], list[str]]:
    """(files to write, paths to remove) to bring policy.d from ``present`` (its files) to
    ``overrides``; nothing while the overrides have a problem."""
    if overrides.problem:
        return {}, []
    return overrides.files, [p for p in present if p not in overrides.files]


def status_prefix(overrides: Overrides) -> str:
    """The prefix of the unit's status: "" without overrides."""
    if not overrides.enabled:
        return ""
    return BROKEN_PREFIX if overrides.problem else PREFIX
