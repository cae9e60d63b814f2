"""How many mod_wsgi processes serve octavia-api, as charmhelpers' ``_calculate_workers``
computes a charm's workers from ``worker-multiplier``: the CPU count times the multiplier,
at least one; unset, twice the CPUs and at most four (pad.lv/1665270: a large host would
otherwise start dozens of API processes, each holding its own database pool)."""

from __future__ import annotations

DEFAULT_MULTIPLIER = 2
MAX_DEFAULT_WORKERS = 4
# Beyond charmhelpers, which takes any value: 64 per CPU is already far past any use, and a
# bound keeps a mistyped value from asking apache for millions of processes.
MAX_MULTIPLIER = 64


def api_processes(multiplier: float | None, cpus: int) -> int:
    """The processes for ``multiplier`` (None: unset) on ``cpus`` CPUs."""
    count = max(1, int(max(1, cpus) * (DEFAULT_MULTIPLIER if multiplier is None else multiplier)))
    return min(count, MAX_DEFAULT_WORKERS) if multiplier is None else count
