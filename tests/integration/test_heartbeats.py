"""Heartbeats through the lab: the lab amphora's sender (the amphora agent's own
``run_sender`` with the agent configuration the worker rendered for the amphora, reporting the
lab amphora's real haproxy) to the lab's real octavia-health-manager, which checks each
heartbeat's HMAC and updates ``amphora_health`` and the operating statuses in MariaDB.
"""

from __future__ import annotations

import configparser
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from charmed_octavia.cloud import connection, loadbalancers

from tests.infrastructure import require
from tests.lab import amphora as lab_amphora
from tests.lab import procs
from tests.lab.control import Lab
from tests.lab.services import octavia

pytestmark = [pytest.mark.lab, pytest.mark.amphora]
INTERVAL = octavia.HEARTBEAT_INTERVAL
WAIT = 120.0  # the bound on every wait for the worker or the health manager
HMAC_REFUSED = "not equal to msg hmac"  # status_message's warning, then the listener's


@dataclass
class Heartbeats:
    lab: Lab
    amp: lab_amphora.LabAmphora
    member: Any
    lb_id: str
    amphora_id: str
    key: str  # the lab's [health_manager] heartbeat_key: never printed


def _lab_reason() -> str | None:
    from tests.lab import host

    missing = host.host_prerequisites()
    return f"missing {', '.join(missing)}" if missing else None


def _lab_key(lab: Lab) -> str:
    parser = configparser.RawConfigParser()
    parser.read(lab.octavia_conf)
    return parser["health_manager"]["heartbeat_key"]


def _health_row(lab: Lab, amphora_id: str) -> tuple[str, int] | None:
    """The amphora's ``amphora_health`` row: its last_update and its age in seconds."""
    checked = str(uuid.UUID(amphora_id))  # only a UUID goes into the statement
    query = "SELECT last_update, TIMESTAMPDIFF(SECOND, last_update, UTC_TIMESTAMP()) "
    query += f"FROM octavia.amphora_health WHERE amphora_id = '{checked}'"
    rows = lab.database_rows(query)
    return (rows[0][0], int(rows[0][1])) if rows else None


def _updated_after(lab: Lab, amphora_id: str, before: str | None) -> str:
    def fresh() -> str | None:
        row = _health_row(lab, amphora_id)
        return row[0] if row and row[0] != before and row[1] <= 2 * INTERVAL else None

    return str(procs.wait_for(f"a heartbeat of amphora {amphora_id}", fresh, timeout=WAIT))


def _operating_status(heartbeats: Heartbeats) -> str:
    return heartbeats.member.load_balancer.get_load_balancer(heartbeats.lb_id).operating_status


@pytest.fixture(scope="module")
def heartbeats() -> Iterator[Heartbeats]:
    require(lab_amphora.unavailable_reason(), "the lab amphora")
    require(_lab_reason(), "the lab control plane")
    with (
        # The worker's own templater: an HTTP listener has no TLS session cache.
        lab_amphora.LabAmphora(memory_bytes=256 << 20) as amp,
        Lab(
            octavia_overrides=amp.octavia_overrides(),
            worker_pythonpath=amp.worker_pythonpath(),
        ) as lab,
    ):
        member = connection.connect_cloud(lab.member_cloud, lab.clouds_yaml)
        admin = connection.connect_cloud(lab.admin_cloud, lab.clouds_yaml)
        tag = f"heartbeats-{uuid.uuid4().hex[:8]}"
        lb = member.load_balancer.create_load_balancer(
            name=tag, vip_subnet_id=lab.lab_networks.ext_subnet_id, tags=[tag]
        )
        try:
            loadbalancers.wait_lb_active(member, lb.id, timeout=WAIT)
            listener = member.load_balancer.create_listener(
                name=tag, protocol="HTTP", protocol_port=80, loadbalancer_id=lb.id
            )
            loadbalancers.wait_lb_active(member, lb.id, timeout=WAIT)
            pool = member.load_balancer.create_pool(
                name=tag, listener_id=listener.id, protocol="HTTP", lb_algorithm="ROUND_ROBIN"
            )
            loadbalancers.wait_lb_active(member, lb.id, timeout=WAIT)
            # No health monitor: haproxy reports the member "no check", its pool UP.
            member.load_balancer.create_member(pool.id, address="192.0.2.10", protocol_port=80)
            loadbalancers.wait_lb_active(member, lb.id, timeout=WAIT)
            (amphora,) = admin.load_balancer.amphorae(loadbalancer_id=lb.id)
            yield Heartbeats(lab, amp, member, lb.id, amphora.id, _lab_key(lab))
        finally:
            loadbalancers.delete_load_balancer(member, lb.id, timeout=WAIT)


def test_the_amphoras_heartbeats_bring_its_load_balancer_online(heartbeats: Heartbeats):
    # Arrange: the worker booted the amphora on the lab amphora with its agent configuration.
    lab, amp, amphora_id = heartbeats.lab, heartbeats.amp, heartbeats.amphora_id
    agent = amp.heartbeat_agent(amphora_id)
    conf = configparser.RawConfigParser()
    conf.read(agent / "amphora-agent.conf")
    # Act: wait for the health manager to record a heartbeat, then for the statuses.
    _updated_after(lab, amphora_id, None)
    procs.wait_for(
        "the load balancer ONLINE",
        lambda: _operating_status(heartbeats) == "ONLINE",
        timeout=WAIT,
    )
    # Assert: the agent configuration is the worker's rendering for this amphora (its id, the
    # lab's health manager, the lab's key), private; the heartbeats it signs are accepted.
    assert conf["amphora_agent"]["amphora_id"] == amphora_id
    assert conf["health_manager"]["controller_ip_port_list"] == (
        f"127.0.0.1:{lab.ports['health_manager']}"
    )
    assert conf["health_manager"]["heartbeat_key"] == heartbeats.key, "not the lab's key"
    assert (agent / "amphora-agent.conf").stat().st_mode & 0o077 == 0
    row = _health_row(lab, amphora_id)
    assert row is not None and row[1] <= 2 * INTERVAL, row
    # The message came from haproxy's stats: the listener and its pool are reported.
    (listener,) = heartbeats.member.load_balancer.listeners(loadbalancer_id=heartbeats.lb_id)
    (pool,) = heartbeats.member.load_balancer.pools(loadbalancer_id=heartbeats.lb_id)
    assert _operating_status(heartbeats) == "ONLINE"
    assert listener.operating_status == "ONLINE"
    assert pool.operating_status == "ONLINE"
    assert HMAC_REFUSED not in lab.log_tail("octavia-health-manager", 400)
    # The key reaches no log: the lab's services', the sender's.
    logs = [*sorted((lab.dir / "logs").glob("*.log")), agent / "heartbeat.log"]
    leaked = [path.name for path in logs if heartbeats.key in path.read_text(errors="replace")]
    assert leaked == []


def test_heartbeats_signed_with_another_key_are_refused(heartbeats: Heartbeats):
    # Arrange: heartbeats are arriving; the health manager's log so far.
    lab, amp, amphora_id = heartbeats.lab, heartbeats.amp, heartbeats.amphora_id
    _updated_after(lab, amphora_id, None)
    hm_log = lab.dir / "logs" / "octavia-health-manager.log"
    sender_log = amp.heartbeat_agent(amphora_id) / "heartbeat.log"
    reloads = sender_log.read_text().count("Reloading configuration")
    # Act: the amphora's agent signs with a key the controller does not have.
    amp.set_heartbeat_key(amphora_id, secrets.token_hex(16))
    procs.wait_for(
        "the sender's reload",
        lambda: sender_log.read_text().count("Reloading configuration") > reloads,
        timeout=WAIT,
    )
    time.sleep(INTERVAL + 1)  # a heartbeat signed before the reload may still be processed
    offset = hm_log.stat().st_size
    before = _health_row(lab, amphora_id)
    time.sleep(4 * INTERVAL)
    after = _health_row(lab, amphora_id)
    with open(hm_log, "rb") as handle:
        handle.seek(offset)
        refused = handle.read().decode(errors="replace")
    # Assert: the health manager dropped each heartbeat (HMAC mismatch) and updated nothing.
    assert before is not None and after is not None
    assert after[0] == before[0], "amphora_health was updated from wrongly signed heartbeats"
    assert after[1] >= 4 * INTERVAL
    assert refused.count(HMAC_REFUSED) >= 2, refused[-2000:]
    assert "Ignoring this packet" in refused
    # ... and the same agent, with the controller's key again, is accepted again.
    amp.set_heartbeat_key(amphora_id, heartbeats.key)
    assert _updated_after(lab, amphora_id, after[0]) != after[0]


def test_the_lab_health_manager_listens_where_the_amphorae_send(heartbeats: Heartbeats):
    # Arrange / Act: the lab as brought up.
    lab = heartbeats.lab
    conf = configparser.RawConfigParser()
    conf.read(lab.octavia_conf)
    port = lab.ports["health_manager"]
    # Assert: bound on the UDP port of controller_ip_port_list; failover off by default.
    assert procs.udp_bound(port)
    assert conf["health_manager"]["bind_port"] == str(port)
    assert conf["health_manager"]["controller_ip_port_list"] == f"127.0.0.1:{port}"
    assert int(conf["health_manager"]["heartbeat_timeout"]) >= 86400
    assert lab.service_pid("octavia-housekeeping") is not None
    assert "Stale amphora" not in lab.log_tail("octavia-health-manager", 400)


def test_deleting_the_load_balancer_ends_its_amphoras_heartbeats(heartbeats: Heartbeats):
    # Arrange: the amphora's sender runs.
    lab, amp, amphora_id = heartbeats.lab, heartbeats.amp, heartbeats.amphora_id
    agent = amp.heartbeat_agent(amphora_id)
    pid = lab_amphora.heartbeat.sender_pid(agent)
    assert pid is not None
    # Act: delete the load balancer (its amphora's compute goes with it).
    loadbalancers.delete_load_balancer(heartbeats.member, heartbeats.lb_id, timeout=WAIT)
    # Assert: the compute deletion stopped the sender and removed its agent directory; the
    # amphora's health row went with the amphora.
    assert not procs.pid_alive(pid)
    assert not agent.exists()
    assert _health_row(lab, amphora_id) is None
