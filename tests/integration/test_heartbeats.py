"""Heartbeats through the lab: the lab amphora's sender (the amphora agent's own
``run_sender`` with the agent configuration the worker rendered for the amphora, reporting the
lab amphora's real haproxy) to the lab's real octavia-health-manager, which checks each
heartbeat's HMAC and updates ``amphora_health`` and the operating statuses in MariaDB.

First on 127.0.0.1, as the lab's other suites and the SRU plan run them. Then the data path end
to end, as on a cloud: from an amphora's port on lb-mgmt-net, through OVN, to the health
manager bound to the charm's o-hm0. The charm's leader runs on the lab's chassis
(``charm_on_chassis``): configure-resources makes lb-mgmt-net and its security groups, and the
unit's hooks make its health-manager port and o-hm0. The lab amphora gets its place on
lb-mgmt-net as Nova would give an amphora's server: a port with the amphora security group
(``lb-mgmt-sec-grp``), bound to the chassis and plugged there into a network namespace of its
own. The lab's octavia-health-manager then runs in the chassis' namespace with the
``[health_manager]`` section the charm rendered (``bind_ip`` is o-hm0's address; the unit's
``controller_ip_port_list`` and heartbeat key), and the worker writes that list and key into
the amphora's agent configuration. The sender runs in the amphora's namespace: its heartbeats
reach the health manager only through the two ports' OVS interfaces, OVN's logical switch and
both security groups. One lab serves both halves, in this order.
"""

from __future__ import annotations

import configparser
import dataclasses
import ipaddress
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from charmed_octavia.cloud import connection, loadbalancers
from charmed_octavia.unit import ohm0, resources

from tests.infrastructure import require
from tests.integration.charm_on_chassis import UnitOnChassis, charm_unit
from tests.integration.test_neutron import nb
from tests.lab import amphora as lab_amphora
from tests.lab import procs
from tests.lab.chassis import Chassis, PluggedPort
from tests.lab.chassis_health import HEALTH_MANAGER, charm_section, move_health_manager
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
    key: str = dataclasses.field(repr=False)  # the lab's heartbeat_key: never printed


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


def _load_balancer(lab: Lab, member: Any, name: str) -> str:
    """A load balancer with an HTTP listener, a pool and a member, ACTIVE; its id."""
    tag = f"{name}-{uuid.uuid4().hex[:8]}"
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
    except BaseException:
        loadbalancers.delete_load_balancer(member, lb.id, timeout=WAIT)
        raise
    return lb.id


@pytest.fixture(scope="module")
def amphora_lab() -> Iterator[tuple[lab_amphora.LabAmphora, Lab]]:
    """The module's lab, whose worker drives the lab amphora."""
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
        yield amp, lab


@pytest.fixture(scope="module")
def heartbeats(amphora_lab: tuple[lab_amphora.LabAmphora, Lab]) -> Iterator[Heartbeats]:
    amp, lab = amphora_lab
    member = connection.connect_cloud(lab.member_cloud, lab.clouds_yaml)
    admin = connection.connect_cloud(lab.admin_cloud, lab.clouds_yaml)
    lb_id = _load_balancer(lab, member, "heartbeats")
    try:
        (amphora,) = admin.load_balancer.amphorae(loadbalancer_id=lb_id)
        yield Heartbeats(lab, amp, member, lb_id, amphora.id, _lab_key(lab))
    finally:
        loadbalancers.delete_load_balancer(member, lb_id, timeout=WAIT)


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


# -- over lb-mgmt-net, OVN and o-hm0 ----------------------------------------------------


@dataclass
class DataPath:
    lab: Lab
    chassis: Chassis
    unit: UnitOnChassis
    amp: lab_amphora.LabAmphora
    plugged: PluggedPort
    member: Any
    lb_id: str
    amphora_id: str
    # The charm's [health_manager]: never printed (its key), not even by a failed assert.
    section: dict[str, str] = dataclasses.field(repr=False)


def _shared(unit: UnitOnChassis) -> dict[str, str]:
    peer = next(r for r in unit.configured.relations if r.endpoint == "cluster")
    return dict(peer.local_app_data)


def _amphora_port(unit: UnitOnChassis, chassis: Chassis) -> tuple[Any, str]:
    """The amphora's port on lb-mgmt-net, as Nova makes a server's: the amphora security
    group, bound to the chassis; and its address with the subnet's prefix."""
    shared = _shared(unit)
    net = unit.admin.network
    port = net.create_port(
        name=f"lab-amphora-mgmt-{uuid.uuid4().hex[:8]}",
        network_id=shared[resources.BOOT_NETWORKS],
        security_group_ids=shared[resources.SECGROUPS].split(","),
        binding_host_id=chassis.name,
        device_owner="compute:nova",
    )
    fixed = port.fixed_ips[0]
    prefix = ipaddress.ip_network(net.get_subnet(fixed["subnet_id"]).cidr).prefixlen
    return port, f"{fixed['ip_address']}/{prefix}"


@pytest.fixture(scope="module")
def data_path(
    amphora_lab: tuple[lab_amphora.LabAmphora, Lab], tmp_path_factory
) -> Iterator[DataPath]:
    """After the loopback tests: the charm's unit on a chassis of the module's lab, the lab
    amphora on lb-mgmt-net, the health manager on o-hm0, and a new load balancer."""
    amp, lab = amphora_lab
    with (
        Chassis(lab) as chassis,
        charm_unit(lab, chassis, tmp_path_factory.mktemp("unit")) as unit,
    ):
        port, interface = _amphora_port(unit, chassis)
        with chassis.plug(port.id, port.mac_address, interface) as plugged:
            amp.attach_management(plugged.netns, plugged.address)
            section = charm_section(unit.octavia_conf)
            move_health_manager(lab, chassis, section)
            member = connection.connect_cloud(lab.member_cloud, lab.clouds_yaml)
            admin = connection.connect_cloud(lab.admin_cloud, lab.clouds_yaml)
            lb_id = _load_balancer(lab, member, "data-path")
            try:
                (amphora,) = admin.load_balancer.amphorae(loadbalancer_id=lb_id)
                yield DataPath(
                    lab, chassis, unit, amp, plugged, member, lb_id, amphora.id, section
                )
            finally:
                loadbalancers.delete_load_balancer(member, lb_id, timeout=WAIT)


def _rx_packets(chassis: Chassis) -> int:
    link = json.loads(chassis.run(["ip", "-j", "-s", "link", "show", "dev", ohm0.INTERFACE]))
    return int(link[0]["stats64"]["rx"]["packets"])


def test_heartbeats_from_lb_mgmt_net_reach_the_health_manager_on_o_hm0(data_path: DataPath):
    # Arrange: the amphora's agent configuration, as the worker rendered it.
    path = data_path
    agent = path.amp.heartbeat_agent(path.amphora_id)
    rendered = (agent / "amphora-agent.conf").read_text()
    received = _rx_packets(path.chassis)

    # Act: a heartbeat recorded after this point, and o-hm0's count of received packets grown.
    before = _health_row(path.lab, path.amphora_id)
    _updated_after(path.lab, path.amphora_id, before[0] if before else None)
    procs.wait_for("o-hm0 receives", lambda: _rx_packets(path.chassis) > received, timeout=WAIT)
    procs.wait_for(
        "the load balancer ONLINE",
        lambda: path.member.load_balancer.get_load_balancer(path.lb_id).operating_status
        == "ONLINE",
        timeout=WAIT,
    )

    # Assert: the charm's list and key in the agent's configuration; the amphora's
    # lb_network_ip is its lb-mgmt-net address; the sender runs in the amphora's namespace,
    # the health manager in the chassis', bound to o-hm0's address, which received them.
    hm_list = path.section["controller_ip_port_list"]
    assert f"controller_ip_port_list = {hm_list}" in rendered
    assert path.section["heartbeat_key"] in rendered, "not the charm's heartbeat key"
    assert hm_list == f"{path.unit.conf('bind_ip')}:5555"
    admin = connection.connect_cloud(path.lab.admin_cloud, path.lab.clouds_yaml)
    assert admin.load_balancer.get_amphora(path.amphora_id).lb_network_ip == path.plugged.address
    sender = lab_amphora.heartbeat.sender_pid(agent)
    assert sender is not None
    assert _netns(sender) == _netns_of(path.plugged.netns)
    manager = path.lab.service_pid(HEALTH_MANAGER)
    assert manager is not None and _netns(manager) == _netns_of(path.chassis.namespace)
    assert nb(path.lab, "lsp-get-up", path.plugged.port_id).strip() == "up"
    # Its own log lines: the loopback tests above had the lab's refuse another key.
    assert HMAC_REFUSED not in path.lab.service(HEALTH_MANAGER).log_since_start()
    logs = [*sorted((path.lab.dir / "logs").glob("*.log")), agent / "heartbeat.log"]
    key = path.section["heartbeat_key"]
    assert [p.name for p in logs if key in p.read_text(errors="replace")] == []


def test_heartbeats_signed_with_another_key_are_refused_on_o_hm0(data_path: DataPath):
    # Arrange: heartbeats arrive; the health manager's log so far.
    path = data_path
    _updated_after(path.lab, path.amphora_id, None)
    hm_log = path.lab.dir / "logs" / f"{HEALTH_MANAGER}.log"
    sender_log = path.amp.heartbeat_agent(path.amphora_id) / "heartbeat.log"
    reloads = sender_log.read_text().count("Reloading configuration")

    # Act: the amphora's agent signs with a key the unit does not have.
    path.amp.set_heartbeat_key(path.amphora_id, secrets.token_hex(16))
    try:
        procs.wait_for(
            "the sender's reload",
            lambda: sender_log.read_text().count("Reloading configuration") > reloads,
            timeout=WAIT,
        )
        time.sleep(INTERVAL + 1)  # one signed before the reload may still be processed
        offset = hm_log.stat().st_size
        before = _health_row(path.lab, path.amphora_id)
        time.sleep(4 * INTERVAL)
        after = _health_row(path.lab, path.amphora_id)
        with open(hm_log, "rb") as handle:
            handle.seek(offset)
            refused = handle.read().decode(errors="replace")
    finally:
        path.amp.set_heartbeat_key(path.amphora_id, path.section["heartbeat_key"])

    # Assert: dropped (HMAC mismatch), nothing updated; the unit's key is accepted again.
    assert before is not None and after is not None
    assert after[0] == before[0], "amphora_health was updated from wrongly signed heartbeats"
    assert refused.count(HMAC_REFUSED) >= 2, refused[-2000:]
    assert _updated_after(path.lab, path.amphora_id, after[0]) != after[0]


def _netns(pid: int) -> int:
    return _netns_of(f"/proc/{pid}/ns/net")


def _netns_of(path: str) -> int:
    return os.stat(path).st_ino


_LIB = Path(__file__).resolve().parents[2] / "lib"
# The plan's amphora check, run where a verifier on a unit runs it: on lb-mgmt-net (the
# chassis' namespace, o-hm0's), reaching each amphora at its lb_network_ip, port 22.
_CHECK = (
    "import dataclasses, json, sys\n"
    "from pathlib import Path\n"
    "from charmed_octavia.amphora import check, discovery, ssh\n"
    "a = json.loads(sys.argv[1])\n"
    "settings = ssh.SSHSettings(Path(a['key']), Path(a['known_hosts']), username='root')\n"
    "report = check.check_amphorae([discovery.Amphora(**x) for x in a['amphorae']],\n"
    "    ssh=settings, since=a['since'], haproxy_dir=a['haproxy_dir'], timeout=30)\n"
    "print(json.dumps([dataclasses.asdict(r) for r in report.results], default=str))\n"
)


def test_the_amphora_check_reaches_the_amphora_at_its_lb_network_ip_through_ovn(
    data_path: DataPath, tmp_path
):
    # Arrange: the plan's discovery (Octavia's API), its key authorized on the amphora.
    from charmed_octavia.amphora import discovery, ssh

    path = data_path
    admin = connection.connect_cloud(path.lab.admin_cloud, path.lab.clouds_yaml)
    amphorae = discovery.discover(admin, loadbalancer=path.lb_id)
    private, public = ssh.ensure_keypair(tmp_path / "ssh")
    path.amp.authorize(public)
    assert path.amp.since is not None
    args = {
        "key": str(private),
        "known_hosts": str(tmp_path / "ssh" / "known_hosts"),
        "amphorae": [dataclasses.asdict(a) for a in amphorae],
        "since": path.amp.since.isoformat(),
        "haproxy_dir": path.amp.octavia_dir,
    }

    # Act
    done = subprocess.run(
        path.chassis.command(
            ["env", f"PYTHONPATH={_LIB}", sys.executable, "-c", _CHECK, json.dumps(args)]
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Assert: the address checked is the amphora's on lb-mgmt-net, and the check got its
    # haproxy's processes and configuration from there.
    assert done.returncode == 0, done.stderr[-2000:]
    (result,) = json.loads(done.stdout)
    assert [a.lb_network_ip for a in amphorae] == [path.plugged.address]
    assert result["address"] == f"[{path.plugged.address}]:22"
    # An HTTP listener (no TLS session cache): nothing at risk, no OOM kill.
    assert result["verdict"] == "ok", result["reason"]
    assert result["haproxy_processes"], result
    assert result["configs"], result
