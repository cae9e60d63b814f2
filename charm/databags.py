"""Writing this unit's or application's side of a relation."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping


def update(data: MutableMapping[str, str], wanted: Mapping[str, str]) -> list[str]:
    """Write the keys of ``wanted`` whose value differs from ``data``'s (a key absent from
    ``data`` reads as ""); return the keys written. Each write is a ``relation-set`` call,
    and a hook with nothing changed makes none."""
    changed = [key for key, value in wanted.items() if data.get(key, "") != value]
    for key in changed:
        data[key] = wanted[key]
    return changed
