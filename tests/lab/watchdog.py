"""Stops a lab whose owner went away or whose time ran out.

Runs detached (its own session) with the system Python: ``python3 -m tests.lab.watchdog DIR
--ttl SECONDS [--owner-pid PID]``. It tears the lab down when the owner process dies (a
killed pytest), or when the TTL expires (a lab started from the command line and forgotten),
and exits when the lab directory disappears (after a normal ``down``), stopping whatever
process group of the lab would still be alive.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from tests.lab import procs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab-watchdog")
    parser.add_argument("lab_dir", type=Path)
    parser.add_argument("--ttl", type=float, required=True)
    parser.add_argument("--owner-pid", type=int, default=0)
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    deadline = time.monotonic() + args.ttl
    last_state: dict = {}
    while True:
        state = procs.read_state(args.lab_dir)
        if not state:
            # The directory went away: a normal down() already stopped everything; stop any
            # group still alive in case it was removed by other means.
            procs.stop_groups(procs.recorded_groups(last_state))
            return 0
        last_state = state
        owner_gone = args.owner_pid and not procs.pid_alive(args.owner_pid)
        if owner_gone or time.monotonic() > deadline:
            why = "owner exited" if owner_gone else f"TTL of {args.ttl:.0f}s expired"
            print(f"lab watchdog: {why}, stopping the lab in {args.lab_dir}", flush=True)
            procs.teardown_from_state(args.lab_dir)
            return 0
        time.sleep(1.0)


if __name__ == "__main__":
    sys.exit(main())
