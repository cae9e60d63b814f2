"""ops.testing of check-amphorae and prepare-amphora: validation, results, failures."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from charmed_octavia.amphora import check, discovery, oom, prepare, results, ssh
from ops import testing

import charm
from tests.unit.fake_machine import FakeMachine


class FakeAmphoraLibrary:
    """Fake of the amphora library's network side (Octavia discovery and SSH).

    ops.testing has no cloud and no amphorae; the real discover/check/prepare run against
    the lab in tests/integration/test_amphora_lab.py. This fake records the calls the
    handlers make and answers with fixed results.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.amps = [
            discovery.Amphora("amp-1", "lb-1", "192.0.2.1"),
            discovery.Amphora("amp-2", "lb-1", "192.0.2.2"),
        ]

    def discover(self, conn, loadbalancer=None):
        self.calls.append(("discover", {"conn": conn, "loadbalancer": loadbalancer}))
        return list(self.amps)

    def check_amphorae(
        self, amps, *, ssh, since=None, concurrency=10, timeout=30.0, haproxy_dir=""
    ):
        self.calls.append(
            (
                "check",
                {
                    "ssh": ssh,
                    "since": since,
                    "concurrency": concurrency,
                    "timeout": timeout,
                    "haproxy_dir": haproxy_dir,
                },
            )
        )
        event = oom.OOMEvent(time="t", victim_pid=7, victim_name="haproxy", total_vm_kb=1)
        return results.CheckReport(
            [
                results.AmphoraResult("amp-1", "lb-1", "h:22", "oom-seen", "killed", [event]),
                results.AmphoraResult("amp-2", "lb-1", "h:22", "unreachable", "timed out"),
            ]
        )

    def prepare_amphorae(self, amps, *, ssh, concurrency=10, timeout=30.0):
        self.calls.append(("prepare", {"ssh": ssh, "concurrency": concurrency}))
        ok = results.AmphoraResult("amp-1", "lb-1", "h:22", "ok", "set", changed=True)
        bad = results.AmphoraResult("amp-2", "lb-1", "h:22", "error", "daemon-reload failed")
        return [ok, bad]


@pytest.fixture
def machine(tmp_path, monkeypatch) -> FakeMachine:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_text("VERSION_CODENAME=jammy\n")
    fake = FakeMachine(tmp_path)
    monkeypatch.setattr(charm.OctaviaCharm, "workload_factory", lambda: fake)
    return fake


@pytest.fixture
def library(monkeypatch) -> FakeAmphoraLibrary:
    fake = FakeAmphoraLibrary()
    monkeypatch.setattr(discovery, "discover", fake.discover)
    monkeypatch.setattr(check, "check_amphorae", fake.check_amphorae)
    monkeypatch.setattr(prepare, "prepare_amphorae", fake.prepare_amphorae)
    monkeypatch.setattr(charm.OctaviaCharm, "_connect", lambda self, config: "conn")
    return fake


def unit_key(machine: FakeMachine) -> Path:
    path, _ = ssh.ensure_keypair(machine.root / "var/lib/charm-octavia/ssh")
    return path


def test_check_results_summary_and_report(machine, library):
    # Arrange
    key = unit_key(machine)
    ctx = testing.Context(charm.OctaviaCharm)
    params = {"loadbalancer": "lb1-xxlarge", "since": "-1h", "concurrency": 5, "timeout": 7}
    # Act
    ctx.run(ctx.on.action("check-amphorae", params=params), testing.State())
    # Assert
    results = ctx.action_results or {}
    assert results["verdict"] == "oom-seen"
    assert results["summary"]["oom-seen"] == "1"
    assert results["summary"]["unreachable"] == "1"
    assert results["not-ok"] == "amp-1: oom-seen: killed\namp-2: unreachable: timed out"
    report_file = Path(results["report-file"])
    assert report_file.parent == machine.root / "var/lib/charm-octavia/reports"
    assert stat.S_IMODE(report_file.stat().st_mode) == 0o600
    report = json.loads(report_file.read_text())
    assert report["results"][0]["oom_events"][0]["victim_pid"] == 7
    assert library.calls[0] == ("discover", {"conn": "conn", "loadbalancer": "lb1-xxlarge"})
    _, check = library.calls[1]
    assert (check["since"], check["concurrency"], check["timeout"]) == ("-1h", 5, 7.0)
    assert check["haproxy_dir"] == "/var/lib/octavia"  # where Octavia's amphorae keep it
    assert check["ssh"].private_key_path == key
    assert check["ssh"].known_hosts_path == key.parent / "known_hosts"
    assert any("amp-2: unreachable: timed out" in line for line in ctx.action_logs)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 101}, "concurrency"),
        ({"timeout": 0}, "timeout"),
        ({"since": "$(reboot)"}, "is not a time"),
    ],
)
def test_check_bad_parameters_fail_before_anything(machine, library, params, message):
    unit_key(machine)
    ctx = testing.Context(charm.OctaviaCharm)
    with pytest.raises(testing.ActionFailed) as info:
        ctx.run(ctx.on.action("check-amphorae", params=params), testing.State())
    assert message in info.value.message
    assert library.calls == []


def test_check_without_key_fails_with_the_reason(machine, library):
    ctx = testing.Context(charm.OctaviaCharm)
    with pytest.raises(testing.ActionFailed) as info:
        ctx.run(ctx.on.action("check-amphorae"), testing.State())
    assert "no amphora SSH key" in info.value.message
    assert library.calls == []


def test_prepare_reports_per_amphora_and_fails_on_any_failure(machine, library):
    unit_key(machine)
    ctx = testing.Context(charm.OctaviaCharm)
    with pytest.raises(testing.ActionFailed) as info:
        ctx.run(ctx.on.action("prepare-amphora", params={"concurrency": 3}), testing.State())
    assert "1 of 2 amphora(e) not prepared" in info.value.message
    assert "amp-2: daemon-reload failed" in info.value.message
    results = ctx.action_results or {}
    assert results["prepared"] == "1" and results["changed"] == "1"
    assert library.calls[-1][1]["concurrency"] == 3


def test_prepare_bad_parameters_fail_before_anything(machine, library):
    unit_key(machine)
    ctx = testing.Context(charm.OctaviaCharm)
    with pytest.raises(testing.ActionFailed):
        ctx.run(ctx.on.action("prepare-amphora", params={"timeout": 0}), testing.State())
    assert library.calls == []


def test_a_check_of_a_hundred_amphorae_fits_what_juju_carries(machine, library, monkeypatch):
    # Arrange: 100 amphorae, each with a long OOM report (a big task table), all killed.
    unit_key(machine)
    tasks = [
        oom.OOMTask(pid=i, uid=0, tgid=i, total_vm_kb=i, rss_kb=i, name=f"task{i}")
        for i in range(300)
    ]
    event = oom.OOMEvent(time="t", victim_pid=7, victim_name="haproxy", tasks=tasks)
    library.amps = [discovery.Amphora(f"amp-{i:03}", "lb-1", "192.0.2.1") for i in range(100)]
    many = [
        results.AmphoraResult(a.id, "lb-1", "h:22", "oom-seen", "killed " * 50, [event])
        for a in library.amps
    ]
    monkeypatch.setattr(check, "check_amphorae", lambda amps, **kwargs: results.CheckReport(many))
    ctx = testing.Context(charm.OctaviaCharm)

    # Act (the autouse fixture holds every result to Juju's size and key rules)
    ctx.run(ctx.on.action("check-amphorae"), testing.State())

    # Assert: the whole report is in the file, the results say how to find it.
    out = ctx.action_results or {}
    assert out["amphorae"] == "100"
    assert "(+80 more in the report file)" in out["not-ok"]
    assert len(json.loads(Path(out["report-file"]).read_text())["results"]) == 100


def test_check_with_a_damaged_known_hosts_fails_naming_the_line(machine, monkeypatch):
    # Arrange: the real check, which reads the host keys before it connects anywhere.
    key = unit_key(machine)
    known_hosts = key.parent / "known_hosts"
    known_hosts.write_text("amp-1 ssh-ed25519 AAAA-not-base64!\n")
    amps = [discovery.Amphora("amp-1", "lb-1", "192.0.2.1")]
    monkeypatch.setattr(discovery, "discover", lambda conn, loadbalancer=None: amps)
    monkeypatch.setattr(charm.OctaviaCharm, "_connect", lambda self, config: "conn")
    ctx = testing.Context(charm.OctaviaCharm)

    # Act
    with pytest.raises(testing.ActionFailed) as info:
        ctx.run(ctx.on.action("check-amphorae"), testing.State())

    # Assert
    assert f"{known_hosts} line 1" in info.value.message
    assert "delete that line" in info.value.message
