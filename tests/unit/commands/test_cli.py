"""octavia-sru's main, in process: usage errors exit 2 before anything connects, failures
exit 1 naming the cause, reports go where they are told, the exit status tells the verdict."""

from __future__ import annotations

import argparse
import stat

import pytest
from charmed_octavia.commands import cli
from charmed_octavia.commands.workspace import Outcome

from tests.unit.loopback_cloud import closed_port


@pytest.fixture
def cloud(tmp_path, monkeypatch):
    """A clouds.yaml whose one cloud, "c", has its Keystone on a port nobody listens on, and
    a state directory of the test's: a command that connects fails, naming Keystone."""
    keystone = f"http://127.0.0.1:{closed_port()}/v3"
    path = tmp_path / "clouds.yaml"
    path.write_text(
        "clouds:\n  c:\n    auth:\n"
        f"      auth_url: {keystone}\n      username: u\n      password: secret-pw\n"
        "      project_name: p\n      user_domain_name: Default\n"
        "      project_domain_name: Default\n    region_name: RegionOne\n"
    )
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    for name in ("OS_CLOUD", "OS_AUTH_URL", "OS_PASSWORD", "OS_USERNAME"):
        monkeypatch.delenv(name, raising=False)
    return keystone


def _create_flavor(name: str) -> list[str]:
    """create-flavor's command line on cloud "c", with valid sizes."""
    sizes = ["--ram", "1", "--disk", "0", "--vcpus", "1"]
    return ["--os-cloud", "c", "create-flavor", "--name", name, *sizes]


def test_a_parameter_out_of_its_bounds_exits_2_with_the_reason(cloud, capsys):
    # Act
    with pytest.raises(SystemExit) as caught:
        cli.main(["--os-cloud", "c", "run-test-plan", "--listener-port", "0"])

    # Assert
    assert caught.value.code == 2
    assert "argument --listener-port: listener-port must be at least 1" in capsys.readouterr().err


def test_a_parameter_its_class_refuses_exits_2_before_anything_connects(cloud, capsys):
    # Act
    with pytest.raises(SystemExit) as caught:
        cli.main(_create_flavor("a\x01b"))

    # Assert: a connection would have failed on Keystone's closed port (exit 1).
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "octavia-sru: error: create-flavor: " in err
    assert "control character" in err
    assert "Keystone" not in err


def test_an_unknown_cloud_exits_2_saying_so(cloud, capsys):
    # Act
    code = cli.main(["--os-cloud", "nosuch", "cleanup"])

    # Assert
    assert code == 2
    assert capsys.readouterr().err == "octavia-sru: error: Cloud nosuch was not found.\n"


def test_cleanup_of_a_run_not_recorded_fails_before_connecting(cloud, tmp_path, capsys):
    # Act
    code = cli.main(["--os-cloud", "c", "cleanup", "--run-id", "nosuchrun"])

    # Assert
    assert code == 1
    err = capsys.readouterr().err
    runs = tmp_path / "state" / "octavia-sru" / "runs"
    assert f"no record of test-plan run 'nosuchrun' in {runs}: nothing was deleted" in err


def test_a_command_that_cannot_reach_keystone_exits_1_naming_it_and_no_secret(cloud, capsys):
    # Act
    code = cli.main(_create_flavor("f"))

    # Assert
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert f"octavia-sru: create-flavor: Keystone (identity) at {cloud} is unreachable" in err
    assert "secret-pw" not in err


def _args(tmp_path, action, **given):
    values = {"action": action, "report": None, "json": None} | given
    return argparse.Namespace(**values)


@pytest.mark.parametrize(
    ("verdict", "failure", "code"),
    [
        ("fixed", None, 0),
        ("reproduced", None, 3),
        ("not-reproduced", None, 4),
        ("at-risk", None, 5),
        ("inconclusive", None, 6),
        ("failed", "run-test-plan r: step pool failed: x", 1),
    ],
)
def test_run_test_plans_exit_status_tells_the_verdict(tmp_path, capsys, verdict, failure, code):
    # Arrange
    outcome = Outcome(
        results={"verdict": verdict, "verdict-reason": "because", "report": "# R"},
        failure=failure,
        reports={"md": "# Report\n", "json": "{}"},
        verdict=verdict,
    )

    # Act
    got = cli.deliver(_args(tmp_path, "run-test-plan"), outcome)

    # Assert
    out, err = capsys.readouterr()
    assert got == code
    assert out == "# Report\n"
    assert f"verdict: {verdict} (because)" in err


@pytest.mark.parametrize(
    ("worst", "code"),
    [("none", 0), ("ok", 0), ("oom-seen", 3), ("at-risk", 5), ("unreachable", 6), ("error", 6)],
)
def test_check_amphorae_exit_status_tells_the_worst_amphora(tmp_path, capsys, worst, code):
    # Arrange
    outcome = Outcome(results={"verdict": worst}, reports={"json": "{}"}, verdict=worst)

    # Act / Assert
    assert cli.deliver(_args(tmp_path, "check-amphorae"), outcome) == code


def test_report_and_json_go_to_files_only_their_owner_reads(tmp_path, capsys):
    # Arrange
    report, data = tmp_path / "r.md", tmp_path / "r.json"
    outcome = Outcome(
        results={"verdict": "fixed", "verdict-reason": "r"},
        reports={"md": "# Report", "json": '{"verdict": "fixed"}'},
        verdict="fixed",
    )

    # Act
    code = cli.deliver(_args(tmp_path, "run-test-plan", report=report, json=data), outcome)

    # Assert
    assert code == 0
    assert capsys.readouterr().out == ""
    assert report.read_text() == "# Report\n"
    assert data.read_text() == '{"verdict": "fixed"}\n'
    for path in (report, data):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_command_without_a_report_prints_its_results_as_json(tmp_path, capsys):
    # Arrange
    outcome = Outcome(results={"action": "created", "id": "f1", "attributes": {"ram": "1"}})

    # Act
    code = cli.deliver(_args(tmp_path, "create-flavor"), outcome)

    # Assert
    assert code == 0
    assert capsys.readouterr().out == (
        '{\n "action": "created",\n "attributes": {\n  "ram": "1"\n },\n "id": "f1"\n}\n'
    )


def test_progress_lines_carry_the_seconds_since_the_start():
    # Arrange
    import io

    times = iter([100.0, 101.5, 163.25])
    stream = io.StringIO()
    emit = cli.progress_printer(stream, clock=lambda: next(times))

    # Act
    emit("preflight: started")
    emit("keypair: ok in 0.3 s.\nsecond line")

    # Assert
    assert stream.getvalue() == (
        "[    1.5 s] preflight: started\n"
        "[   63.2 s] keypair: ok in 0.3 s.\n"
        "[   63.2 s] second line\n"
    )
