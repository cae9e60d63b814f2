"""The packed charm's own dispatch, run as Juju runs it, on each base's bare CPython.

A deployment's hooks in Juju's order (install, leader-elected, config-changed, start, the three
relations joined and changed with the providers' data), then actions: every hook exits 0 and
ends with the status the ops.testing suite expects for the same facts. The hook tools, apt,
dpkg and systemctl are the named fakes of ``tests.packed.unit``.
"""

from __future__ import annotations

import pytest

from tests.bases import BASES, Base
from tests.packed.deployment import ORIGIN, Deployment, deploy, told_juju
from tests.packed.unit import CHARM_DIR, HookRun, PackedUnit
from tests.unit.bad_input.cases import names, one_per_action
from tests.unit.charm_data import DB_PASSWORD, KEYSTONE_PASSWORD, RABBIT_PASSWORD

MISSING_ALL = "Missing relations: identity-service, shared-db, amqp"
# The existing charm's leader settings, in its formats (tests/unit/charm/test_resources.py).
EXISTING_LEADER_SETTINGS = {
    "heartbeat-key": "0b7c1a52-6f1e-4f4e-9d55-3a5cfb6c7a11",
    "amp-boot-network-list": "aaaaaaaa-1111-4222-8333-444444444444",
    "amp-secgroup-list": "bbbbbbbb-1111-4222-8333-444444444444",
    "amp-flavor-id": "cccccccc-1111-4222-8333-444444444444",
}


def _last(run: HookRun) -> tuple[str, str]:
    status = run.statuses[-1]
    return status["status"], status["message"]


@pytest.fixture(scope="module", params=BASES, ids=[b.platform for b in BASES])
def deployment(request, charms, tmp_path_factory) -> Deployment:
    base: Base = request.param
    from tests.lab.venv import cache_dir

    unit = PackedUnit(base, charms[base.platform], tmp_path_factory.mktemp("unit"), cache_dir())
    # Switched from the existing charm: its leader settings hold the key and the resources.
    unit.set_leader_settings(EXISTING_LEADER_SETTINGS)
    return deploy(unit)


def test_every_hook_exits_zero_and_only_known_hook_tools_are_called(deployment):
    failed = {k: r.output[-2000:] for k, r in deployment.runs.items() if r.returncode}
    assert failed == {}
    assert deployment.unit.load()["unknown"] == []


def test_install_adds_the_origin_and_installs_then_blocks_on_the_relations(deployment):
    # Act
    run = deployment.runs["install"]
    messages = [s["message"] for s in run.statuses]
    origin = ORIGIN[deployment.unit.base.version]

    # Assert
    assert _last(run) == ("blocked", MISSING_ALL)
    if origin.startswith("cloud:"):
        assert f"Adding apt source {origin}" in messages
        assert f"Installing packages from {origin}" in messages
        source = deployment.unit.root.path("/etc/apt/sources.list.d/cloud-archive.list")
        assert "jammy-updates/caracal main" in source.read_text()
    else:
        assert messages[0].startswith("Installing octavia-api, ")
    machine = deployment.unit.machine()
    assert {"octavia-api", "octavia-worker", "apache2"} <= set(machine["installed"])


def test_each_relation_moves_the_status_as_in_the_unit_tests(deployment):
    runs = deployment.runs
    assert _last(runs["leader-elected"]) == ("blocked", MISSING_ALL)
    assert _last(runs["config-changed"]) == ("blocked", MISSING_ALL)
    assert _last(runs["identity-service-changed"]) == (
        "blocked",
        "Missing relations: shared-db, amqp",
    )
    assert _last(runs["shared-db-changed"]) == ("blocked", "Missing relations: amqp")
    assert _last(runs["amqp-changed"]) == ("active", "Unit is ready")


def test_the_unit_publishes_its_requests_and_renders_its_files(deployment):
    # Arrange
    unit = deployment.unit
    relations = {r["endpoint"]: r for r in unit.load()["relations"].values()}
    conf = unit.root.path("/etc/octavia/octavia.conf")

    # Assert
    assert relations["identity-service"]["local_unit"]["service"] == "octavia"
    assert relations["shared-db"]["local_unit"]["database"] == "octavia"
    assert relations["amqp"]["local_unit"]["vhost"] == "openstack"
    shared = relations["cluster"]["local_app"]
    assert shared["heartbeat-key"] == EXISTING_LEADER_SETTINGS["heartbeat-key"]
    text = conf.read_text()
    assert "connection = mysql+pymysql://octavia:" in text
    assert f"heartbeat_key = {EXISTING_LEADER_SETTINGS['heartbeat-key']}" in text
    assert "amp_boot_network_list = aaaaaaaa-1111-4222-8333-444444444444" in text
    assert unit.load()["workload_version"]  # the installed Octavia's
    assert oct(conf.stat().st_mode & 0o777) == "0o640"
    assert unit.root.path("/etc/apache2/sites-enabled/octavia-api.conf").is_symlink()
    machine = unit.machine()
    assert [
        "octavia-db-manage",
        "--config-file",
        "/etc/octavia/octavia.conf",
        "upgrade",
        "head",
    ] in (machine["calls"])
    assert {"octavia-worker", "octavia-health-manager", "octavia-housekeeping", "apache2"} <= set(
        machine["active"]
    )
    assert machine["masked"] == ["octavia-api"] and "octavia-api" not in machine["active"]


def test_a_hook_with_nothing_changed_installs_and_restarts_nothing(deployment):
    # Arrange
    unit = deployment.unit
    calls_before = len(unit.machine()["calls"])

    # Act
    run = unit.hook("update-status")

    # Assert
    changes = [
        c
        for c in unit.machine()["calls"][calls_before:]
        if c[0] in ("apt-get", "octavia-db-manage")
        or (c[0] == "systemctl" and c[1] in ("start", "restart", "stop", "mask"))
    ]
    assert run.returncode == 0 and _last(run) == ("active", "Unit is ready")
    assert changes == []


def test_an_action_with_a_bad_bundle_fails_with_the_reason(deployment):
    # Act: store-tls-bundle parses the bundle with the packed venv's cryptography.
    run, action = deployment.unit.action("store-tls-bundle", {"bundle": "aGVsbG8="})

    # Assert
    assert run.returncode == 0, run.output[-2000:]
    assert action["failed"] and "not an unencrypted PKCS#12" in action["failed"]
    assert action["results"] == {}


def test_an_action_without_the_amphora_key_says_where_it_belongs(deployment):
    run, action = deployment.unit.action("check-amphorae", {})
    assert run.returncode == 0, run.output[-2000:]
    assert action["failed"].startswith("check-amphorae: no amphora SSH key at ")


def test_charmhelpers_needs_the_charms_distutils_on_the_bases_python(deployment):
    # Arrange: the packed venv on PYTHONPATH, as dispatch puts it, without the charm's shim.
    unit = deployment.unit
    probe = "import charmhelpers.core.hookenv"

    # Act
    done = unit.root.run(
        ["/usr/bin/python3", "-c", probe],
        env={"PYTHONPATH": f"{CHARM_DIR}/venv", "PATH": "/usr/bin:/bin"},
        check=False,
    )

    # Assert: Python 3.12 has no distutils (the install hook passed through the shim).
    if unit.base.python == "3.12":
        assert "No module named 'distutils'" in done.stderr
    else:
        assert done.returncode == 0, done.stderr


def test_no_secret_reaches_the_unit_log_or_the_action_results(deployment):
    # Arrange: after every hook and both actions (ops forwards DEBUG records to juju-log).
    state = deployment.unit.load()
    peer = next(r for r in state["relations"].values() if r["endpoint"] == "cluster")
    secrets = {
        "keystone password": KEYSTONE_PASSWORD,
        "database password": DB_PASSWORD,
        "rabbitmq password": RABBIT_PASSWORD,
        "heartbeat key": peer["local_app"]["heartbeat-key"],
        "certs passphrase": peer["local_app"]["server-certs-key-passphrase"],
    }
    # The amphora PKI the leader generated, in every revision of its secret.
    (pki,) = state["secrets"].values()
    for revision, content in enumerate(pki["revisions"]):
        for key in ("issuing-ca-key", "issuing-ca-passphrase", "controller-ca-key"):
            secrets[f"{key} (revision {revision})"] = content[key]

    # Act
    logged = told_juju(state)

    # Assert
    assert [name for name, value in secrets.items() if value in logged] == []


@pytest.mark.parametrize("case", one_per_action(), ids=lambda c: c.id)
def test_a_bad_parameter_of_each_action_fails_cleanly_through_dispatch(deployment, case):
    # Act: a value with a newline, which Juju's schema lets through to the charm.
    run, action = deployment.unit.action(case.action, case.params)

    # Assert
    assert run.returncode == 0, run.output[-2000:]
    assert action["failed"], f"{case.id}: the action did not fail"
    assert "\n" not in action["failed"] and names(case.param, action["failed"]), action["failed"]
    assert action["results"] == {}
    assert "Traceback" not in run.output
