"""Cleanup's choice of what to touch: recorded runs only, and tags read as data, not paths."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from charmed_octavia.plan import cleanup
from charmed_octavia.plan.records import RunRecord, RunStore


class FakeLoadBalancerAPI:
    """A fake of openstacksdk's load_balancer proxy at the cloud boundary (no cloud here):
    lists the load balancers it was given and records every delete."""

    def __init__(self, lbs: list[Any]) -> None:
        self.lbs = lbs
        self.deleted: list[str] = []

    def load_balancers(self, tags: str | None = None) -> list[Any]:
        return [lb for lb in self.lbs if tags is None or tags in (lb.tags or [])]

    def get_load_balancer(self, lb_id: str) -> Any:
        return next(lb for lb in self.lbs if lb.id == lb_id)

    def delete_load_balancer(self, lb_id: str, **_: Any) -> None:
        self.deleted.append(lb_id)


def _conn(api: FakeLoadBalancerAPI) -> Any:
    """A connection whose load_balancer proxy is ``api`` (its session only holds a timeout)."""
    return SimpleNamespace(load_balancer=api, session=SimpleNamespace(timeout=None))


def _lb(lb_id: str, *tags: str) -> Any:
    return SimpleNamespace(id=lb_id, name=lb_id, tags=list(tags), provisioning_status="ACTIVE")


def test_tags_of_runs_not_recorded_here_are_reported_and_never_acted_on(tmp_path):
    # Arrange: a tenant's load balancers carrying the plan's tag prefix.
    state = tmp_path / "state"
    api = FakeLoadBalancerAPI(
        [
            _lb("lb-escape", "charmed-octavia-run:../../escaped"),
            _lb("lb-other", "charmed-octavia-run:other-run"),
            _lb("lb-plain", "unrelated"),
        ]
    )
    conn: Any = _conn(api)

    # Act
    result = cleanup.cleanup(conn, state)

    # Assert
    assert result.runs == {"other-run": "not-recorded-here"}
    assert api.deleted == []
    assert not any(p.name.endswith(".lock") for p in tmp_path.rglob("*") if state not in p.parents)
    assert not (tmp_path / "escaped.lock").exists() and not Path("/escaped.lock").exists()


def test_an_unknown_run_id_is_no_record_not_cleaned(tmp_path):
    # Arrange
    conn: Any = _conn(FakeLoadBalancerAPI([_lb("lb", "x")]))

    # Act
    result = cleanup.cleanup(conn, tmp_path, "nosuchrun")

    # Assert
    assert result.runs == {"nosuchrun": "no-record"}
    assert result.rows == []


def test_a_recorded_run_with_nothing_left_is_cleaned(tmp_path):
    # Arrange
    RunStore(tmp_path).save(RunRecord(run_id="r-1", started="now", status="finished"))
    conn: Any = _conn(FakeLoadBalancerAPI([]))

    # Act
    result = cleanup.cleanup(conn, tmp_path)

    # Assert
    assert result.runs == {"r-1": "cleaned"}


def test_cleanup_against_a_silent_nova_keeps_with_the_service_named_and_returns(tmp_path):
    # Arrange: a recorded keypair; Nova accepts connections and never answers.
    from charmed_octavia.plan.records import ResourceRecord, utcnow

    from tests.unit.loopback_cloud import closed_port, connection, returns_within, silent_port

    store = RunStore(tmp_path)
    record = RunRecord(run_id="r1", started=utcnow())
    record.add(ResourceRecord("keypair", "amphora-backdoor", "amphora-backdoor", True, "present"))
    store.save(record)
    with silent_port() as port:
        nova = f"http://127.0.0.1:{port}/v2.1"
        conn = connection(
            f"http://127.0.0.1:{closed_port()}/v3",
            {"compute": nova, "load-balancer": f"http://127.0.0.1:{closed_port()}"},
        )

        # Act
        result = returns_within(
            30, lambda: cleanup.cleanup(conn, tmp_path, "r1", timeout=0.5), "cleanup"
        )

    # Assert
    (kept,) = result.kept
    assert kept["kind"] == "keypair"
    assert kept["reason"].startswith(f"Nova (compute) at {nova} did not answer")
    assert conn.session.timeout is None  # the connection's own setting is given back
