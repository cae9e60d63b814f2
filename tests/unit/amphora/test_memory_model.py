"""The cache-size formulas of octavia 14.0.x and 16.0.1/17.x, and the reload model."""

from __future__ import annotations

from charmed_octavia.amphora import memory_model as mm

# The bug's amphora: 32 GiB, default connection limit 50000; its last table row shows the
# configured size 77416060 = 5 * 15483212, so free+buffers+cached was 32566424 KiB.
BUG_FREE_KB = 32566424
BUG_MEMORY_KB = 32 * 1024 * 1024


def test_pre_fix_formula_reproduces_the_bug_report():
    assert mm.octavia_cachesize(mm.PRE_FIX, BUG_FREE_KB, 50000) == 77416060


def test_post_fix_formula_is_two_fifths_times_four():
    assert mm.octavia_cachesize(mm.POST_FIX, BUG_FREE_KB, 50000) == (
        (BUG_FREE_KB - 32 * 50000) * 2 // 5 * 4
    )


def test_floors_leave_haproxy_default():
    # (free - 32*maxconn)//2 == 4000 is not above the pre-fix floor; 2/5 of 12500 is 5000.
    assert mm.octavia_cachesize(mm.PRE_FIX, 8000 + 32 * 10, 10) is None
    assert mm.octavia_cachesize(mm.PRE_FIX, 8002 + 32 * 10, 10) == 4001 * 5
    assert mm.octavia_cachesize(mm.POST_FIX, 12500 + 32 * 10, 10) is None


def test_the_bugs_amphora_is_at_risk_before_the_fix_and_fits_after():
    pre = mm.assess(BUG_MEMORY_KB, mm.octavia_cachesize(mm.PRE_FIX, BUG_FREE_KB, 50000), 50000)
    post = mm.assess(BUG_MEMORY_KB, mm.octavia_cachesize(mm.POST_FIX, BUG_FREE_KB, 50000), 50000)
    assert pre.at_risk and pre.formula.formula == "pre-fix"
    assert not post.at_risk and post.formula.formula == "post-fix"
    # 248 bytes per entry: 77416060 entries are 18.7 GB, two of them exceed 32 GiB.
    assert pre.cache_kb == -(-77416060 * 248 // 1024)
    assert pre.reload_peak_kb == 2 * (pre.cache_kb + mm.BASE_GENERATION_KB) + 32 * 50000


def test_identify_formula_inverts_both_and_refuses_impossible_sizes():
    for formula in mm.FORMULAS:
        for free in (1017700, 4_000_000, BUG_FREE_KB):
            size = mm.octavia_cachesize(formula, free, 1562)
            match = mm.identify_formula(size, 1562, int(free / 0.97))
            assert match.formula == formula.name, (formula.name, free)
            assert match.implied_free_kb is not None and abs(match.implied_free_kb - free) <= 2
    assert mm.identify_formula(None, 1562, 1 << 20).formula == "haproxy-default"
    assert mm.identify_formula(5 * 10**9, 1562, 1 << 20).formula == "unknown"


def test_bytes_per_entry_is_measured_and_sourced():
    assert mm.BYTES_PER_ENTRY == 248.0
    assert "bench_cachesize_table" in mm.BYTES_PER_ENTRY_SOURCE
