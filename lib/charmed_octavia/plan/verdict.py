"""The test plan's verdict, from the failed step (if any) and the typed amphora results.

- ``reproduced``: the kernel OOM-killer killed haproxy in an amphora of the plan's load
  balancer; also when a step after the load balancer (amphora preparation, listener, pool,
  reloads) failed: Octavia refuses a configuration the amphora cannot load, so that
  failure is the bug once the OOM check finds the kill (the reason names the step).
- ``fixed``: every amphora was checked, no OOM, and its tune.ssl.cachesize was rendered by
  the fixed formula (2/5, x4).
- ``not-reproduced``: every amphora was checked and no OOM was seen, but nothing shows the
  fixed formula (e.g. a small amphora, or the connection-limit workaround).
- ``at-risk``: no OOM seen, but the memory model predicts a reload peak above the memory.
- ``inconclusive``: the plan ran but the amphora check did not run or could not reach an
  amphora; the bug can be neither confirmed nor ruled out.
- ``failed``: a step failed and no OOM kill of haproxy explains it.
"""

from __future__ import annotations

from collections.abc import Sequence

from charmed_octavia.amphora.results import AmphoraResult

VERDICTS = ("reproduced", "fixed", "not-reproduced", "at-risk", "inconclusive", "failed")
# The steps after the load balancer whose failure can be the bug itself: the amphora refuses
# (or dies applying) a configuration it has no memory for. The OOM check still runs after them.
AMPHORA_CHANGE_STEPS = ("prepare-amphora", "listener", "pool", "reloads")


def _formulas(amphorae: Sequence[AmphoraResult]) -> set[str]:
    """The cache-size formulas (pre-fix, post-fix, ...) of every assessed haproxy.cfg."""
    return {c.formula for a in amphorae for c in a.configs if c.formula is not None}


def _no_kill_verdict(amphorae: Sequence[AmphoraResult]) -> tuple[str, str]:
    """The verdict when the check ran and no amphora shows haproxy OOM-killed."""
    others = [a for a in amphorae if a.verdict == "oom-seen"]
    if others:
        victims = sorted({str(e.victim_name) for a in others for e in a.oom_events})
        return (
            "inconclusive",
            f"the kernel OOM-killer struck in {len(others)} amphorae but killed "
            f"{', '.join(victims) or 'an unnamed process'}, not haproxy",
        )
    verdicts = [a.verdict for a in amphorae]
    if any(v in ("unreachable", "error") for v in verdicts):
        return "inconclusive", "no OOM in the amphorae checked, but not every amphora was checked"
    if any(v == "at-risk" for v in verdicts):
        return (
            "at-risk",
            "no OOM seen, but the configured tune.ssl.cachesize predicts a reload peak above "
            "the amphora's memory",
        )
    formulas = _formulas(amphorae)
    if formulas == {"post-fix"}:
        return (
            "fixed",
            "no OOM in any amphora and tune.ssl.cachesize was rendered by the fixed formula "
            "(2/5, x4)",
        )
    shown = ", ".join(sorted(formulas)) or "not identified"
    return "not-reproduced", f"no OOM in any amphora (cache-size formula: {shown})"


def decide_verdict(
    *,
    failed_step: str | None,
    failure: str | None,
    check_ran: bool,
    amphorae: Sequence[AmphoraResult],
) -> tuple[str, str]:
    """The verdict and a sentence that justifies it (see the module docstring)."""
    killed = [a for a in amphorae if a.verdict == "oom-seen" and a.haproxy_kills()]
    kills = sum(len(a.haproxy_kills()) for a in killed)
    oom = (
        f"the kernel OOM-killer killed haproxy ({kills} kill(s)) in {len(killed)} of "
        f"{len(amphorae)} amphorae"
    )
    if failed_step:
        if check_ran and killed and failed_step in AMPHORA_CHANGE_STEPS:
            return "reproduced", f"step {failed_step} failed ({failure}) and {oom}"
        return "failed", f"step {failed_step} failed: {failure}"
    if not check_ran:
        return (
            "inconclusive",
            "the plan's API steps passed but the amphora OOM check did not run, so the bug "
            "is neither confirmed nor ruled out",
        )
    if killed:
        return "reproduced", oom
    return _no_kill_verdict(amphorae)
