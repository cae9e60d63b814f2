"""Faults against the lab: one service stopped at the step of the SRU test plan that needs it;
the plan fails at that step, with a text that names the service, and once the service is back
the run's cleanup (what ``cleanup-test-plan`` calls) leaves nothing behind. Then the Octavia
API stopped during the plan's own cleanup.

The table of outcomes is printed at the end of the module and written to
``fault-table.md`` in pytest's base temporary directory.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from charmed_octavia.plan import cleanup, report, run, steps
from charmed_octavia.plan.params import PlanParams
from charmed_octavia.plan.results import PlanResult

from tests.integration.plan_helpers import (
    added,
    admin_connection,
    amp_key_name,
    inventory,
    lab_plan_context,
)
from tests.lab.networks import EXT_SUBNET

pytestmark = pytest.mark.lab

# Short waits keep the suite short: the lab's noop Octavia settles a change within seconds.
LB_TIMEOUT = 10
STEP_TIMEOUT = 10
CLEANUP_TIMEOUT = 60
TITLES = {step.name: step.title for step in steps.STEPS}


@dataclasses.dataclass(frozen=True)
class Fault:
    service: str
    step: str
    # What the failure text must say, with {keystone}, {nova}, {barbican}, {octavia}: the
    # lab's ports.
    says: tuple[str, ...]

    def expected(self, lab: Any) -> list[str]:
        return [text.format(**lab.ports) for text in self.says]


FAULTS = (
    # Keystone before the plan has a token: the plan's connection is new (the charm's action
    # makes one per run) and authenticates at preflight, its first request.
    Fault("keystone", "preflight", ("Keystone (identity) at http://127.0.0.1:{keystone}/v3 is",)),
    # Keystone once the token is issued: the services cache the tokens they have validated
    # (keystonemiddleware), so a step fails only where a service meets the plan's token for
    # the first time. Nova and Octavia see it at preflight; Barbican first sees it here, and
    # must ask Keystone.
    Fault(
        "keystone",
        "tls-bundle",
        (
            "Barbican (key-manager) at http://127.0.0.1:{barbican}",
            "cannot reach Keystone",
        ),
    ),
    # Barbican: the TLS bundle is the plan's only use of it, and the connection's first
    # request to it (openstacksdk's version discovery meets it down).
    Fault(
        "barbican",
        "tls-bundle",
        ("Barbican (key-manager) at http://127.0.0.1:{barbican}", "unreachable"),
    ),
    # Octavia's API: the flavorprofile is the plan's first change in Octavia; from here on the
    # plan's cleanup needs Octavia too (to know that no flavorprofile uses the Nova flavor).
    Fault(
        "octavia-api",
        "flavorprofile",
        ("Octavia (load-balancer) at http://127.0.0.1:{octavia} is unreachable",),
    ),
    # Octavia's worker: the load balancer is the first change the API hands to the worker; it
    # stays PENDING_CREATE, and what it uses cannot be deleted until the worker is back.
    Fault(
        "octavia-worker",
        "loadbalancer",
        ("the Octavia worker did not process it (still PENDING_CREATE",),
    ),
    # RabbitMQ: the load balancer is the first change the API hands to the worker through the
    # broker; without it the API blocks on the create call itself.
    Fault(
        "rabbitmq",
        "loadbalancer",
        (
            "Octavia (load-balancer) at http://127.0.0.1:{octavia} did not answer POST",
            "RabbitMQ",
        ),
    ),
    # MariaDB, first: the keypair is the plan's first step after preflight, and Nova keeps
    # keypairs in its database.
    Fault(
        "mariadb",
        "keypair",
        ("Nova (compute) at http://127.0.0.1:{nova}/v2.1 answered 500 (Nova could not reach its",),
    ),
    # MariaDB, most: creating the load balancer writes the most (the API's load balancer, VIP
    # and amphora rows), and everything the plan made before is in a database too, so the
    # plan's own cleanup, the database still down, keeps it all for the cleanup that follows.
    # Octavia's API asks Neutron for the VIP subnet first; Neutron's database is down too, and
    # Octavia answers a bare 500 that names no cause.
    Fault(
        "mariadb",
        "loadbalancer",
        ("Octavia (load-balancer) at http://127.0.0.1:{octavia} answered 500",),
    ),
)


class StopAt:
    """The plan's progress: keeps every line and stops a lab service when ``line`` (a step's
    "started", logged before the step's first request) is logged, once."""

    def __init__(self, lab: Any, service: str, line: str) -> None:
        self.lab = lab
        self.service = service
        self.line = line
        self.logs: list[str] = []
        self.stopped = False

    def __call__(self, message: str) -> None:
        self.logs.append(message)
        if not self.stopped and message.endswith(self.line):
            self.lab.stop_service(self.service)
            self.stopped = True


@dataclasses.dataclass
class Row:
    service: str
    step: str
    failure: str
    verdict: str
    cleanup_step: str
    left_by_plan: dict[str, int]
    left_after_restart: dict[str, int]
    seconds: float


@pytest.fixture(scope="module")
def fault_table(request, tmp_path_factory) -> Iterator[list[Row]]:
    """The rows of the module's cases; printed and written to fault-table.md at the end."""
    rows: list[Row] = []
    yield rows
    if not rows:
        return
    text = _markdown(rows)
    path = tmp_path_factory.getbasetemp() / "fault-table.md"
    path.write_text(text)
    plugins = request.config.pluginmanager
    terminal = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if terminal is not None and capture is not None:
        # Past the capture: the table is for whoever runs the suite, also with -q.
        with capture.global_and_fixture_disabled():
            terminal.write_sep("-", f"fault table ({path})")
            terminal.write_line(text)


def _counts(resources: dict[str, set[str]]) -> dict[str, int]:
    return {kind: len(ids) for kind, ids in sorted(resources.items())}


def _markdown(rows: list[Row]) -> str:
    def cell(value: object) -> str:
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "0"
        return str(value).replace("|", "\\|")

    lines = [
        "| service | step | failure text | verdict | plan's cleanup | left after the plan "
        "| left after the cleanup after the restart | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        values = (
            r.service,
            r.step,
            r.failure,
            r.verdict,
            r.cleanup_step,
            r.left_by_plan,
            r.left_after_restart,
            f"{r.seconds:.1f}",
        )
        lines.append("| " + " | ".join(cell(v) for v in values) + " |")
    return "\n".join(lines) + "\n"


def _params(lab: Any) -> PlanParams:
    # Flavors of the case's own: one that a failed case left behind is not reused by the next.
    s = uuid.uuid4().hex[:6]
    return PlanParams(
        vip_subnet=EXT_SUBNET,
        keypair_name=amp_key_name(lab) or "amphora-backdoor",
        nova_flavor_name=f"m1.xxlarge-{s}",
        nova_flavor_id=f"x-{s}",
        flavorprofile_name=f"o1.xxlarge-{s}",
        lb_flavor_name=f"o1.xxlarge-{s}",
        lb_timeout=LB_TIMEOUT,
        step_timeout=STEP_TIMEOUT,
    )


def _secrets(lab: Any, *conns: Any) -> list[str]:
    """The lab's passwords and the connections' tokens: never in a text the plan reports."""
    tokens = [getattr(c.session.auth.auth_ref, "auth_token", None) for c in conns]
    return [*lab.passwords.values(), *(t for t in tokens if t)]


def _run_with_fault(
    lab: Any, tmp_path: Path, service: str, line: str
) -> tuple[PlanResult, StopAt, Any, Any, dict[str, set[str]]]:
    """Run the plan on a new connection, ``service`` stopped when ``line`` is logged and
    started again (with what restarts with it) once the plan returns or raises; the test's
    own connection and the inventory before the plan."""
    conn = admin_connection(lab)
    before = inventory(conn)
    # The plan's own connection, new as the charm's action makes one per run.
    plan_conn = admin_connection(lab)
    progress = StopAt(lab, service, line)
    try:
        result = run.run_plan(plan_conn, _params(lab), lab_plan_context(lab, tmp_path, progress))
    finally:
        lab.start_service(service)
    return result, progress, conn, plan_conn, before


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f"{f.service}-at-{f.step}")
def test_a_service_stopped_at_its_step_fails_that_step_naming_it_and_cleanup_leaves_nothing(
    lab, tmp_path, fault_table, fault
):
    # Arrange / Act: the plan with the service stopped at the step, then the service back.
    start = time.monotonic()
    result, progress, conn, plan_conn, before = _run_with_fault(
        lab, tmp_path, fault.service, f"{TITLES[fault.step]}: started"
    )
    left_by_plan = added(before, inventory(conn))
    state_dir = tmp_path / "state"
    cleaned = cleanup.cleanup(conn, state_dir, result.run_id, timeout=CLEANUP_TIMEOUT)
    again = cleanup.cleanup(conn, state_dir, result.run_id, timeout=CLEANUP_TIMEOUT)
    left = added(before, inventory(conn))
    failure = result.failure or ""
    fault_table.append(
        Row(
            fault.service,
            fault.step,
            failure,
            result.verdict,
            result.step("cleanup").status,
            _counts(left_by_plan),
            _counts(left),
            time.monotonic() - start,
        )
    )

    # Assert: no secret in what the run reports (checked first: the messages below show it).
    reported = failure + report.render_markdown(result.to_dict())
    assert not any(s in reported for s in _secrets(lab, conn, plan_conn)), "a secret is reported"
    # The plan failed at that step, not later; the steps after it up to the verdict never ran.
    assert progress.stopped
    assert result.failed_step == fault.step, failure
    assert result.step(fault.step).status == "failed"
    names = [s.name for s in result.steps]
    between = result.steps[names.index(fault.step) + 1 : names.index("verdict")]
    assert [s.name for s in between if s.status != "not-run"] == []
    # The failure names the service.
    for text in fault.expected(lab):
        assert text in failure
    assert result.verdict in ("failed", "inconclusive")
    # Once the service is back, the run's cleanup leaves nothing and keeps nothing; a second
    # deletes nothing. When the plan's own cleanup had succeeded, there was nothing left.
    assert cleaned.runs == {result.run_id: "cleaned"}
    assert cleaned.kept == []
    assert again.deleted == 0 and again.kept == []
    if result.step("cleanup").status == "ok":
        assert left_by_plan == {} and cleaned.deleted == 0
    # Whatever the plan's own cleanup left, it reported as kept.
    kept = [r["kind"] + "s" for r in result.cleanup if r["outcome"] == "kept"]
    assert all(len(ids) <= kept.count(kind) for kind, ids in left_by_plan.items())
    assert inventory(conn) == before


def test_octavia_api_stopped_during_the_plans_cleanup_keeps_what_needs_it_until_cleanup(
    lab, tmp_path, fault_table
):
    # Arrange / Act: the whole plan runs; the Octavia API stops as its cleanup starts.
    start = time.monotonic()
    result, progress, conn, plan_conn, before = _run_with_fault(
        lab, tmp_path, "octavia-api", "Cleanup: started"
    )
    left_by_plan = added(before, inventory(conn))
    state_dir = tmp_path / "state"
    cleaned = cleanup.cleanup(conn, state_dir, result.run_id, timeout=CLEANUP_TIMEOUT)
    again = cleanup.cleanup(conn, state_dir, result.run_id, timeout=CLEANUP_TIMEOUT)
    left = added(before, inventory(conn))
    step = result.step("cleanup")
    fault_table.append(
        Row(
            "octavia-api",
            "cleanup",
            step.evidence,
            result.verdict,
            step.status,
            _counts(left_by_plan),
            _counts(left),
            time.monotonic() - start,
        )
    )

    # Assert
    reported = step.evidence + report.render_markdown(result.to_dict())
    assert not any(s in reported for s in _secrets(lab, conn, plan_conn)), "a secret is reported"
    assert progress.stopped
    assert result.failed_step is None, result.failure
    assert result.verdict == "inconclusive"
    # What needs Octavia to be deleted (or to be known unused) is kept, with the reason; the
    # secret and the keypair are deleted.
    assert step.status == "warning"
    kept = {r["kind"]: r["reason"] for r in result.cleanup if r["outcome"] == "kept"}
    deleted = {r["kind"] for r in result.cleanup if r["outcome"] == "deleted"}
    assert set(kept) == {"loadbalancer", "lb-flavor", "flavorprofile", "nova-flavor"}
    assert deleted == {"secret", "keypair"}
    octavia = f"Octavia (load-balancer) at http://127.0.0.1:{lab.ports['octavia']} is unreachable"
    for kind, reason in kept.items():
        assert octavia in reason
        assert f"{kind} " in step.evidence and reason in step.evidence
    assert set(left_by_plan) == {"loadbalancers", "lb-flavors", "flavorprofiles", "nova-flavors"}
    # cleanup-test-plan of that run, once Octavia is back, removes them.
    assert cleaned.runs == {result.run_id: "cleaned"}
    assert cleaned.deleted == 4 and cleaned.kept == []
    assert again.deleted == 0 and again.kept == []
    assert inventory(conn) == before
