"""o-hm0 on the lab's chassis: ``reconcile_ohm0`` plugs the health manager's Neutron port into
a real Open vSwitch (userspace datapath) whose ovn-controller binds it in the lab's OVN, so
Neutron reports it ACTIVE, as on a unit with the ovn-chassis subordinate."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openstack.connection
import pytest
from charmed_octavia.cloud import health_ports
from charmed_octavia.unit import ohm0

from tests.integration.test_neutron import nb
from tests.lab import procs
from tests.lab.chassis import Chassis, ChassisMachine
from tests.lab.control import Lab

pytestmark = pytest.mark.lab

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# An IPv6 ULA subnet with SLAAC, as configure-resources makes lb-mgmt-net's.
CIDR = "fd00:c0de:4d3::/64"


@dataclass
class Plugged:
    """The health manager's port on the chassis after the first reconcile."""

    conn: openstack.connection.Connection
    network_id: str
    subnet_id: str
    port_id: str
    machine: ChassisMachine
    first: ohm0.Ohm0Result


def ohm0_port(
    conn: openstack.connection.Connection, port_id: str, subnet_id: str
) -> ohm0.Ohm0Port:
    """The port description as the charm makes it from Neutron: the port, its network's MTU,
    its subnet's CIDR."""
    port = conn.network.get_port(port_id)
    network = conn.network.get_network(port.network_id)
    subnet = conn.network.get_subnet(subnet_id)
    return ohm0.Ohm0Port.from_fixed_ips(
        port.id, port.mac_address, network.mtu, port.fixed_ips, {subnet.id: subnet.cidr}
    )


def device(chassis: Chassis) -> dict:
    """o-hm0 as ``ip -j addr show`` reports it in the chassis' namespace."""
    return json.loads(chassis.run(["ip", "-j", "addr", "show", "dev", ohm0.INTERFACE]))[0]


def global_addresses(link: dict) -> set[str]:
    return {f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"] if a["scope"] == "global"}


def mutations(machine: ChassisMachine) -> list[tuple[str, ...]]:
    return [c for c in machine.commands if not any(c[: len(r)] == r for r in ohm0.READ_COMMANDS)]


@pytest.fixture(scope="module")
def plugged(lab: Lab, chassis: Chassis, tmp_path_factory) -> Iterator[Plugged]:
    conn = lab.connect()
    name = f"lab-hm-{uuid.uuid4().hex[:8]}"
    network = conn.network.create_network(name=name)
    try:
        subnet = conn.network.create_subnet(
            name=name,
            network_id=network.id,
            ip_version=6,
            cidr=CIDR,
            ipv6_address_mode="slaac",
            ipv6_ra_mode="slaac",
        )
        # Neutron binds a port to a host only once it knows the host's OVN controller agent.
        procs.wait_for(
            "Neutron knows the chassis' agent",
            lambda: any(a.is_alive for a in conn.network.agents(host=chassis.name)),
            timeout=60,
        )
        port = conn.network.create_port(
            name=f"octavia-health-manager-{name}-listen-port",
            network_id=network.id,
            device_owner="Octavia:health-mgr",
            binding_host_id=chassis.name,
        )
        machine = ChassisMachine(chassis, tmp_path_factory.mktemp("unit"))
        first = ohm0.reconcile_ohm0(machine, ohm0_port(conn, port.id, subnet.id), TEMPLATES)
        yield Plugged(conn, network.id, subnet.id, port.id, machine, first)
    finally:
        for port in conn.network.ports(network_id=network.id):
            conn.network.delete_port(port.id)
        conn.network.delete_network(network.id)


def test_the_port_comes_up_in_neutron_and_ovn_and_o_hm0_is_the_port(
    lab: Lab, chassis: Chassis, plugged: Plugged
):
    # Arrange
    conn = plugged.conn

    # Act
    procs.wait_for(
        "the port ACTIVE in Neutron",
        lambda: health_ports.hm_port_status(conn, plugged.port_id) == "ACTIVE",
        timeout=60,
    )
    up = procs.wait_for(
        "the logical port up in OVN",
        lambda: nb(lab, "lsp-get-up", plugged.port_id).strip() == "up",
        timeout=60,
    )
    port = conn.network.get_port(plugged.port_id)

    # Assert
    assert up and port.binding_host_id == chassis.name
    assert port.binding_vif_type == "ovs"
    link = device(chassis)
    network = conn.network.get_network(plugged.network_id)
    fixed = port.fixed_ips[0]["ip_address"]
    assert (link["address"], link["mtu"]) == (port.mac_address, network.mtu)
    assert global_addresses(link) == {f"{fixed}/64"}
    assert "UP" in link["flags"]
    # SLAAC: Neutron's fixed IP is the EUI-64 address of the MAC, the static one o-hm0 holds.
    mac = bytes.fromhex(port.mac_address.replace(":", ""))
    eui64 = bytes([mac[0] ^ 2, *mac[1:3], 0xFF, 0xFE, *mac[3:]])
    prefix = ipaddress.ip_network(CIDR).network_address.packed[:8]
    assert ipaddress.ip_address(prefix + eui64) == ipaddress.ip_address(fixed)
    assert plugged.first.bind_ip == fixed
    assert plugged.first.changes[0] == "ovs-port added"
    ids = chassis.run(["ovs-vsctl", "get", "Interface", ohm0.INTERFACE, "external_ids"])
    assert f'iface-id="{port.id}"' in ids and f'attached-mac="{port.mac_address}"' in ids


def test_a_second_reconcile_runs_nothing_that_changes_anything(plugged: Plugged):
    # Arrange
    conn, machine = plugged.conn, plugged.machine
    port = ohm0_port(conn, plugged.port_id, plugged.subnet_id)
    ohm0.reconcile_ohm0(machine, port, TEMPLATES)
    files = [machine.root / p.lstrip("/") for p in (ohm0.NETWORK_FILE, ohm0.LINK_FILE)]
    before = [f.stat().st_mtime_ns for f in files]
    machine.commands.clear()

    # Act
    result = ohm0.reconcile_ohm0(machine, port, TEMPLATES)

    # Assert
    assert (result.changed, result.changes) == (False, ())
    assert machine.commands and mutations(machine) == []
    assert [f.stat().st_mtime_ns for f in files] == before


def test_a_changed_network_mtu_is_corrected(chassis: Chassis, plugged: Plugged):
    # Arrange
    conn, machine = plugged.conn, plugged.machine
    mtu = conn.network.get_network(plugged.network_id).mtu - 42
    conn.network.update_network(plugged.network_id, mtu=mtu)
    port = ohm0_port(conn, plugged.port_id, plugged.subnet_id)
    machine.commands.clear()

    # Act
    result = ohm0.reconcile_ohm0(machine, port, TEMPLATES)

    # Assert
    assert port.mtu == mtu
    assert device(chassis)["mtu"] == mtu
    requested = chassis.run(["ovs-vsctl", "get", "Interface", ohm0.INTERFACE, "mtu_request"])
    assert int(requested) == mtu
    network_file = (machine.root / ohm0.NETWORK_FILE.lstrip("/")).read_text()
    assert f"MTUBytes={mtu}\n" in network_file
    assert result.changes == ("ovs-port corrected", f"wrote {ohm0.NETWORK_FILE}")


def test_a_mac_address_changed_on_the_device_is_put_back_and_the_port_stays_up(
    lab: Lab, chassis: Chassis, plugged: Plugged
):
    # Arrange
    conn, machine = plugged.conn, plugged.machine
    port = ohm0_port(conn, plugged.port_id, plugged.subnet_id)
    chassis.run(["ip", "link", "set", "dev", ohm0.INTERFACE, "address", "02:00:00:00:00:01"])
    machine.commands.clear()

    # Act
    result = ohm0.reconcile_ohm0(machine, port, TEMPLATES)

    # Assert
    assert mutations(machine) == [
        ("ip", "link", "set", "dev", ohm0.INTERFACE, "address", port.mac)
    ]
    assert result.changes == (f"mac {port.mac}",)
    assert device(chassis)["address"] == port.mac
    assert nb(lab, "lsp-get-up", plugged.port_id).strip() == "up"
    assert conn.network.get_port(plugged.port_id).status == "ACTIVE"


# Receives one datagram on the health manager's port (Octavia's heartbeats are UDP to 5555).
_RECEIVE = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
    "s.bind((sys.argv[1], 5555)); s.settimeout(30)\n"
    "data, peer = s.recvfrom(100); print(data.decode(), peer[0])\n"
)
_SEND = (
    "import socket, sys, time\n"
    "s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
    "for _ in range(30):\n"
    "    s.sendto(b'heartbeat', (sys.argv[1], 5555)); time.sleep(1)\n"
)


def test_a_datagram_from_an_amphora_port_reaches_the_bind_ip_through_ovn(
    chassis: Chassis, plugged: Plugged
):
    # Arrange: a second port of the network, plugged as an amphora's would be, in a network
    # namespace of its own.
    conn = plugged.conn
    amp = conn.network.create_port(network_id=plugged.network_id, binding_host_id=chassis.name)
    amp_ip = amp.fixed_ips[0]["ip_address"]
    bind_ip = ohm0_port(conn, plugged.port_id, plugged.subnet_id).bind_ip
    try:
        with chassis.plug(amp.id, amp.mac_address, f"{amp_ip}/64") as amphora:
            listener = subprocess.Popen(
                chassis.command([sys.executable, "-c", _RECEIVE, bind_ip]),
                stdout=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            with procs.started(listener):
                # The sender repeats: the listener binds meanwhile.
                sender = subprocess.Popen(
                    amphora.command([sys.executable, "-c", _SEND, bind_ip]),
                    start_new_session=True,
                )

                # Act
                with procs.started(sender):
                    received, _ = listener.communicate(timeout=40)
    finally:
        conn.network.delete_port(amp.id)

    # Assert
    assert received.split() == ["heartbeat", amp_ip]


def test_the_chassis_processes_are_the_labs_own_in_their_namespace(lab: Lab, chassis: Chassis):
    # Act
    rss = chassis.rss_by_process()
    bridges = chassis.run(["ovs-vsctl", "get", "Bridge", "br-int", "datapath_type"])
    host_links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout

    # Assert
    assert set(rss) == {"chassis-ovsdb", "chassis-vswitchd", "chassis-ovn-controller"}
    assert all(size > 0 for size in rss.values())
    assert bridges.strip() == "netdev"
    assert ohm0.INTERFACE not in host_links.split()
    assert str(chassis.dir).startswith(str(lab.dir))
