"""The charm in a real Juju model next to the OpenStack charms it replaces, once per target
(Jammy with the Ubuntu Cloud Archive, Noble with its own archive), each in a model of its own.

``ops_test`` comes from pytest-operator; ``model`` adds and switches to the target's model.
Tests run in the order written, all of one target before the next; once a target's deployment
fails, its other tests are skipped (the next target still runs).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.bases import BASES, Base

REPO = Path(__file__).resolve().parents[2]
BUNDLES = Path(__file__).resolve().parent / "bundles"

# What octavia writes in its unit databags (the OpenStack charms' relation contracts).
ROLES = (
    "load-balancer_observer,load-balancer_global_observer,load-balancer_member,"
    "load-balancer_quota_admin,load-balancer_admin"
)
# charmed_octavia.plan.verdict.VERDICTS, spelled out: that module imports the OpenStack SDK.
VERDICTS = ("reproduced", "fixed", "not-reproduced", "at-risk", "inconclusive", "failed")
# Octavia and the applications that answer its relations must all be active.
READY_APPS = ("octavia", "keystone", "rabbitmq-server", "mysql-innodb-cluster")


@dataclass(frozen=True)
class Target:
    """One Ubuntu series and OpenStack origin to deploy on."""

    name: str
    # The platform built with `charmcraft pack --platform` (and its charm file).
    base: Base
    bundle: str
    origin: str
    # Bundle template values (charm channels for the series).
    channels: dict[str, str] = field(default_factory=dict)
    deploy_timeout: int = 3600


TARGETS = (
    Target(
        name="jammy-caracal",
        base=BASES[0],
        bundle="jammy-caracal.yaml.j2",
        origin="cloud:jammy-caracal",
        channels={
            "openstack_channel": "2024.1/stable",
            "rabbitmq_channel": "3.9/stable",
            "vault_channel": "1.8/stable",
            "mysql_channel": "8.0/stable",
        },
    ),
    # Caracal is Noble's own release: openstack-origin distro.
    Target(
        name="noble-distro",
        base=BASES[1],
        bundle="noble-distro.yaml.j2",
        origin="distro",
        channels={
            "openstack_channel": "2024.1/stable",
            "rabbitmq_channel": "3.12/stable",
            "vault_channel": "1.16/stable",
            "mysql_channel": "8.0/stable",
        },
    ),
)
# Targets whose deployment succeeded in this session.
_DEPLOYED: set[str] = set()


@pytest.fixture(scope="module", params=TARGETS, ids=[t.name for t in TARGETS])
def target(request: pytest.FixtureRequest) -> Target:
    return request.param


@pytest_asyncio.fixture(scope="module")
async def model(ops_test: Any, target: Target) -> AsyncIterator[Any]:
    """The target's own model, current in ``ops_test`` while its tests run."""
    await ops_test.track_model(target.name)
    with ops_test.model_context(target.name) as current:
        yield current
    await ops_test.forget_model(target.name)


@pytest.fixture
def deployed(model: Any, target: Target) -> Any:
    if target.name not in _DEPLOYED:
        pytest.skip(f"the {target.name} deployment did not succeed")
    return model


async def _juju_json(ops_test: Any, *args: str) -> Any:
    _, stdout, _ = await ops_test.juju(*args, "--format", "json", check=True)
    return json.loads(stdout)


async def published(ops_test: Any, remote_unit: str, endpoint: str) -> dict[str, str]:
    """What octavia/0 wrote in its unit databag, as ``remote_unit`` sees it on ``endpoint``."""
    shown = await _juju_json(ops_test, "show-unit", remote_unit)
    for rel in shown[remote_unit].get("relation-info", []):
        if rel.get("endpoint") == endpoint and "octavia/0" in rel.get("related-units", {}):
            return rel["related-units"]["octavia/0"].get("data", {})
    raise AssertionError(f"{remote_unit} has no {endpoint} relation with octavia/0")


async def on_unit(ops_test: Any, command: str) -> str:
    """Run a shell ``command`` on octavia/0 as root (``juju exec`` joins its words)."""
    _, stdout, _ = await ops_test.juju("exec", "--unit", "octavia/0", "--", command, check=True)
    return stdout.strip()


async def test_build_and_deploy_the_bundle(ops_test: Any, model: Any, target: Target) -> None:
    # Arrange
    # charmcraft 4 builds per platform (pytest-operator's build_charm knows only bases_index).
    await ops_test.run(
        "charmcraft",
        "pack",
        f"--platform={target.base.platform}",
        cwd=REPO,
        check=True,
        fail_msg=f"charmcraft pack --platform={target.base.platform} failed",
    )
    charm = REPO / target.base.charm_file
    bundle = ops_test.render_bundle(
        BUNDLES / target.bundle,
        charm=Path(charm).resolve(),
        origin=target.origin,
        **target.channels,
    )

    # Act
    await ops_test.juju("deploy", str(bundle), check=True, fail_msg="juju deploy failed")
    await model.wait_for_idle(
        apps=list(READY_APPS), status="active", timeout=target.deploy_timeout
    )

    # Assert
    unit = model.applications["octavia"].units[0]
    assert unit.workload_status == "active"
    _DEPLOYED.add(target.name)


async def test_unit_reaches_active_unit_is_ready(
    ops_test: Any, deployed: Any, target: Target
) -> None:
    # Act
    unit = deployed.applications["octavia"].units[0]

    # Assert
    assert (unit.workload_status, unit.workload_status_message) == ("active", "Unit is ready")
    config = await _juju_json(ops_test, "config", "octavia")
    assert config["settings"]["openstack-origin"]["value"] == target.origin


async def test_published_relation_data_matches_the_contracts(ops_test: Any, deployed: Any) -> None:
    # Act
    identity = await published(ops_test, "keystone/0", "identity-service")
    database = await published(ops_test, "octavia-mysql-router/0", "shared-db")
    amqp = await published(ops_test, "rabbitmq-server/0", "amqp")

    # Assert
    url = f"http://{identity['ingress-address']}:9876"
    assert {k: identity.get(k) for k in ("service", "region", "requested_roles")} == {
        "service": "octavia",
        "region": "RegionOne",
        "requested_roles": ROLES,
    }
    assert identity.get("add_role_to_admin") == ROLES
    assert (identity.get("public_url"), identity.get("internal_url")) == (url, url)
    assert identity.get("admin_url") == url
    assert (database.get("database"), database.get("username")) == ("octavia", "octavia")
    assert database.get("hostname") == database["ingress-address"]
    assert (amqp.get("username"), amqp.get("vhost")) == ("octavia", "openstack")
    assert amqp.get("private-address") == amqp["ingress-address"]


async def test_octavia_conf_is_private_and_the_api_answers(ops_test: Any, deployed: Any) -> None:
    # Act
    mode = await on_unit(ops_test, "stat -c '%U:%G %a' /etc/octavia/octavia.conf")
    versions = await on_unit(ops_test, "curl -sf http://127.0.0.1:9876/")

    # Assert
    assert mode == "root:octavia 640"
    assert "versions" in json.loads(versions)


async def test_run_test_plan_returns_a_verdict(deployed: Any, request: pytest.FixtureRequest):
    # Arrange
    unit = deployed.applications["octavia"].units[0]
    params = {
        "vip-subnet": request.config.getoption("--vip-subnet"),
        "lb-timeout": request.config.getoption("--plan-lb-timeout"),
    }

    # Act
    action = await (await unit.run_action("run-test-plan", **params)).wait()
    cleanup = await (
        await unit.run_action("cleanup-test-plan", **{"run-id": action.results.get("run-id", "")})
    ).wait()

    # Assert
    results = action.results
    assert results.get("verdict") in VERDICTS, f"{action.status}: {results}"
    assert results.get("verdict-reason")
    assert results.get("report", "").strip()
    # A failed step fails the action; any other verdict completes it.
    assert action.status == ("failed" if results["verdict"] == "failed" else "completed")
    assert cleanup.status == "completed", cleanup.results
