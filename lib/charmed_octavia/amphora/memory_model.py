"""How much memory haproxy's TLS session cache takes, and whether a reload fits.

Octavia renders ``tune.ssl.cachesize`` for TERMINATED_HTTPS listeners from the amphora's
memory report (``free + buffers + cached`` of /proc/meminfo, in KiB) and the global connection
limit (``maxconn``); read from octavia/common/jinja/haproxy/combined_listeners/jinja_cfg.py:

- octavia 14.0.x (and every release before the fix)::

      ssl_cache_mem_kb = (free + buffers + cached - 32 * maxconn) // 2
      if ssl_cache_mem_kb > 4000: tune.ssl.cachesize = ssl_cache_mem_kb * 5

- octavia 16.0.1 and 17.0.0+ (LP #2119987)::

      ssl_cache_mem_kb = (free + buffers + cached - 32 * maxconn) * 2 // 5
      if ssl_cache_mem_kb > 5000: tune.ssl.cachesize = ssl_cache_mem_kb * 4

haproxy maps the whole cache as one shared anonymous region of ``entries * 248`` bytes (200
bytes of session data plus a 48-byte ``struct shared_block``); the master touches every block
while it builds the free list, so the whole region is charged as shmem (``haproxy -c`` does
the same, so the agent's check of a new configuration also holds a second cache). A reload
(SIGUSR2) keeps the old worker, and its cache, until the new one is ready: two caches at once.
The reload peak counts two generations and Octavia's 32 KiB per connection of ``maxconn``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

# Measured with tests/bench/bench_cachesize_table.py on Debian 12's haproxy 2.6.12 (amd64):
# the worker's VSZ grows by exactly 248.0 bytes per tune.ssl.cachesize entry (484376 KiB for
# 2,000,000 entries); haproxy's own documentation says "about 200 bytes".
BYTES_PER_ENTRY = 248.0
BYTES_PER_ENTRY_SOURCE = (
    "haproxy 2.6.12 (Debian 12, amd64): worker VSZ delta per tune.ssl.cachesize entry, "
    "tests/bench/bench_cachesize_table.py"
)
# haproxy's default tune.ssl.cachesize when the configuration has none.
HAPROXY_DEFAULT_CACHESIZE = 20000
# Memory one generation (master + worker) is charged besides its cache: anon, kernel and page
# cache, measured as memory-cgroup usage minus shmem with Debian 12's haproxy 2.6.12 and a
# 20000-entry cache: 6664 KiB at maxconn 1562, 7332 KiB at maxconn 8000 (about 0.1 KiB per
# connection of maxconn), so about 12 MiB at Octavia's default 50000. The lab amphora confirms
# it: at 1 GiB (maxconn 1562) a generation is its cache plus about 7.5 MiB. (RSS reads about
# 19 MiB because it also counts the binary's and libraries' file pages, shared by every
# generation and mostly charged elsewhere.)
BASE_GENERATION_KB = 12 * 1024
# Octavia's own reservation per established connection (pair of sockets), in KiB.
CONNECTION_KB = 32

FormulaName = Literal["pre-fix", "post-fix", "haproxy-default", "unknown"]


@dataclasses.dataclass(frozen=True)
class Formula:
    name: FormulaName
    numerator: int
    denominator: int
    entries_per_kb: int
    floor_kb: int
    description: str


PRE_FIX = Formula("pre-fix", 1, 2, 5, 4000, "(free+buffers+cached - 32 KiB*maxconn) * 1/2, x5")
POST_FIX = Formula(
    "post-fix", 2, 5, 4, 5000, "(free+buffers+cached - 32 KiB*maxconn) * 2/5, x4, 5000 KiB floor"
)
FORMULAS = (PRE_FIX, POST_FIX)


def octavia_cachesize(formula: Formula, free_kb: int, maxconn: int) -> int | None:
    """``tune.ssl.cachesize`` Octavia renders, or ``None`` when it leaves haproxy's default.

    ``free_kb`` is free + buffers + cached from the amphora's /proc/meminfo.
    """
    cache_kb = (free_kb - CONNECTION_KB * maxconn) * formula.numerator // formula.denominator
    if cache_kb > formula.floor_kb:
        return cache_kb * formula.entries_per_kb
    return None


def cache_bytes(entries: int, bytes_per_entry: float = BYTES_PER_ENTRY) -> int:
    return int(entries * bytes_per_entry)


@dataclasses.dataclass(frozen=True)
class FormulaMatch:
    """Which formula explains a configured cache size, and the free memory it implies."""

    formula: FormulaName
    description: str
    implied_free_kb: int | None

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def identify_formula(cachesize: int | None, maxconn: int, memory_kb: int) -> FormulaMatch:
    """The formula that rendered ``cachesize`` on an amphora of ``memory_kb`` KiB.

    Each formula is inverted to the free memory it needs; a formula is possible when its
    multiple divides the size and the memory it implies fits in the amphora. Of the possible
    ones the most plausible implies the most free memory (an amphora renders its haproxy.cfg
    almost empty).
    """
    if cachesize is None:
        return FormulaMatch("haproxy-default", "no tune.ssl.cachesize: haproxy's 20000", None)
    best: tuple[float, Formula, int] | None = None
    for formula in FORMULAS:
        if cachesize % formula.entries_per_kb:
            continue
        cache_kb = cachesize // formula.entries_per_kb
        if cache_kb <= formula.floor_kb:
            continue
        implied = -(-cache_kb * formula.denominator // formula.numerator) + CONNECTION_KB * maxconn
        # 1% slack: MemTotal moves a little between the render and the check.
        if implied > memory_kb * 1.01:
            continue
        score = implied / memory_kb
        if best is None or score > best[0]:
            best = (score, formula, implied)
    if best is None:
        return FormulaMatch("unknown", "no Octavia formula gives this size here", None)
    _, formula, implied = best
    return FormulaMatch(formula.name, formula.description, implied)


@dataclasses.dataclass(frozen=True)
class MemoryAssessment:
    """One amphora's haproxy memory against its memory, all in KiB."""

    memory_kb: int
    cachesize: int
    maxconn: int
    bytes_per_entry: float
    cache_kb: int
    generation_kb: int
    connections_kb: int
    reload_peak_kb: int
    headroom_kb: int
    formula: FormulaMatch

    @property
    def at_risk(self) -> bool:
        return self.headroom_kb < 0

    def to_dict(self) -> dict[str, object]:
        data = dataclasses.asdict(self)
        data["at_risk"] = self.at_risk
        data["bytes_per_entry_source"] = BYTES_PER_ENTRY_SOURCE
        return data


def assess(
    memory_kb: int,
    cachesize: int | None,
    maxconn: int,
    *,
    bytes_per_entry: float = BYTES_PER_ENTRY,
    base_generation_kb: int = BASE_GENERATION_KB,
) -> MemoryAssessment:
    """Predict the reload peak: two generations (cache + base) plus Octavia's 32 KiB/conn."""
    if memory_kb <= 0:
        raise ValueError("memory_kb must be positive")
    entries = HAPROXY_DEFAULT_CACHESIZE if cachesize is None else cachesize
    cache_kb = -(-cache_bytes(entries, bytes_per_entry) // 1024)
    generation_kb = cache_kb + base_generation_kb
    connections_kb = CONNECTION_KB * maxconn
    peak_kb = 2 * generation_kb + connections_kb
    return MemoryAssessment(
        memory_kb=memory_kb,
        cachesize=entries,
        maxconn=maxconn,
        bytes_per_entry=bytes_per_entry,
        cache_kb=cache_kb,
        generation_kb=generation_kb,
        connections_kb=connections_kb,
        reload_peak_kb=peak_kb,
        headroom_kb=memory_kb - peak_kb,
        formula=identify_formula(cachesize, maxconn, memory_kb),
    )
