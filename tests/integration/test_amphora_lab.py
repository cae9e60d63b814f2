"""The amphora library against the lab amphora: real haproxy, sshd and kernel OOM-killer.

The last test drives the lab amphora through the lab control plane: Octavia's API and worker
(with the lab amphora driver) render and reload haproxy as pool creation does.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import time
import uuid
from pathlib import Path
from typing import Any, TypeVar

import pytest
from charmed_octavia.amphora import check, discovery, prepare, ssh
from charmed_octavia.cloud import tls

from tests.infrastructure import require
from tests.lab import amphora as lab_amphora
from tests.lab import worker_drivers

pytestmark = pytest.mark.amphora
_T = TypeVar("_T")


@pytest.fixture(autouse=True)
def _lab_amphora_can_run() -> None:
    require(lab_amphora.unavailable_reason(), "the lab amphora")


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
        report = check.check_amphorae(
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
    # The amphora's kernel log is its own: only its cgroup's reports, however many labs run.
    assert result.oom_events and {e.memcg for e in result.oom_events} == {memcg}
    event = result.oom_events[-1]
    assert event.victim_name == "haproxy"
    assert event.constraint == "CONSTRAINT_MEMCG"
    assert event.shmem_rss_kb and event.shmem_rss_kb > 100 * 1024
    assert any(task.name == "haproxy" for task in event.tasks)
    (config,) = result.configs
    assert config.formula == "pre-fix"
    assert config.assessment is not None and config.assessment.at_risk is True
    assert result.memory_kb == 1 << 20
    assert result.log_source in ("dmesg", "journalctl")


def test_fixed_templater_reload_survives_and_check_says_ok(key, tmp_path):
    private, public = key
    with lab_amphora.LabAmphora(memory_bytes=1 << 30, templater="fixed") as amp:
        amp.authorize(public)
        amp.create_listener()
        reload = amp.create_pool()
        report = check.check_amphorae(
            [amp.amphora()],
            ssh=amp.ssh_settings(private, tmp_path / "known_hosts"),
            since=amp.since,
            haproxy_dir=amp.octavia_dir,
        )
        assert "octavia-14.0.2+lp2119987-ssl-cachesize-" in amp.renders[-1]["octavia_file"]
    assert reload["oom_kills"] == 0
    assert reload["check_returncode"] == 0 and reload["new_workers"]
    (result,) = report.results
    assert result.verdict == "ok", result.reason
    (config,) = result.configs
    assert config.formula == "post-fix"
    assert config.assessment is not None and config.assessment.headroom_kb > 0
    assert len(result.haproxy_processes) >= 2


def test_a_neighbours_oom_kill_is_not_in_the_amphoras_kernel_log(key, tmp_path):
    # Arrange: two amphorae on this one kernel, as when labs run side by side; the
    # neighbour's reload (vulnerable templater) is OOM-killed while this one's (fixed) is not.
    private, public = key
    with (
        lab_amphora.LabAmphora(memory_bytes=256 << 20, templater="vulnerable") as neighbour,
        lab_amphora.LabAmphora(memory_bytes=256 << 20, templater="fixed") as amp,
    ):
        amp.authorize(public)
        neighbour.authorize(public)
        amp.create_listener()
        amp.create_pool()
        neighbour.create_listener()
        killed = neighbour.create_pool()
        # Act: check both amphorae over SSH.
        report = check.check_amphorae(
            [amp.amphora(), dataclass_replace(neighbour.amphora(), lb_network_ip="192.0.2.2")],
            ssh=ssh.SSHSettings(
                private_key_path=private,
                known_hosts_path=tmp_path / "known_hosts",
                username="root",
                address_map={
                    "192.0.2.1": ("127.0.0.1", amp.ssh_port),
                    "192.0.2.2": ("127.0.0.1", neighbour.ssh_port),
                },
            ),
            since=amp.since,
            haproxy_dir=amp.octavia_dir,
        )
        kills_here = amp.cgroup.oom_kills() if amp.cgroup else None
        neighbour_memcg = neighbour.cgroup.kernel_path if neighbour.cgroup else None
    # Assert: the host kernel's log has the neighbour's kill; only the neighbour sees it.
    assert killed["oom_kills"] >= 1 and kills_here == 0
    mine, theirs = report.results
    assert mine.verdict == "ok", mine.reason
    assert mine.oom_events == []
    assert theirs.verdict == "oom-seen", theirs.reason
    assert {e.memcg for e in theirs.oom_events} == {neighbour_memcg}


def test_failures_are_reported_per_amphora_while_others_complete(key, tmp_path):
    private, public = key
    with lab_amphora.LabAmphora(memory_bytes=256 << 20) as amp:
        amp.authorize(public)
        settings = amp.ssh_settings(private, tmp_path / "known_hosts")
        closed = lab_amphora.free_port()
        settings = ssh.SSHSettings(
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
            discovery.Amphora(impostor_id, good.loadbalancer_id, good.lb_network_ip),
            discovery.Amphora("amphora-down", good.loadbalancer_id, "192.0.2.9"),
        ]
        # since: the lab shares this host's kernel log, which has earlier runs' OOM kills.
        report = check.check_amphorae(
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
        refused = check.check_amphorae(
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
        first = prepare.prepare_amphorae([amp.amphora()], ssh=settings)
        second = prepare.prepare_amphorae([amp.amphora()], ssh=settings)
        conf = amp.system_conf()
        reloads = amp.systemctl_log().splitlines()
    assert first[0].verdict == "ok" and first[0].changed is True
    assert second[0].verdict == "ok" and second[0].changed is False
    assert "\nDefaultTimeoutStartSec=infinity\n" in conf
    assert "\nDefaultTimeoutStopSec=infinity\n" in conf
    assert len(reloads) == 1 and reloads[0].endswith("daemon-reload")
    assert hashlib.sha256(host_conf.read_bytes()).hexdigest() == host_digest


def dataclass_replace(item: _T, **changes: Any) -> _T:
    return dataclasses.replace(item, **changes)  # pyright: ignore[reportArgumentType]


# -- through Octavia: the lab control plane's worker drives the lab amphora -------------------
def _wait(conn: Any, lb_id: str, timeout: float = 240.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        lb = conn.load_balancer.get_load_balancer(lb_id)
        if not str(lb.provisioning_status).startswith("PENDING"):
            return lb
        if time.monotonic() > deadline:
            raise AssertionError(f"load balancer {lb_id} still {lb.provisioning_status}")
        time.sleep(0.5)


def _wait_deleted(conn: Any, lb_id: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lb = conn.load_balancer.find_load_balancer(lb_id, ignore_missing=True)
        if lb is None or lb.provisioning_status == "DELETED":
            return
        time.sleep(0.5)
    raise AssertionError(f"load balancer {lb_id} not deleted within {timeout:g} s")


@pytest.mark.lab
@pytest.mark.parametrize(
    ("templater", "verdict", "formula"),
    [("vulnerable", "oom-seen", "pre-fix"), ("fixed", "ok", "post-fix")],
)
def test_pool_create_through_octavia_reloads_the_lab_amphora(
    amphora_worker_lab, key, tmp_path, templater, verdict, formula
):
    private, public = key
    with (
        lab_amphora.LabAmphora(memory_bytes=1 << 30, templater=templater) as amp,
        worker_drivers.overridden(amphora_worker_lab, amp.octavia_overrides()) as lab,
    ):
        amp.authorize(public)
        from charmed_octavia.cloud import connection

        member = connection.connect_cloud(lab.member_cloud, lab.clouds_yaml)
        admin = connection.connect_cloud(lab.admin_cloud, lab.clouds_yaml)
        tag = f"amphora-lab-{uuid.uuid4().hex[:8]}"
        # Arrange: a PKCS#12 bundle in Barbican and a load balancer (noop network: any subnet).
        secret = member.key_manager.create_secret(
            name=tag,
            payload=base64.b64encode(tls.generate_bundle("xxlarge.devstack").pkcs12).decode(),
            payload_content_type="application/octet-stream",
            payload_content_encoding="base64",
            secret_type="opaque",
        )
        lb = member.load_balancer.create_load_balancer(
            name=tag, vip_subnet_id=lab.lab_networks.ext_subnet_id, tags=[tag]
        )
        try:
            assert _wait(member, lb.id).provisioning_status == "ACTIVE"
            # Act: the listener starts haproxy, the pool's creation reloads it.
            listener = member.load_balancer.create_listener(
                name=tag,
                protocol="TERMINATED_HTTPS",
                protocol_port=443,
                loadbalancer_id=lb.id,
                default_tls_container_ref=secret.secret_ref,
            )
            assert _wait(member, lb.id).provisioning_status == "ACTIVE", lab.log_tail(
                "octavia-worker"
            )
            member.load_balancer.create_pool(
                name=tag, listener_id=listener.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN"
            )
            assert _wait(member, lb.id).provisioning_status == "ACTIVE", lab.log_tail(
                "octavia-worker"
            )
            found = discovery.discover(admin, lb.id)
            report = check.check_amphorae(
                found,
                ssh=amp.ssh_settings(private, tmp_path / "known_hosts"),
                since=amp.since,
                haproxy_dir=amp.octavia_dir,
            )
            events = amp.driver_events()
            memcg = amp.cgroup.kernel_path if amp.cgroup else None
        finally:
            # Children first (the listener's deletion stops haproxy), then the load balancer.
            for pool in list(member.load_balancer.pools(loadbalancer_id=lb.id)):
                member.load_balancer.delete_pool(pool.id, ignore_missing=True)
                _wait(member, lb.id)
            for item in list(member.load_balancer.listeners(loadbalancer_id=lb.id)):
                member.load_balancer.delete_listener(item.id, ignore_missing=True)
                _wait(member, lb.id)
            member.load_balancer.delete_load_balancer(lb.id, cascade=True, ignore_missing=True)
            _wait_deleted(member, lb.id)
            member.key_manager.delete_secret(
                secret.secret_ref.rstrip("/").rsplit("/", 1)[-1], ignore_missing=False
            )
        stopped = amp.driver_events()[len(events) :]
        left = [s for s in member.key_manager.secrets() if s.name == tag]

    # Assert: the worker rendered with the expected release and started haproxy; pool creation
    # then reloaded it (fixed) or was OOM-killed in the amphora, during the agent's
    # "haproxy -c" of the new file or the reload itself (vulnerable).
    assert all(e["lb_id"] == lb.id for e in events), events
    expected_file = (
        "octavia-14.0.2+lp2119987-ssl-cachesize-"
        if templater == "fixed"
        else "site-packages/octavia/"
    )
    assert all(expected_file in e["octavia_file"] for e in events), events
    assert events and events[0].get("action") == "start", events
    pool_update = events[-1]
    assert pool_update["memory"]["total"] == 1 << 20
    if templater == "vulnerable":
        assert pool_update["action"] in ("refused", "reload"), events
        assert pool_update["oom_kills"] >= 1, events
    else:
        assert [e["action"] for e in events] == ["start", "reload"], events
        assert pool_update["oom_kills"] == 0 and pool_update["new_workers"], events
    applied = [e for e in events if e["action"] in ("start", "reload")][-1]
    # ... and the check over SSH of the amphora Octavia reports gives the verdict.
    (result,) = report.results
    assert result.amphora_id == found[0].id and result.loadbalancer_id == lb.id
    assert result.verdict == verdict, result.reason
    (config,) = result.configs
    assert config.settings.path == f"{amp.octavia_dir}/{lb.id}/haproxy.cfg"
    assert config.settings.ssl_cachesize == applied["ssl_cachesize"]
    assert config.formula == formula
    if templater == "vulnerable":
        # Only this amphora's cgroup's reports, even with other labs' kills on the host.
        assert {e.memcg for e in result.oom_events} == {memcg}, result.reason
        assert result.oom_events[-1].victim_name == "haproxy", result.reason
    else:
        assert result.oom_events == [], result.reason
    # Deleting the listener stopped haproxy; nothing created is left.
    assert any(e["action"] == "stop" for e in stopped), stopped
    assert not left
