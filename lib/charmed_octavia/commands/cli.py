"""``octavia-sru``: the charm's actions as commands on any machine with a cloud to talk to.

    octavia-sru [cloud options] COMMAND [parameters] [options]

Each COMMAND is an action of ``actions.yaml`` with the same parameters and defaults, run by the
same library function (``registry``). Progress goes to standard error as it happens, the
report to standard output (or ``--report``), and the exit status tells the verdict
(``cli_options.EPILOG``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from charmed_octavia.commands import cli_cloud, cli_options
from charmed_octavia.commands.cli_workspace import UsageError, make_workspace
from charmed_octavia.commands.registry import COMMANDS
from charmed_octavia.commands.workspace import Outcome

OK, FAILED, USAGE = 0, 1, 2
INTERRUPTED = 130
VERDICT_EXIT = {
    "fixed": OK,
    "failed": FAILED,
    "reproduced": 3,
    "not-reproduced": 4,
    "at-risk": 5,
    "inconclusive": 6,
}
# check-amphorae's worst amphora verdict.
CHECK_EXIT = {"none": OK, "ok": OK, "oom-seen": 3, "at-risk": 5, "unreachable": 6, "error": 6}


def progress_printer(stream: TextIO, clock: Callable[[], float] = time.monotonic):
    """A progress sink: each line on ``stream`` at once, with the seconds since the start."""
    start = clock()

    def emit(line: str) -> None:
        elapsed = clock() - start
        for part in str(line).splitlines() or [""]:
            stream.write(f"[{elapsed:7.1f} s] {part}\n")
        stream.flush()

    return emit


def parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    return cli_options.build(lambda p: cli_cloud.register(p, list(argv)), COMMANDS)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        top = parser(argv)
    except cli_cloud.CloudChoiceError as e:
        print(f"{cli_options.PROG}: error: {e}", file=sys.stderr)
        return USAGE
    args = top.parse_args(argv)  # exits 2 with argparse's message on a usage error
    command = COMMANDS[args.action]
    try:
        params = command.params(**cli_options.params_of(args))
    except (ValueError, TypeError) as e:
        top.error(f"{cli_options.subcommand(args.action)}: {e}")
    progress = progress_printer(sys.stderr)
    _logging(args.verbose)
    try:
        cloud = cli_cloud.choose(args)
        ws = make_workspace(args, cloud, progress)
    except (cli_cloud.CloudChoiceError, UsageError) as e:
        top.error(str(e))
    try:
        outcome = command.run(params, ws)
    except KeyboardInterrupt:
        print(
            f"{cli_options.PROG}: interrupted; `{cli_options.PROG} cleanup` deletes what a run "
            "recorded",
            file=sys.stderr,
        )
        return INTERRUPTED
    return deliver(args, outcome)


def _logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    http = logging.getLogger(cli_cloud.HTTP_LOG.name)
    http.handlers[:] = [handler] if verbose else []
    http.setLevel(logging.INFO if verbose else logging.WARNING)
    http.propagate = False


def _write(path: Path, text: str) -> None:
    """A new or replaced file only its owner reads (reports name hosts and kernel logs)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text if text.endswith("\n") else text + "\n")


def deliver(args: argparse.Namespace, outcome: Outcome) -> int:
    """The report to standard output or ``--report``, ``--json``, the summary and the
    failure to standard error; the exit status."""
    results: dict[str, Any] = {k: v for k, v in outcome.results.items() if k != "report"}
    main_report = next(iter(outcome.reports.values()), None)
    if main_report is None and outcome.results:
        main_report = json.dumps(results, indent=1, sort_keys=True)
    if main_report is not None:
        if args.report:
            _write(args.report, main_report)
        else:
            sys.stdout.write(main_report if main_report.endswith("\n") else main_report + "\n")
    if args.json and (outcome.reports or outcome.results):
        _write(args.json, outcome.reports.get("json") or json.dumps(results, indent=1))
    if "verdict-reason" in results:
        print(f"verdict: {outcome.verdict} ({results['verdict-reason']})", file=sys.stderr)
    if outcome.failure:
        print(f"{cli_options.PROG}: {outcome.failure}", file=sys.stderr)
    if args.action == "run-test-plan" and outcome.verdict:
        return VERDICT_EXIT[outcome.verdict]
    if args.action == "check-amphorae" and not outcome.failure:
        return CHECK_EXIT.get(outcome.verdict, FAILED)
    return FAILED if outcome.failure else OK


if __name__ == "__main__":
    sys.exit(main())
