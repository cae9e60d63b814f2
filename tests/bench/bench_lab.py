"""Benchmark of the lab: cold and warm bring-up, teardown, and the RSS of all its processes.

    .venv/bin/python -m tests.bench.bench_lab [--no-baseline]

The venv is built (or found) first and not counted. "cold" is the first bring-up in this
process, "warm" a second one right after the first went down (OS caches warm). The baseline,
measured in the same run, is the same bring-up with the set-up steps run one after another
instead of in parallel. Goals: cold bring-up <= 30 s on the 2-core machine, RSS <= 1.2 GiB.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from tests.lab.control import Lab
from tests.lab.venv import ensure_venv

GOAL_UP_S = 30.0
GOAL_RSS = 1.2 * 2**30


def one_run(label: str, parallel: bool = True) -> dict[str, float]:
    lab = Lab(parallel=parallel)
    t0 = time.monotonic()
    lab.up()
    up = time.monotonic() - t0
    try:
        # Let the servers finish their post-start work before sampling memory.
        time.sleep(2)
        rss = lab.rss_bytes()
        nprocs = len(lab.pids())
        phases = {k.split(":", 1)[1]: v for k, v in lab.timings.items() if k.startswith("phase:")}
    finally:
        t1 = time.monotonic()
        lab.down()
        down = time.monotonic() - t1
    order = ", ".join(f"{k} {v:.1f}" for k, v in sorted(phases.items(), key=lambda kv: kv[1]))
    print(
        f"{label:9} up {up:6.1f} s   down {down:5.1f} s   RSS {rss / 2**20:7.0f} MiB "
        f"in {nprocs} processes",
        flush=True,
    )
    print(f"{'':9} phases (s since start): {order}", flush=True)
    return {"up": up, "down": down, "rss": rss}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_lab")
    parser.add_argument("--no-baseline", action="store_true", help="skip the serial baseline")
    args = parser.parse_args(argv)

    t0 = time.monotonic()
    venv = ensure_venv()
    print(f"venv {venv} ready in {time.monotonic() - t0:.1f} s (not counted)")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")

    cold = one_run("cold")
    warm = one_run("warm")
    base = None if args.no_baseline else one_run("serial", parallel=False)

    print()
    print(
        f"cold bring-up   {cold['up']:6.1f} s  = "
        f"{cold['up'] / GOAL_UP_S:4.2f} x goal {GOAL_UP_S:.0f} s"
    )
    print(f"warm bring-up   {warm['up']:6.1f} s  = {warm['up'] / cold['up']:4.2f} x cold")
    print(f"teardown        {cold['down']:6.1f} s (cold), {warm['down']:.1f} s (warm)")
    peak = max(cold["rss"], warm["rss"])
    print(f"RSS             {peak / 2**30:6.2f} GiB = {peak / GOAL_RSS:4.2f} x goal 1.2 GiB")
    if base:
        print(
            f"serial baseline {base['up']:6.1f} s: "
            f"parallel cold = {cold['up'] / base['up']:4.2f} x baseline"
        )
    print(
        f"load average    {os.getloadavg()[0]:.2f} at end (other work on the machine skews times)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
