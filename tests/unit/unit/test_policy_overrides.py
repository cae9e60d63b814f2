"""The policyd-override archive: which files it puts in policy.d, and what it refuses."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping

import pytest
import yaml
from charmed_octavia.unit import policy_overrides as po
from charmed_octavia.unit.machine import POLICY_DIR, File


def archive(files: Mapping[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, content in files.items():
            z.writestr(name, content)
    return buffer.getvalue()


GOOD = {
    "lb.yaml": "load-balancer:read: 'rule:load-balancer:admin'\n",
    "sub/quota.yml": "load-balancer:read-quota: 'role:reader'\n",
    "README.txt": "not a policy",
}


def test_each_yaml_file_becomes_one_policy_file_named_after_it():
    # Act
    files = po.parse(archive(GOOD))

    # Assert: flattened, .yml written as .yaml, other files ignored.
    assert sorted(files) == [f"{POLICY_DIR}/lb.yaml", f"{POLICY_DIR}/quota.yaml"]
    lb = files[f"{POLICY_DIR}/lb.yaml"]
    assert yaml.safe_load(lb.content) == {"load-balancer:read": "rule:load-balancer:admin"}
    assert (lb.owner, lb.group, lb.mode) == ("root", "octavia", 0o640)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the resource is empty"),
        (b"PK\x03\x04 not really", "not a ZIP archive"),
        (archive({"README": "x"}), "no .yaml or .yml file"),
        (archive({"a/p.yaml": "a: b", "b/p.yml": "c: d"}), "p is in the archive twice"),
        (archive({"p.yaml.j2": "a: b"}), "is a template"),
        (archive({"p.yaml": "a: [b"}), "is not YAML"),
        (archive({"p.yaml": b"\xff\xfe\x00"}), "is not YAML"),
        (archive({"p.yaml": "- a\n- b\n"}), "not a mapping of policy names to rules"),
        (archive({"p.yaml": ""}), "not a mapping of policy names to rules"),
        (archive({"p.yaml": "1: 'rule'"}), "the policy names are not all strings"),
        (archive({"p.yaml": "a: 1"}), "the rules are not all strings"),
        (archive({"p.yaml": "admin_required: 'role:admin'"}), "admin_required cannot be"),
        (archive({"p.yaml": "a: '" + "x" * (po.MAX_FILE_BYTES + 1) + "'"}), "exceeds"),
        (archive({"-rf.yaml": "a: b"}), "not a usable file name"),
    ],
    ids=[
        "empty",
        "not-zip",
        "no-yaml",
        "duplicate",
        "template",
        "bad-yaml",
        "not-text",
        "list",
        "empty-yaml",
        "int-key",
        "int-value",
        "refused-key",
        "too-big",
        "bad-name",
    ],
)
def test_bad_archives_are_refused_with_the_reason(data, message):
    # Act
    with pytest.raises(po.PolicyOverrideError) as err:
        po.parse(data)

    # Assert
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_disabled_wants_an_empty_policy_dir_and_no_prefix():
    # Act
    overrides = po.wanted(False, archive(GOOD))
    write, remove = po.changes(overrides, [f"{POLICY_DIR}/old.yaml"])

    # Assert
    assert (write, remove) == ({}, [f"{POLICY_DIR}/old.yaml"])
    assert po.status_prefix(overrides) == ""


def test_enabled_writes_the_archives_files_and_removes_every_other():
    # Act
    overrides = po.wanted(True, archive(GOOD))
    write, remove = po.changes(overrides, [f"{POLICY_DIR}/lb.yaml", f"{POLICY_DIR}/old.yaml"])

    # Assert
    assert sorted(write) == [f"{POLICY_DIR}/lb.yaml", f"{POLICY_DIR}/quota.yaml"]
    assert all(isinstance(f, File) for f in write.values())
    assert remove == [f"{POLICY_DIR}/old.yaml"]
    assert po.status_prefix(overrides) == "PO: "


@pytest.mark.parametrize(
    ("resource", "problem"),
    [
        (None, "use-policyd-override is set but policyd-override: the resource is not attached"),
        (b"", "policyd-override: the resource is empty"),
        (archive({"p.yaml": "a: 1"}), "policyd-override: 'p.yaml': the rules are not all"),
    ],
    ids=["not-attached", "empty", "bad"],
)
def test_a_broken_resource_changes_nothing_and_says_why(resource, problem):
    # Act
    overrides = po.wanted(True, resource)
    write, remove = po.changes(overrides, [f"{POLICY_DIR}/lb.yaml"])

    # Assert
    assert (write, remove) == ({}, [])
    assert overrides.problem.startswith(problem)
    assert po.status_prefix(overrides) == "PO (broken): "
