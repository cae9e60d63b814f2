"""ops.testing of the options a bundle of the existing charm carries beside ours:
worker-multiplier, haproxy-*-timeout, os-*-network, the volume-based amphora and
use-policyd-override with its resource."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path

import ops
import pytest
import yaml
from charmed_octavia.unit import machine as machine_mod
from ops import testing

from tests.unit.bad_input.unit_files import snapshot
from tests.unit.charm.test_ha import hacluster, related, state, three_networks, urls

SITE = machine_mod.APACHE_SITE.lstrip("/")
CONF = machine_mod.OCTAVIA_CONF.lstrip("/")
POLICY_DIR = machine_mod.POLICY_DIR.lstrip("/")


def installed(ctx, machine, config=None, **kwargs) -> testing.State:
    """The unit after install, with its machine's calls forgotten."""
    out = ctx.run(ctx.on.install(), state(config=config or {}, **kwargs))
    machine.calls.clear()
    return out


def configured(ctx, out: testing.State, **options) -> testing.State:
    changed = dataclasses.replace(out, config={**out.config, **options})
    return ctx.run(ctx.on.config_changed(), changed)


def restarts(machine) -> list[str]:
    return [c[2] for c in machine.calls if c[:2] == ("systemctl", "restart")]


def processes(machine) -> str:
    site = (machine.root / SITE).read_text()
    return site.split("WSGIDaemonProcess octavia-api ", 1)[1].split()[0]


# -- worker-multiplier -----------------------------------------------------------------------


def test_unset_worker_multiplier_is_twice_the_cpus_at_most_four(ctx, machine):
    # Arrange
    machine.cpus = 1

    # Act
    ctx.run(ctx.on.install(), state())

    # Assert
    assert processes(machine) == "processes=2"


def test_worker_multiplier_sets_the_api_processes_and_restarts_apache2_only(ctx, machine):
    # Arrange: 4 CPUs (the fake's), unset: 4 processes.
    out = installed(ctx, machine)
    assert processes(machine) == "processes=4"

    # Act
    out = configured(ctx, out, **{"worker-multiplier": 0.25})

    # Assert
    assert processes(machine) == "processes=1"
    assert restarts(machine) == ["apache2"]
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


def test_a_negative_worker_multiplier_blocks_and_changes_nothing(ctx, machine):
    # Arrange
    out = installed(ctx, machine)
    before = snapshot(machine.root)

    # Act
    out = configured(ctx, out, **{"worker-multiplier": -1.0})

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        "Invalid config: worker-multiplier must be from 0 to 64"
    )
    assert machine.calls == [] and snapshot(machine.root) == before


# -- haproxy-*-timeout -----------------------------------------------------------------------

TIMEOUTS = {
    "haproxy-server-timeout": 90000,
    "haproxy-client-timeout": 90000,
    "haproxy-queue-timeout": 9000,
    "haproxy-connect-timeout": 9000,
}


def test_haproxy_timeouts_are_accepted_and_change_nothing(ctx, machine):
    # Arrange
    out = installed(ctx, machine)
    before = snapshot(machine.root)

    # Act
    out = configured(ctx, out, **TIMEOUTS)

    # Assert: no haproxy here, so nothing is rendered or restarted.
    assert out.unit_status == testing.ActiveStatus("Unit is ready")
    assert machine.mutations() == [] and snapshot(machine.root) == before


@pytest.mark.parametrize("option", sorted(TIMEOUTS))
def test_a_negative_haproxy_timeout_blocks_naming_it(ctx, machine, option):
    # Act
    out = ctx.run(ctx.on.config_changed(), state(config={option: -1}))

    # Assert
    status = out.unit_status
    assert isinstance(status, testing.BlockedStatus)
    assert status.message.startswith(f"Invalid config: {option} must be from 0 to")


# -- os-*-network ----------------------------------------------------------------------------


def test_an_endpoint_network_uses_the_units_address_in_it(ctx, machine):
    # Arrange: the admin binding is in fd00:a::/64, the operator names the internal network.
    config = {"os-admin-network": "10.5.0.0/24"}

    # Act
    out = ctx.run(ctx.on.config_changed(), state(config=config, networks=three_networks()))

    # Assert
    assert urls(out)[:3] == (
        "http://172.16.0.7:9876",
        "http://10.5.0.7:9876",
        "http://10.5.0.7:9876",
    )
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


def test_with_a_vip_the_vip_in_the_endpoint_network_is_used(ctx, machine):
    # Arrange
    config = {"vip": "10.5.0.100 172.16.0.100 fd00:a::100", "os-public-network": "10.5.0.0/24"}

    # Act
    out = ctx.run(
        ctx.on.config_changed(),
        state(hacluster(clustered=True), config=config, networks=three_networks()),
    )

    # Assert
    assert urls(out)[:3] == (
        "http://10.5.0.100:9876",
        "http://10.5.0.100:9876",
        "http://[fd00:a::100]:9876",
    )


def test_a_hostname_wins_over_the_endpoint_network(ctx, machine):
    # Arrange
    config = {"os-public-network": "10.5.0.0/24", "os-public-hostname": "octavia.example.com"}

    # Act
    out = ctx.run(ctx.on.config_changed(), state(config=config, networks=three_networks()))

    # Assert
    assert urls(out)[0] == "http://octavia.example.com:9876"


def test_an_endpoint_network_without_the_units_address_blocks_naming_it(ctx, machine):
    # Arrange
    out = installed(ctx, machine, networks=three_networks())
    published = dict(related(out, "identity-service").local_unit_data)

    # Act
    out = configured(ctx, out, **{"os-public-network": "192.168.7.0/24"})

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        "os-public-network 192.168.7.0/24 holds none of the unit's addresses"
    )
    assert dict(related(out, "identity-service").local_unit_data) == published


def test_an_endpoint_network_that_is_no_cidr_blocks(ctx, machine):
    # Act
    out = ctx.run(ctx.on.config_changed(), state(config={"os-internal-network": "10.5.0.0/99"}))

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        "Invalid config: os-internal-network: '10.5.0.0/99' is not a network in CIDR form"
        " (e.g. 192.168.0.0/24)"
    )


# -- the volume-based amphora ----------------------------------------------------------------


def test_volume_based_amphora_renders_the_cinder_driver_and_its_volume(ctx, machine):
    # Arrange
    out = installed(ctx, machine)
    assert "volume_driver = volume_noop_driver\n" in (machine.root / CONF).read_text()

    # Act
    out = configured(
        ctx,
        out,
        **{"enable-volume-based-amphora": True, "volume-size": 30, "volume-type": "ssd"},
    )

    # Assert
    conf = (machine.root / CONF).read_text()
    assert "volume_driver = volume_cinder_driver\n" in conf
    cinder = conf.split("[cinder]\n", 1)[1].split("\n[", 1)[0]
    assert "volume_size = 30\n" in cinder and "volume_type = ssd\n" in cinder
    assert sorted(restarts(machine)) == sorted(machine_mod.SERVICES)
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


# -- use-policyd-override --------------------------------------------------------------------


def overrides_zip(path: Path, files: dict[str, str]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, content in files.items():
            z.writestr(name, content)
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def resources(tmp_path_factory) -> Path:
    """Where the attached resources are: outside the unit's file tree."""
    return tmp_path_factory.mktemp("resources")


LB_READ = {"lb.yaml": "load-balancer:read: 'role:reader'\n"}


def juju_without_the_resource(monkeypatch) -> None:
    """A fake of Juju's resource-get for a resource never attached: it fails, as
    ``juju deploy ./octavia.charm`` without ``--resource`` leaves it (ops.testing raises
    an error of its own for a resource missing from the State instead)."""
    from scenario import mocking

    def resource_get(_backend, name: str) -> str:
        raise ops.ModelError(f'ERROR could not download resource: resource "{name}" not found')

    monkeypatch.setattr(mocking._MockModelBackend, "resource_get", resource_get)


def with_resource(out: testing.State, path: Path | None) -> testing.State:
    resources = {testing.Resource(name="policyd-override", path=path)} if path else set()
    return dataclasses.replace(out, resources=resources)


def policy_files(machine) -> dict[str, dict]:
    base = machine.root / POLICY_DIR
    if not base.is_dir():
        return {}
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(base.iterdir())}


def test_policy_overrides_are_installed_with_the_po_prefix(ctx, machine, resources):
    # Arrange
    out = installed(ctx, machine)
    out = with_resource(out, overrides_zip(resources / "po.zip", LB_READ))

    # Act
    out = configured(ctx, out, **{"use-policyd-override": True})

    # Assert
    assert policy_files(machine) == {"lb.yaml": {"load-balancer:read": "role:reader"}}
    assert machine.owners[f"{machine_mod.POLICY_DIR}/lb.yaml"] == ("root", "octavia")
    assert restarts(machine) == ["apache2"]
    assert out.unit_status == testing.ActiveStatus("PO: Unit is ready")

    # Act: the same again changes nothing.
    machine.calls.clear()
    ctx.run(ctx.on.update_status(), out)

    # Assert
    assert machine.mutations() == []


def test_a_new_archive_replaces_the_overrides(ctx, machine, resources):
    # Arrange
    out = with_resource(installed(ctx, machine), overrides_zip(resources / "one.zip", LB_READ))
    out = configured(ctx, out, **{"use-policyd-override": True})
    machine.calls.clear()
    second = overrides_zip(resources / "two.zip", {"quota.yml": "load-balancer:read-quota: '@'"})

    # Act
    out = ctx.run(ctx.on.upgrade_charm(), with_resource(out, second))

    # Assert
    assert policy_files(machine) == {"quota.yaml": {"load-balancer:read-quota": "@"}}
    assert restarts(machine) == ["apache2"]


def test_turning_the_option_off_removes_the_overrides(ctx, machine, resources):
    # Arrange
    out = with_resource(installed(ctx, machine), overrides_zip(resources / "po.zip", LB_READ))
    out = configured(ctx, out, **{"use-policyd-override": True})
    machine.calls.clear()

    # Act
    out = configured(ctx, out, **{"use-policyd-override": False})

    # Assert
    assert policy_files(machine) == {}
    assert restarts(machine) == ["apache2"]
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (None, "use-policyd-override is set but policyd-override: the resource is not attached"),
        ({}, "policyd-override: the archive holds no .yaml or .yml file"),
        ({"lb.yaml": "a: 1"}, "policyd-override: 'lb.yaml': the rules are not all strings"),
    ],
    ids=["not-attached", "no-yaml", "bad-yaml"],
)
def test_a_broken_resource_changes_nothing_and_says_po_broken(
    ctx, machine, resources, monkeypatch, files, message
):
    # Arrange: good overrides in place first.
    out = with_resource(installed(ctx, machine), overrides_zip(resources / "po.zip", LB_READ))
    out = configured(ctx, out, **{"use-policyd-override": True})
    machine.calls.clear()
    before = snapshot(machine.root)
    path = None if files is None else overrides_zip(resources / "bad.zip", files)
    if path is None:
        juju_without_the_resource(monkeypatch)

    # Act
    out = ctx.run(ctx.on.upgrade_charm(), with_resource(out, path))

    # Assert
    assert out.unit_status == testing.BlockedStatus(f"PO (broken): {message}")
    assert snapshot(machine.root) == before
    assert machine.mutations() == []
