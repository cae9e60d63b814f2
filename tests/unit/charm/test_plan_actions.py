"""ops.testing of the flavor, TLS and test-plan actions through the real charm.

The library calls that talk to OpenStack are replaced by ``FakeCloudLibrary``: a boundary
fake, because no cloud runs in a unit test (the same library is proven against the lab in
tests/integration). Parameter validation, results and failure messages are the charm's own.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from charmed_octavia.cloud import barbican, flavors
from charmed_octavia.cloud.outcomes import ConflictError, Ensured
from charmed_octavia.plan import cleanup, run
from charmed_octavia.plan.results import PlanResult, StepResult
from charmed_octavia.plan.steps import STEPS
from ops import testing

import charm
from tests.unit.charm_data import KEYSTONE_PASSWORD, KEYSTONE_UNIT
from tests.unit.fake_machine import FakeMachine


class FakeCloudLibrary:
    """A fake of the library's OpenStack-facing functions: records calls, returns canned
    outcomes. A fake because a unit test has no cloud; the real functions run in the lab."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.conflict: ConflictError | None = None
        self.plan_result: PlanResult | None = None
        self.cleanup_result = cleanup.CleanupResult(runs={}, rows=[])
        self.connections: list[Any] = []

    def _record(self, name: str, conn: Any, arg: Any) -> None:
        self.calls.append((name, arg))
        self.connections.append(conn)
        if self.conflict is not None:
            raise self.conflict

    def ensure_nova_flavor(self, conn, spec):
        self._record("nova-flavor", conn, spec)
        return Ensured("nova-flavor", spec.id or "generated", spec.name, "created", {"ram": 1})

    def ensure_flavorprofile(self, conn, spec):
        self._record("flavorprofile", conn, spec)
        data = {**spec.flavor_data, "compute_flavor": spec.compute_flavor}
        return Ensured("flavorprofile", "fp-1", spec.name, "reused", {"flavor_data": data})

    def ensure_lb_flavor(self, conn, spec):
        self._record("lb-flavor", conn, spec)
        return Ensured("lb-flavor", "f-1", spec.name, "created", {"enabled": spec.enabled})

    def ensure_xxlarge(self, conn, spec):
        self._record("xxlarge", conn, spec)
        return [
            Ensured("nova-flavor", spec.nova_flavor_id, spec.nova_flavor_name, "reused"),
            Ensured("flavorprofile", "fp-1", spec.flavorprofile_name, "created"),
            Ensured("lb-flavor", "f-1", spec.lb_flavor_name, "created"),
        ]

    def store_bundle(self, conn, name, bundle):
        self._record("secret", conn, (name, bundle))
        return barbican.StoredSecret(
            href="http://127.0.0.1:9311/v1/secrets/0d0d", id="0d0d", name=name
        )

    def run_plan(self, conn, params, ctx):
        self._record("plan", conn, (params, ctx))
        ctx.progress("[1/14] Preflight: started")
        assert self.plan_result is not None
        return self.plan_result

    def cleanup(self, conn, state_dir, run_id="", *, progress=None, **kwargs):
        self._record("cleanup", conn, (state_dir, run_id))
        return self.cleanup_result


@pytest.fixture
def fake(monkeypatch) -> FakeCloudLibrary:
    lib = FakeCloudLibrary()
    for name in ("ensure_nova_flavor", "ensure_flavorprofile", "ensure_lb_flavor"):
        monkeypatch.setattr(flavors, name, getattr(lib, name))
    monkeypatch.setattr(flavors, "ensure_xxlarge", lib.ensure_xxlarge)
    monkeypatch.setattr(barbican, "store_bundle", lib.store_bundle)
    monkeypatch.setattr(run, "run_plan", lib.run_plan)
    monkeypatch.setattr(cleanup, "cleanup", lib.cleanup)
    return lib


@pytest.fixture
def machine(tmp_path, monkeypatch) -> FakeMachine:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_text("VERSION_CODENAME=jammy\n")
    machine = FakeMachine(tmp_path)
    machine.installed["octavia-common"] = "1:14.0.0-0ubuntu1~cloud0"
    monkeypatch.setattr(charm.OctaviaCharm, "workload_factory", lambda: machine)
    return machine


@pytest.fixture
def ctx() -> testing.Context:
    return testing.Context(charm.OctaviaCharm)


def state(*, related: bool = True, amp_key: str = "amphora-backdoor") -> testing.State:
    relations = []
    if related:
        relations.append(
            testing.Relation(
                "identity-service",
                remote_app_name="keystone",
                remote_units_data={0: KEYSTONE_UNIT},
            )
        )
    return testing.State(
        leader=True,
        relations=relations,
        config={"amp-ssh-key-name": amp_key, "openstack-origin": "cloud:jammy-caracal"},
    )


def _all_text(ctx: testing.Context) -> str:
    return json.dumps(ctx.action_results) + json.dumps(ctx.action_logs)


# ---- create-flavor ---------------------------------------------------------------------------


def test_create_flavor_passes_the_values_and_reports_the_outcome(ctx, machine, fake):
    # Arrange
    params = {"name": "m1.xxlarge", "ram": 32768, "disk": 10, "vcpus": 4, "id": "10"}

    # Act
    ctx.run(ctx.on.action("create-flavor", params=params), state())

    # Assert
    ((name, spec),) = fake.calls
    assert name == "nova-flavor"
    assert (spec.name, spec.ram, spec.disk, spec.vcpus, spec.id, spec.public) == (
        "m1.xxlarge",
        32768,
        10,
        4,
        "10",
        True,
    )
    assert ctx.action_results is not None
    assert ctx.action_results["action"] == "created"
    assert ctx.action_results["id"] == "10"
    # The connection came from the identity-service relation's service credentials.
    assert fake.connections[0].config.get_auth_args()["username"] == "octavia"


def test_create_flavor_with_empty_name_fails_before_connecting(ctx, machine, fake):
    # Act
    with pytest.raises(testing.ActionFailed) as caught:
        ctx.run(
            ctx.on.action("create-flavor", params={"name": " ", "ram": 1, "disk": 0, "vcpus": 1}),
            state(),
        )

    # Assert
    assert "Nova flavor name must not be empty" in caught.value.message
    assert fake.calls == []


def test_create_flavor_conflict_spells_out_the_difference(ctx, machine, fake):
    # Arrange
    fake.conflict = ConflictError("Nova flavor", "id 10", ["ram: existing 2048, wanted 32768"])
    params = {"name": "m1.xxlarge", "ram": 32768, "disk": 10, "vcpus": 4, "id": "10"}

    # Act
    with pytest.raises(testing.ActionFailed) as caught:
        ctx.run(ctx.on.action("create-flavor", params=params), state())

    # Assert
    assert caught.value.message == (
        "create-flavor: Nova flavor 'id 10' already exists and differs: "
        "ram: existing 2048, wanted 32768"
    )


def test_create_flavor_without_identity_relation_says_so(ctx, machine, fake):
    # Act
    with pytest.raises(testing.ActionFailed) as caught:
        ctx.run(
            ctx.on.action("create-flavor", params={"name": "a", "ram": 1, "disk": 0, "vcpus": 1}),
            state(related=False),
        )

    # Assert
    assert "no identity-service relation" in caught.value.message
    assert fake.calls == []


# ---- flavorprofile and lb flavor -----------------------------------------------------------


def test_create_flavorprofile_merges_flavor_data(ctx, machine, fake):
    # Arrange
    params = {
        "name": "o1.xxlarge",
        "compute-flavor": "10",
        "flavor-data": '{"loadbalancer_topology": "SINGLE"}',
    }

    # Act
    ctx.run(ctx.on.action("create-flavorprofile", params=params), state())

    # Assert
    ((_, spec),) = fake.calls
    assert spec.flavor_data == {"loadbalancer_topology": "SINGLE"}
    assert spec.provider == "amphora"
    assert ctx.action_results is not None
    assert ctx.action_results["action"] == "reused"
    assert json.loads(ctx.action_results["attributes"]["flavor-data"]) == {
        "compute_flavor": "10",
        "loadbalancer_topology": "SINGLE",
    }


@pytest.mark.parametrize(
    ("flavor_data", "message"),
    [
        ("{not json", "flavor-data is not valid JSON"),
        ("[1, 2]", "flavor-data must be a JSON object"),
        ('{"compute_flavor": "11"}', "flavor-data sets compute_flavor to '11'"),
    ],
)
def test_create_flavorprofile_bad_flavor_data_fails_and_creates_nothing(
    ctx, machine, fake, flavor_data, message
):
    # Arrange
    params = {"name": "o1", "compute-flavor": "10", "flavor-data": flavor_data}

    # Act
    with pytest.raises(testing.ActionFailed) as caught:
        ctx.run(ctx.on.action("create-flavorprofile", params=params), state())

    # Assert
    assert message in caught.value.message
    assert fake.calls == []


def test_create_lb_flavor_reports_created(ctx, machine, fake):
    # Act
    ctx.run(
        ctx.on.action(
            "create-lb-flavor",
            params={"name": "o1.xxlarge", "flavorprofile": "o1.xxlarge", "enabled": False},
        ),
        state(),
    )

    # Assert
    ((_, spec),) = fake.calls
    assert spec.enabled is False
    assert ctx.action_results is not None
    assert ctx.action_results["attributes"] == {"enabled": "false"}


def test_create_xxlarge_flavor_defaults_are_the_test_plans(ctx, machine, fake):
    # Act
    ctx.run(ctx.on.action("create-xxlarge-flavor"), state())

    # Assert
    ((_, spec),) = fake.calls
    assert dataclasses.astuple(spec)[:10] == (
        "m1.xxlarge",
        32768,
        10,
        4,
        "10",
        True,
        "o1.xxlarge",
        "amphora",
        "o1.xxlarge",
        "Extra large LB",
    )
    results = ctx.action_results
    assert results is not None
    assert results["nova-flavor"]["action"] == "reused"
    assert results["flavorprofile"]["action"] == "created"
    assert results["lb-flavor"]["name"] == "o1.xxlarge"


# ---- store-tls-bundle -----------------------------------------------------------------------


def test_store_tls_bundle_generates_and_never_returns_the_key(ctx, machine, fake):
    # Act
    ctx.run(ctx.on.action("store-tls-bundle", params={"common-name": "lb.example"}), state())

    # Assert
    ((_, (name, bundle)),) = fake.calls
    assert name == "xxlarge.devstack.p12"
    assert bundle.subject == "CN=lb.example"
    results = ctx.action_results
    assert results is not None
    assert results["secret-href"] == "http://127.0.0.1:9311/v1/secrets/0d0d"
    assert results["certificate"]["subject"] == "CN=lb.example"
    payload = base64.b64encode(bundle.pkcs12).decode()
    assert payload[:32] not in _all_text(ctx)
    assert "PRIVATE KEY" not in _all_text(ctx)


def test_store_tls_bundle_rejects_a_garbage_bundle(ctx, machine, fake):
    # Act
    with pytest.raises(testing.ActionFailed) as caught:
        ctx.run(ctx.on.action("store-tls-bundle", params={"bundle": "aGVsbG8="}), state())

    # Assert
    assert "unencrypted PKCS#12" in caught.value.message
    assert fake.calls == []


def test_store_tls_bundle_stores_the_operators_bundle_as_given(ctx, machine, fake):
    # Arrange
    from charmed_octavia.cloud import tls

    given = tls.generate_bundle("given.example").pkcs12

    # Act
    ctx.run(
        ctx.on.action("store-tls-bundle", params={"bundle": base64.b64encode(given).decode()}),
        state(),
    )

    # Assert
    ((_, (_, bundle)),) = fake.calls
    assert bundle.pkcs12 == given
    assert not bundle.generated


def test_store_tls_bundle_turns_what_cryptography_refuses_into_a_failure(
    ctx, machine, fake, monkeypatch
):
    # Arrange: a refusal the parameter checks did not foresee (before: an uncaught ValueError).
    from charmed_octavia.cloud import tls

    def refuse(common_name, *, days=365, now=None):
        raise ValueError("Attribute's length must be >= 1 and <= 64, but it was 65")

    monkeypatch.setattr(tls, "generate_bundle", refuse)

    # Act
    with pytest.raises(testing.ActionFailed) as caught:
        ctx.run(ctx.on.action("store-tls-bundle", params={"common-name": "lb.example"}), state())

    # Assert
    assert caught.value.message.startswith("store-tls-bundle: Attribute's length must be")
    assert fake.calls == []


# ---- run-test-plan ---------------------------------------------------------------------------


def _result(verdict: str, failed_step: str | None = None) -> PlanResult:
    steps = [StepResult(s.name, s.title, "ok", 0.5, f"{s.name} ok") for s in STEPS]
    if failed_step:
        for s in steps:
            if s.name == failed_step:
                s.status, s.evidence = "failed", "load balancer x did not settle within 10 s"
    return PlanResult(
        run_id="r1",
        verdict=verdict,
        verdict_reason="because",
        steps=steps,
        started="2026-02-02T22:00:00+00:00",
        finished="2026-02-02T22:01:00+00:00",
        seconds=60,
        environment={"series": "jammy", "origin": "cloud:jammy-caracal", "package_versions": {}},
        parameters={},
        failed_step=failed_step,
        failure="load balancer x did not settle within 10 s" if failed_step else None,
    )


def test_run_test_plan_hands_the_unit_facts_to_the_plan_and_returns_the_report(ctx, machine, fake):
    # Arrange
    fake.plan_result = _result("inconclusive")

    # Act
    ctx.run(
        ctx.on.action("run-test-plan", params={"connection-limit": 200000, "reload-count": 2}),
        state(),
    )

    # Assert
    ((_, (params, plan_ctx)),) = fake.calls
    assert params.connection_limit == 200000
    assert params.reload_count == 2
    assert params.nova_flavor_id == "10"
    assert plan_ctx.series == "jammy"
    assert plan_ctx.origin == "cloud:jammy-caracal"
    assert plan_ctx.package_versions["octavia-common"] == "1:14.0.0-0ubuntu1~cloud0"
    assert plan_ctx.amp_ssh_key_name == "amphora-backdoor"
    assert plan_ctx.public_key.startswith("ssh-")
    assert plan_ctx.state_dir == Path(machine.root) / "var/lib/charm-octavia/plan"
    assert plan_ctx.amphora_ssh.private_key_path.parent == plan_ctx.state_dir.parent / "ssh"
    results = ctx.action_results
    assert results is not None
    assert results["verdict"] == "inconclusive"
    assert list(results["steps"]) == [f"{i + 1:02d}-{s.name}" for i, s in enumerate(STEPS)]
    assert results["steps"]["07-loadbalancer"] == {
        "status": "ok",
        "seconds": "0.5",
        "evidence": "loadbalancer ok",
    }
    assert "**Verdict: INCONCLUSIVE" in results["report"]
    assert json.loads(Path(results["report-json-file"]).read_text())["verdict"] == "inconclusive"
    assert Path(results["report-file"]).read_text() == results["report"]
    assert "[1/14] Preflight: started" in ctx.action_logs


def test_run_test_plan_failure_names_the_step(ctx, machine, fake):
    # Arrange
    fake.plan_result = _result("failed", failed_step="loadbalancer")

    # Act
    with pytest.raises(testing.ActionFailed) as caught:
        ctx.run(ctx.on.action("run-test-plan"), state())

    # Assert
    assert caught.value.message == (
        "run-test-plan r1: step loadbalancer failed: load balancer x did not settle within 10 s"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"run-id": "../etc"}, "run-id '../etc' must be"),
        ({"common-name": "not a name"}, "common-name 'not a name'"),
        ({"vip-subnet": ""}, "vip-subnet name must not be empty"),
        ({"nova-flavor-id": "bad/id"}, "Nova flavor id 'bad/id'"),
    ],
)
def test_run_test_plan_validates_before_anything(ctx, machine, fake, params, message):
    # Act
    with pytest.raises(testing.ActionFailed) as caught:
        ctx.run(ctx.on.action("run-test-plan", params=params), state())

    # Assert
    assert message in caught.value.message
    assert fake.calls == []


def test_run_test_plan_keeps_the_relation_password_out_of_results_and_logs(ctx, machine, fake):
    # Arrange
    fake.plan_result = _result("inconclusive")

    # Act
    ctx.run(ctx.on.action("run-test-plan"), state())

    # Assert
    assert KEYSTONE_PASSWORD not in _all_text(ctx)


# ---- cleanup-test-plan -----------------------------------------------------------------------


def _recorded(machine: FakeMachine, run_id: str) -> None:
    """A run record in the charm's state, as run-test-plan leaves one."""
    from charmed_octavia.plan.records import RunRecord, RunStore

    store = RunStore(machine.root / "var/lib/charm-octavia/plan")
    store.save(RunRecord(run_id=run_id, started="2026-12-01T00:00:00Z"))


def test_cleanup_reports_what_it_deleted(ctx, machine, fake):
    # Arrange
    _recorded(machine, "r1")
    fake.cleanup_result = cleanup.CleanupResult(
        runs={"r1": "cleaned"},
        rows=[{"kind": "keypair", "name": "k", "id": "k", "outcome": "deleted", "reason": ""}],
    )

    # Act
    ctx.run(ctx.on.action("cleanup-test-plan", params={"run-id": "r1"}), state())

    # Assert
    ((_, (_, run_id)),) = fake.calls
    assert run_id == "r1"
    results = ctx.action_results
    assert results is not None
    assert json.loads(results["runs"]) == {"r1": "cleaned"}
    assert results["deleted"] == "1"
    assert results["kept"] == "0"


def test_cleanup_fails_when_something_is_kept(ctx, machine, fake):
    # Arrange
    fake.cleanup_result = cleanup.CleanupResult(
        runs={"r1": "kept-some"},
        rows=[
            {
                "kind": "lb-flavor",
                "name": "o1.xxlarge",
                "id": "f1",
                "outcome": "kept",
                "reason": "in use",
            }
        ],
    )

    # Act
    with pytest.raises(testing.ActionFailed) as caught:
        ctx.run(ctx.on.action("cleanup-test-plan"), state())

    # Assert
    assert "lb-flavor o1.xxlarge (f1): in use" in caught.value.message


def test_cleanup_refuses_a_bad_run_id(ctx, machine, fake):
    with pytest.raises(testing.ActionFailed) as caught:
        ctx.run(ctx.on.action("cleanup-test-plan", params={"run-id": "a b"}), state())

    assert "run-id 'a b' must be" in caught.value.message
    assert fake.calls == []


def test_cleanup_of_generated_run_ids_sets_results_juju_takes(ctx, machine, fake):
    # Arrange: run ids as the plan makes them (20261201T075139-210b53) and as RUN_ID allows.
    from charmed_octavia.plan.records import new_run_id

    generated, chosen = new_run_id(), "My_Run.1"
    fake.cleanup_result = cleanup.CleanupResult(
        runs={generated: "cleaned", chosen: "kept-some"},
        rows=[{"kind": "keypair", "name": "k", "id": "k", "outcome": "deleted", "reason": ""}],
    )

    # Act (the autouse fixture holds the results to Juju's rules)
    ctx.run(ctx.on.action("cleanup-test-plan"), state())

    # Assert
    results = ctx.action_results or {}
    assert json.loads(results["runs"]) == {generated: "cleaned", chosen: "kept-some"}
    assert results["deleted"] == "1"


def test_run_test_plan_a_report_too_big_for_results_is_in_its_file(
    ctx, machine, fake, monkeypatch
):
    # Arrange: a report longer than one action-set argument carries.
    from charmed_octavia.plan import report

    fake.plan_result = _result("inconclusive")
    monkeypatch.setattr(report, "render_markdown", lambda data: "x" * (200 * 1024))

    # Act (the autouse fixture holds the results to Juju's rules)
    ctx.run(ctx.on.action("run-test-plan"), state())

    # Assert
    results = ctx.action_results or {}
    assert results["report"].startswith("(the report is 204800 characters: see ")
    assert len(Path(results["report-file"]).read_text()) == 200 * 1024


def test_cleanup_of_a_run_not_recorded_here_fails_before_connecting(ctx, machine, fake):
    # Act
    with pytest.raises(testing.ActionFailed) as caught:
        ctx.run(ctx.on.action("cleanup-test-plan", params={"run-id": "nosuchrun"}), state())

    # Assert
    assert "no record of test-plan run 'nosuchrun' on this unit" in caught.value.message
    assert "nothing was deleted" in caught.value.message
    assert fake.calls == []
