"""What a command gets from where it runs, and what it gives back.

The charm builds a ``Workspace`` from the unit (the identity-service relation's credentials,
its root-only state directory, its amphora key); ``octavia-sru`` from its options (a cloud of
``clouds.yaml`` or ``OS_*``, a state directory of the user's, the key given). A command
returns an ``Outcome``, which each front end delivers in its own way: action results and
report files, or standard output and an exit code.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from charmed_octavia.amphora.check import HAPROXY_DIR

if TYPE_CHECKING:
    from openstack.connection import Connection

    from charmed_octavia.amphora.ssh import SSHSettings
    from charmed_octavia.plan.params import PlanContext

# A result list holds this many entries at most, each of at most ENTRY_LIMIT characters: one
# Juju action-set argument holds 128 KiB; the whole list is in the report.
LIST_LIMIT = 20
ENTRY_LIMIT = 300


@dataclasses.dataclass(frozen=True)
class Workspace:
    # Opens the connection; raises saying what is missing when it cannot.
    connect: Callable[[], Connection]
    # Where test-plan runs are recorded (ids, created resources, locks), and how a message
    # names that place ("on this unit").
    state_dir: Path
    records_at: str
    # How to reach amphorae; raises with the way out when there is no key.
    ssh: Callable[[], SSHSettings]
    # The plan's context (facts of the machine, the key to upload), given the progress sink.
    plan_context: Callable[[Callable[[str], None]], PlanContext]
    # A line of progress as it happens (juju-log, or standard error).
    progress: Callable[[str], None]
    # Where the amphorae keep <lb id>/haproxy.cfg.
    amphora_haproxy_dir: str = HAPROXY_DIR


@dataclasses.dataclass
class Outcome:
    """What a command did: ``results`` shaped as Juju action results (hyphenated keys, string
    values), ``reports`` (file suffix to text; the first is the main one) named
    ``report_name``, and ``failure`` when the command did not do what it was asked."""

    results: dict[str, Any] = dataclasses.field(default_factory=dict)
    failure: str | None = None
    report_name: str = ""
    reports: dict[str, str] = dataclasses.field(default_factory=dict)
    # run-test-plan's verdict; check-amphorae's worst amphora verdict.
    verdict: str = ""


class CommandError(Exception):
    """A failure inside ``connected``, already described (naming the service it came from)."""


@contextlib.contextmanager
def connected(ws: Workspace) -> Iterator[Connection]:
    """The workspace's connection. A failure inside is raised again as a ``CommandError``
    whose text names the service that failed (Keystone too, before there is a token)."""
    from charmed_octavia.cloud import catalog
    from charmed_octavia.cloud.outcomes import describe_error

    conn = ws.connect()
    with catalog.naming(conn):
        try:
            yield conn
        except Exception as e:
            raise CommandError(describe_error(e)) from e


def failed(command: str, reason: str) -> Outcome:
    return Outcome(failure=f"{command}: {reason}")


def capped(entries: Sequence[str], limit: int = LIST_LIMIT) -> str:
    """At most ``limit`` entries of at most ``ENTRY_LIMIT`` characters, one a line, and how
    many more the report file holds."""
    lines = [e if len(e) <= ENTRY_LIMIT else e[: ENTRY_LIMIT - 1] + "\u2026" for e in entries]
    shown = lines[:limit]
    if len(lines) > limit:
        shown.append(f"(+{len(lines) - limit} more in the report file)")
    return "\n".join(shown)
