"""The real Machine's file operations, on a temporary root (no apt or systemctl here)."""

from __future__ import annotations

import os
import stat

import pytest
from charmed_octavia.unit import machine as unit_machine


@pytest.fixture
def machine(tmp_path) -> unit_machine.Machine:
    return unit_machine.Machine(tmp_path)


def me() -> tuple[str, str]:
    import grp
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name


def test_write_file_creates_with_mode_then_reports_no_change(machine):
    # Arrange
    owner, group = me()
    file = unit_machine.File("/etc/octavia/octavia.conf", b"[DEFAULT]\n", 0o640, owner, group)

    # Act
    first = machine.write_file(file)
    second = machine.write_file(file)

    # Assert
    path = machine.root / "etc/octavia/octavia.conf"
    assert (first, second) == (True, False)
    assert path.read_bytes() == b"[DEFAULT]\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["octavia.conf"]  # no temporary left


def test_write_file_fixes_a_wrong_mode_without_rewriting(machine):
    # Arrange
    owner, group = me()
    file = unit_machine.File("/etc/x.conf", b"a", 0o640, owner, group)
    machine.write_file(file)
    path = machine.root / "etc/x.conf"
    path.chmod(0o644)
    inode = path.stat().st_ino

    # Act
    changed = machine.write_file(file)

    # Assert
    assert changed
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and path.stat().st_ino == inode


def test_write_file_to_an_unknown_group_fails_and_writes_nothing(machine):
    # Arrange
    file = unit_machine.File("/etc/x.conf", b"a", 0o640, "root", "no-such-group-here")

    # Act
    with pytest.raises(
        unit_machine.WorkloadError, match="group 'no-such-group-here' does not exist"
    ):
        machine.write_file(file)

    # Assert
    assert not (machine.root / "etc/x.conf").exists()


def test_symlink_and_remove_are_idempotent(machine):
    # Act
    made = [machine.symlink("/etc/a/site.conf", "../b/site.conf") for _ in range(2)]
    removed = [machine.remove_file("/etc/a/site.conf") for _ in range(2)]

    # Assert
    assert made == [True, False]
    assert removed == [True, False]


def test_read_file(machine):
    # Arrange
    (machine.root / "etc").mkdir()
    (machine.root / "etc/os-release").write_text("ID=ubuntu\n")

    # Act / Assert
    assert machine.read_file("/etc/os-release") == b"ID=ubuntu\n"
    assert machine.read_file("/etc/missing") is None


def test_package_versions_reads_dpkg(machine):
    # Act: dpkg-query is real on this Debian machine; octavia is not installed here.
    versions = machine.package_versions(["dpkg", "octavia-no-such-package"])

    # Assert
    assert list(versions) == ["dpkg"] and versions["dpkg"][0].isdigit()
    assert machine.missing_packages(["dpkg", "octavia-no-such-package"]) == [
        "octavia-no-such-package"
    ]


def test_run_reports_the_failure_tail(machine):
    # Act / Assert
    with pytest.raises(unit_machine.WorkloadError, match=r"sh -c .* failed \(3\): boom"):
        machine.run(["sh", "-c", "echo boom >&2; exit 3"])
    with pytest.raises(unit_machine.WorkloadError, match="no-such-command-xyz"):
        machine.run(["no-such-command-xyz"])


def test_service_refuses_unknown_actions(machine):
    # Act / Assert
    with pytest.raises(ValueError, match="unknown service action 'kill'"):
        machine.service("kill", "apache2")


def test_list_files_names_the_files_of_a_directory_but_not_its_directories(machine):
    # Arrange
    base = machine.root / "etc/octavia/policy.d"
    (base / "sub").mkdir(parents=True)
    (base / "b.yaml").write_text("b: c\n")
    (base / "a.yaml").write_text("a: b\n")

    # Act
    found = machine.list_files("/etc/octavia/policy.d")
    missing = machine.list_files("/etc/octavia/none.d")

    # Assert
    assert found == ["/etc/octavia/policy.d/a.yaml", "/etc/octavia/policy.d/b.yaml"]
    assert missing == []


def test_cpu_count_is_the_machines():
    # Act
    count = unit_machine.Machine().cpu_count()

    # Assert
    assert count == os.cpu_count()
