"""The amphora library against the lab amphora: real haproxy, sshd and kernel OOM-killer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from charmed_octavia import amphora, ssh

from tests.lab import amphora as lab_amphora

pytestmark = pytest.mark.amphora

_REASON = lab_amphora.unavailable_reason()
if _REASON:
    pytest.skip(f"lab amphora unavailable: {_REASON}", allow_module_level=True)


@pytest.fixture(scope="module")
def key(tmp_path_factory) -> tuple[Path, str]:
    return ssh.ensure_keypair(tmp_path_factory.mktemp("unit") / "ssh")


def test_vulnerable_templater_reload_is_oom_killed_and_check_sees_it(key, tmp_path):
    # Arrange: 1 GiB standing for 32 GiB, haproxy.cfg rendered by octavia 14.0.x.
    private, public = key
    with lab_amphora.LabAmphora(memory_bytes=1 << 30, templater="vulnerable") as amp:
        amp.authorize(public)
        amp.create_listener()
        # Act: the pool creation's reload, then the check over SSH.
        reload = amp.create_pool()
        report = amphora.check_amphorae(
            [amp.amphora()],
            ssh=amp.ssh_settings(private, tmp_path / "known_hosts"),
            since=amp.since,
            haproxy_dir=amp.octavia_dir,
        )
        memcg = amp.cgroup.kernel_path if amp.cgroup else None
    # Assert: the kernel killed haproxy in the amphora's cgroup and the check reports it.
    assert reload["oom_kills"] >= 1
    (result,) = report.results
    assert result.verdict == "oom-seen", result.reason
    assert report.summary["oom-seen"] == 1
    mine = [e for e in result.oom_events if e.memcg == memcg]
    assert mine, [e.memcg for e in result.oom_events]
    event = mine[-1]
    assert event.victim_name == "haproxy"
    assert event.constraint == "CONSTRAINT_MEMCG"
    assert event.shmem_rss_kb and event.shmem_rss_kb > 100 * 1024
    assert any(task.name == "haproxy" for task in event.tasks)
    (config,) = result.configs
    assert config["assessment"]["formula"]["formula"] == "pre-fix"
    assert config["assessment"]["at_risk"] is True
    assert result.memory_kb == 1 << 20
    assert result.log_source in ("dmesg", "journalctl")


def test_fixed_templater_reload_survives_and_check_says_ok(key, tmp_path):
    private, public = key
    with lab_amphora.LabAmphora(memory_bytes=1 << 30, templater="fixed") as amp:
        amp.authorize(public)
        amp.create_listener()
        reload = amp.create_pool()
        report = amphora.check_amphorae(
            [amp.amphora()],
            ssh=amp.ssh_settings(private, tmp_path / "known_hosts"),
            since=amp.since,
            haproxy_dir=amp.octavia_dir,
        )
        assert "octavia-17.0.1" in amp.renders[-1]["octavia_file"]
    assert reload["oom_kills"] == 0
    assert reload["check_returncode"] == 0 and reload["new_workers"]
    (result,) = report.results
    assert result.verdict == "ok", result.reason
    (config,) = result.configs
    assert config["assessment"]["formula"]["formula"] == "post-fix"
    assert config["assessment"]["headroom_kb"] > 0
    assert len(result.haproxy_processes) >= 2


def test_failures_are_reported_per_amphora_while_others_complete(key, tmp_path):
    private, public = key
    with lab_amphora.LabAmphora(memory_bytes=256 << 20) as amp:
        amp.authorize(public)
        settings = amp.ssh_settings(private, tmp_path / "known_hosts")
        closed = lab_amphora.free_port()
        settings = amphora.SSHSettings(
            private_key_path=settings.private_key_path,
            known_hosts_path=settings.known_hosts_path,
            username="root",
            address_map={**settings.address_map, "192.0.2.9": ("127.0.0.1", closed)},
        )
        # A recorded key that the lab sshd does not have: as if the amphora were replaced.
        impostor_id = "amphora-with-changed-key"
        other_key, _ = ssh.ensure_keypair(tmp_path / "other")
        import asyncssh

        ssh.HostKeyStore(settings.known_hosts_path).record(
            impostor_id, asyncssh.read_private_key(other_key).convert_to_public()
        )
        good = amp.amphora()
        amps = [
            good,
            amphora.Amphora(impostor_id, good.loadbalancer_id, good.lb_network_ip),
            amphora.Amphora("amphora-down", good.loadbalancer_id, "192.0.2.9"),
        ]
        # since: the lab shares this host's kernel log, which has earlier runs' OOM kills.
        report = amphora.check_amphorae(
            amps, ssh=settings, since=amp.since, haproxy_dir=amp.octavia_dir, timeout=10
        )
        by_id = {r.amphora_id: r for r in report.results}
        # No haproxy.cfg yet (no listener): an error with the reason, data still collected.
        assert by_id[good.id].verdict == "error"
        assert "no haproxy.cfg" in by_id[good.id].reason
        assert by_id[good.id].mem_total_kb
        assert by_id[impostor_id].verdict == "error"
        assert "host key changed" in by_id[impostor_id].reason
        assert by_id["amphora-down"].verdict == "unreachable"
        # The first contact recorded the real host key under the amphora's id.
        recorded = ssh.HostKeyStore(settings.known_hosts_path).get(good.id)
        assert recorded is not None
        assert (
            recorded.export_public_key("openssh").decode().split()[1]
            == (amp.host_public_key().split()[1])
        )
        # A key the amphora does not authorize is refused.
        refused = amphora.check_amphorae(
            [good],
            ssh=dataclass_replace(settings, private_key_path=other_key),
            haproxy_dir=amp.octavia_dir,
        )
        assert refused.results[0].verdict == "error"
        assert "key refused" in refused.results[0].reason


def test_prepare_edits_the_amphora_copy_only_and_is_idempotent(key, tmp_path):
    private, public = key
    host_conf = Path("/etc/systemd/system.conf")
    host_digest = hashlib.sha256(host_conf.read_bytes()).hexdigest()
    with lab_amphora.LabAmphora(memory_bytes=256 << 20) as amp:
        amp.authorize(public)
        settings = amp.ssh_settings(private, tmp_path / "known_hosts")
        first = amphora.prepare_amphorae([amp.amphora()], ssh=settings)
        second = amphora.prepare_amphorae([amp.amphora()], ssh=settings)
        conf = amp.system_conf()
        reloads = amp.systemctl_log().splitlines()
    assert first[0].verdict == "ok" and first[0].changed is True
    assert second[0].verdict == "ok" and second[0].changed is False
    assert "\nDefaultTimeoutStartSec=infinity\n" in conf
    assert "\nDefaultTimeoutStopSec=infinity\n" in conf
    assert len(reloads) == 1 and reloads[0].endswith("daemon-reload")
    assert hashlib.sha256(host_conf.read_bytes()).hexdigest() == host_digest


def dataclass_replace(settings: amphora.SSHSettings, **changes) -> amphora.SSHSettings:
    import dataclasses

    return dataclasses.replace(settings, **changes)
