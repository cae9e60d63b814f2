"""Outcomes shared by the idempotent create functions (created, reused, or a conflict), the
error for bad input, and how an error is told in one line."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

Action = Literal["created", "reused"]

# Characters that would start a new line in a log, a result or a file (C0 controls and DEL).
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# How much of a bad value a message quotes: enough to recognise it, never a 10 kB echo.
SHOWN_LIMIT = 64


class InvalidParameter(ValueError):
    """A value given by the operator is unusable; nothing was created or changed."""


class ConflictError(RuntimeError):
    """A resource with the same name or id exists and differs; nothing was changed."""

    def __init__(self, kind: str, name: str, differences: Sequence[str]) -> None:
        self.kind = kind
        self.name = name
        self.differences = list(differences)
        super().__init__(
            f"{kind} {shown(name)} already exists and differs: {'; '.join(self.differences)}"
        )


@dataclasses.dataclass(frozen=True)
class Ensured:
    """A resource that now exists as asked: ``action`` says whether this call created it."""

    kind: str
    id: str
    name: str
    action: Action
    attributes: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def created(self) -> bool:
        return self.action == "created"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "action": self.action,
            "attributes": dict(self.attributes),
        }


def differences(wanted: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """``field: existing X, wanted Y`` for every field whose value differs."""
    return [
        f"{key}: existing {actual.get(key)!r}, wanted {value!r}"
        for key, value in wanted.items()
        if actual.get(key) != value
    ]


def shown(value: object) -> str:
    """``value`` quoted for a message: its repr, cut to ``SHOWN_LIMIT`` characters."""
    text = repr(value)
    if len(text) <= SHOWN_LIMIT:
        return text
    return f"{text[: SHOWN_LIMIT - 1]}\u2026 ({len(str(value))} characters)"


def check_text(label: str, value: str, *, max_length: int = 255) -> str:
    """A free-text value (a description): a string of at most ``max_length`` characters on
    one line."""
    if not isinstance(value, str):
        raise InvalidParameter(f"{label} must be text, not {shown(value)}")
    if CONTROL.search(value):
        raise InvalidParameter(f"{label} must be one line without control characters")
    if len(value) > max_length:
        raise InvalidParameter(f"{label} is longer than {max_length} characters")
    return value


def check_name(kind: str, name: str, *, max_length: int = 255) -> str:
    """A resource's name: one line, no surrounding spaces. ``kind`` is what it names
    ("keypair") or the parameter that holds it ("lb-name")."""
    label = kind if kind.endswith("name") else f"{kind} name"
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter(f"{label} must not be empty")
    check_text(label, name, max_length=max_length)
    if name != name.strip():
        raise InvalidParameter(f"{label} {shown(name)} has leading or trailing spaces")
    return name


def describe_error(error: BaseException) -> str:
    """One line saying what went wrong: the message, and an openstacksdk error's details."""
    text = str(error).strip() or type(error).__name__
    details = getattr(error, "details", None)
    if details and str(details) not in text:
        text = f"{text}: {details}"
    return " ".join(text.split())


def redact(text: str, secrets: Sequence[str], mask: str = "***") -> str:
    """``text`` with every secret masked, also as it appears inside a URL (percent-quoted,
    with ``+`` for spaces) or in octavia.conf (``$`` doubled), longest first."""
    from urllib.parse import quote, quote_plus

    forms = set()
    for secret in secrets:
        if secret:
            forms.update(
                {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
                | {secret.replace("$", "$$")}
            )
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, mask)
    return text
