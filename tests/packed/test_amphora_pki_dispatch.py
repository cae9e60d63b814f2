"""The amphora PKI the leader generates, and its rotate-amphora-certs action, through the
packed charm's own dispatch on each base's bare CPython.

Two units of one application, each in its own unit root: the leader (no lb-mgmt-* option, so
it generates the PKI into an application secret) and a unit that joins after it. The leader
rotates the controller client certificate; the other unit, woken by the peer relation's new
serial (the owner's units get no secret-changed), renders the secret's new revision. The hook
tools, apt, dpkg and systemctl are the named fakes of ``tests.packed.unit``; the certificates
are checked with the real ``cryptography``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import pytest
from charmed_octavia.unit import amphora_pki, machine

from tests.bases import BASES, Base
from tests.packed.deployment import Deployment, deploy, told_juju
from tests.packed.unit import HookRun, PackedUnit

ROTATE = "rotate-amphora-certs"
SERIAL = "amphora-pki-controller-serial"
NEW_DEPLOYMENT_STATUS = ("waiting", "Run the configure-resources action")
CA_FILES = (machine.ISSUING_CA, machine.ISSUING_CA_KEY, machine.CONTROLLER_CA)


@dataclass(frozen=True)
class Snapshot:
    """What one unit holds of the PKI at one moment."""

    files: dict[str, bytes]
    revisions: list[dict[str, str]]
    shared: dict[str, str]
    machine_calls: int
    tool_calls: int


@dataclass
class Rotation:
    leader: Deployment
    follower: Deployment
    before: Snapshot
    rotated: tuple[HookRun, dict[str, Any]]
    after: Snapshot
    follower_before: Snapshot
    follower_changed: HookRun
    follower_after: Snapshot
    refused: tuple[HookRun, dict[str, Any]]
    follower_refused: Snapshot


def snapshot(unit: PackedUnit) -> Snapshot:
    state = unit.load()
    files = {}
    for path in machine.TLS_FILES:
        found = unit.root.path(path)
        files[path] = found.read_bytes() if found.exists() else b""
    (secret,) = state["secrets"].values()
    shared = state["relations"][unit.peer_relation()]["local_app"]
    return Snapshot(
        files,
        list(secret["revisions"]),
        dict(shared),
        len(unit.machine()["calls"]),
        len(state["calls"]),
    )


@pytest.fixture(scope="module", params=BASES, ids=[b.platform for b in BASES])
def rotation(request, charms, tmp_path_factory) -> Rotation:
    base: Base = request.param
    from tests.lab.venv import cache_dir

    def new_unit(name: str, leader: bool) -> PackedUnit:
        work = tmp_path_factory.mktemp(name.replace("/", "-"))
        return PackedUnit(base, charms[base.platform], work, cache_dir(), name, leader)

    # A new deployment (no existing charm's leader settings, no lb-mgmt-* option).
    leader = deploy(new_unit("octavia/0", leader=True))
    follower = deploy(new_unit("octavia/1", leader=False), leader=leader.unit)
    before, follower_before = snapshot(leader.unit), snapshot(follower.unit)
    rotated = leader.unit.action(ROTATE, {})
    after = snapshot(leader.unit)
    # Juju shares the new serial and revision, then wakes the other unit (application data:
    # no remote unit).
    follower.unit.share_from(leader.unit)
    changed = follower.unit.relation_hook(follower.unit.peer_relation(), "changed")
    follower_after = snapshot(follower.unit)
    refused = follower.unit.action(ROTATE, {})
    return Rotation(
        leader,
        follower,
        before,
        rotated,
        after,
        follower_before,
        changed,
        follower_after,
        refused,
        snapshot(follower.unit),
    )


def _certificate(pem: bytes) -> Any:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem)  # the first block: the certificate


def _octavia_gid(unit: PackedUnit) -> int:
    for line in unit.root.path("/etc/group").read_text().splitlines():
        name, _, gid, *_ = line.split(":")
        if name == "octavia":
            return int(gid)
    raise AssertionError("no octavia group in the unit root")


def _changes_the_machine(call: list[str]) -> bool:
    program, *args = call
    if program == "systemctl":
        return args[0] in ("start", "restart", "stop", "enable", "disable", "mask")
    return program == "octavia-db-manage" or (program == "apt-get" and "install" in args)


def test_every_hook_of_both_units_exits_zero_and_both_become_ready(rotation):
    # Arrange
    runs = {
        f"{d.unit.unit} {hook}": run
        for d in (rotation.leader, rotation.follower)
        for hook, run in d.runs.items()
    }

    # Assert
    assert {k: r.output[-2000:] for k, r in runs.items() if r.returncode} == {}
    for deployment in (rotation.leader, rotation.follower):
        last = deployment.runs["amqp-changed"].statuses[-1]
        # Ready but for the amphora resources, which a new deployment has yet to create.
        assert (last["status"], last["message"]) == NEW_DEPLOYMENT_STATUS
        assert deployment.unit.load()["unknown"] == []


def test_the_leader_generates_the_pki_into_one_application_secret(rotation):
    # Arrange
    unit = rotation.leader.unit
    state = unit.load()
    adds = [c for c in state["calls"] if c[0] == "secret-add"]
    (secret,) = state["secrets"].values()

    # Assert: one secret-add, the PKI's keys in its first revision, its id in the peer data.
    assert len(adds) == 1 and "amphora-pki" in adds[0]
    assert (secret["owner"], secret["label"]) == ("application", "amphora-pki")
    assert set(rotation.before.revisions[0]) == set(amphora_pki.SECRET_KEYS)
    assert rotation.before.shared["amphora-pki-secret-id"].endswith(next(iter(state["secrets"])))
    assert rotation.before.shared[SERIAL]


def test_the_pki_files_are_the_secrets_owned_by_root_readable_by_octavia_only(rotation):
    # Arrange
    unit = rotation.leader.unit
    content = rotation.before.revisions[-1]
    expected = {
        machine.ISSUING_CA: content[amphora_pki.ISSUING_CA],
        machine.ISSUING_CA_KEY: content[amphora_pki.ISSUING_CA_KEY],
        machine.CONTROLLER_CA: content[amphora_pki.CONTROLLER_CA],
        machine.CONTROLLER_CERT: content[amphora_pki.CONTROLLER_CERT],
    }

    # Assert: the controller CA's key stays in the secret.
    assert {p: t.decode() for p, t in rotation.before.files.items()} == expected
    for path in machine.TLS_FILES:
        found = unit.root.path(path).stat()
        assert (found.st_uid, found.st_gid) == (0, _octavia_gid(unit)), path
        assert oct(found.st_mode & 0o777) == "0o440", path
    assert content[amphora_pki.CONTROLLER_CA_KEY].encode() not in b"".join(
        rotation.before.files.values()
    )


def test_the_rotation_adds_a_revision_with_a_new_controller_cert_of_the_same_ca(rotation):
    # Arrange
    run, action = rotation.rotated
    before, after = rotation.before, rotation.after
    new = _certificate(after.files[machine.CONTROLLER_CERT])
    old = _certificate(before.files[machine.CONTROLLER_CERT])
    ca = _certificate(after.files[machine.CONTROLLER_CA])

    # Assert: succeeded, one new revision, the file is the new revision's.
    assert run.returncode == 0 and action["failed"] is None, run.output[-2000:]
    assert len(after.revisions) == len(before.revisions) + 1
    latest = after.revisions[-1]
    assert after.files[machine.CONTROLLER_CERT].decode() == latest[amphora_pki.CONTROLLER_CERT]
    assert new.serial_number != old.serial_number
    assert new.public_key().public_numbers() != old.public_key().public_numbers()
    # Signed by the same controller CA (raises otherwise), whose file is unchanged.
    assert new.issuer == ca.subject
    new.verify_directly_issued_by(ca)
    for path in CA_FILES:
        assert after.files[path] == before.files[path], path
    for key in set(amphora_pki.SECRET_KEYS) - {amphora_pki.CONTROLLER_CERT}:
        assert latest[key] == before.revisions[-1][key], key


def test_the_rotation_publishes_the_new_serial_and_reports_it(rotation):
    # Arrange
    _, action = rotation.rotated
    new = _certificate(rotation.after.files[machine.CONTROLLER_CERT])

    # Assert
    assert rotation.after.shared[SERIAL] == format(new.serial_number, "x")
    assert rotation.after.shared[SERIAL] != rotation.before.shared[SERIAL]
    assert action["results"]["controller-cert-serial"] == rotation.after.shared[SERIAL]
    expires = action["results"]["controller-cert-expires"]
    assert datetime.datetime.fromisoformat(expires) == new.not_valid_after_utc


def test_the_rotation_restarts_only_the_services_that_read_the_certificate(rotation):
    # Arrange
    calls = rotation.leader.unit.machine()["calls"]
    restarted = [
        c[2]
        for c in calls[rotation.before.machine_calls : rotation.after.machine_calls]
        if c[:2] == ["systemctl", "restart"]
    ]

    # Assert
    assert sorted(restarted) == sorted(machine.CONTROLLER_SERVICES)


def test_the_other_unit_renders_the_new_revision_on_its_peer_relation_changed(rotation):
    # Arrange
    before, after = rotation.follower_before, rotation.follower_after
    calls = rotation.follower.unit.load()["calls"]

    # Assert: it had the leader's first PKI, and now has the rotated one.
    assert before.files == rotation.before.files
    assert rotation.follower_changed.returncode == 0, rotation.follower_changed.output[-2000:]
    assert after.files == rotation.after.files
    assert after.files[machine.CONTROLLER_CERT] != before.files[machine.CONTROLLER_CERT]
    # It only read: the secret and the application data are the leader's to change.
    assert not [c for c in calls if c[0] in ("secret-add", "secret-set")]
    assert not [c for c in calls if c[0] == "relation-set" and "--app" in c]


def test_the_action_on_a_non_leader_fails_and_changes_nothing(rotation):
    # Arrange
    run, action = rotation.refused
    before, after = rotation.follower_after, rotation.follower_refused
    calls = rotation.follower.unit.load()["calls"][before.tool_calls : after.tool_calls]
    machine_calls = rotation.follower.unit.machine()["calls"][before.machine_calls :]

    # Assert
    assert run.returncode == 0, run.output[-2000:]
    assert action["failed"] == (
        "rotate-amphora-certs runs on the leader unit (it owns the PKI secret)"
    )
    assert action["results"] == {}
    assert (after.files, after.revisions, after.shared) == (
        before.files,
        before.revisions,
        before.shared,
    )
    assert [c[0] for c in calls if c[0] in ("secret-add", "secret-set", "relation-set")] == []
    assert [c for c in machine_calls if _changes_the_machine(c)] == []


def test_a_hook_after_the_rotation_keeps_the_new_certificate_and_restarts_nothing(rotation):
    # Arrange
    unit = rotation.leader.unit
    calls_before = len(unit.machine()["calls"])

    # Act
    run = unit.hook("update-status")

    # Assert
    changes = [c for c in unit.machine()["calls"][calls_before:] if _changes_the_machine(c)]
    assert run.returncode == 0, run.output[-2000:]
    assert snapshot(unit).files == rotation.after.files
    assert changes == []


def test_no_key_or_passphrase_reaches_a_log_or_an_action_result(rotation):
    # Arrange: every revision's keys and passphrase, the peer data's secrets.
    secrets: dict[str, str] = {}
    for number, content in enumerate(rotation.after.revisions):
        for index, value in enumerate(amphora_pki.secret_values(content)):
            secrets[f"revision {number}, value {index}"] = value
    for key in ("heartbeat-key", "server-certs-key-passphrase"):
        secrets[key] = rotation.after.shared[key]

    # Act: what both units told Juju, the results of both actions included.
    told = "\n".join(told_juju(d.unit.load()) for d in (rotation.leader, rotation.follower))
    for _, action in (rotation.rotated, rotation.refused):
        told += "\n".join([*action["results"].values(), action["failed"] or "", *action["log"]])

    # Assert
    assert len(secrets) >= 2 * 4 + 2
    assert [name for name, value in secrets.items() if value in told] == []
