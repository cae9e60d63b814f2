"""Outcomes shared by the idempotent create functions (created, reused, or a conflict), the
error for bad input, and how an error is told in one line."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Literal

Action = Literal["created", "reused"]


class InvalidParameter(ValueError):
    """A value given by the operator is unusable; nothing was created or changed."""


class ConflictError(RuntimeError):
    """A resource with the same name or id exists and differs; nothing was changed."""

    def __init__(self, kind: str, name: str, differences: Sequence[str]) -> None:
        self.kind = kind
        self.name = name
        self.differences = list(differences)
        super().__init__(
            f"{kind} {name!r} already exists and differs: {'; '.join(self.differences)}"
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


def check_name(kind: str, name: str, *, max_length: int = 255) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter(f"{kind} name must not be empty")
    if name != name.strip():
        raise InvalidParameter(f"{kind} name {name!r} has leading or trailing spaces")
    if len(name) > max_length:
        raise InvalidParameter(f"{kind} name is longer than {max_length} characters")
    return name


def describe_error(error: BaseException) -> str:
    """One line saying what went wrong: the message, and an openstacksdk error's details."""
    text = str(error).strip() or type(error).__name__
    details = getattr(error, "details", None)
    if details and str(details) not in text:
        text = f"{text}: {details}"
    return " ".join(text.split())
