"""The lab's Neutron (ML2/OVN) through the library's connection, what it writes to the lab's OVN
northbound database, and Octavia checking VIPs against it."""

from __future__ import annotations

import configparser
import subprocess
import time
import uuid

import openstack.exceptions
import pytest

from tests.lab.control import Lab
from tests.lab.networks import EXT_NET, EXT_SUBNET, MGMT_NET
from tests.lab.services import ovn

pytestmark = pytest.mark.lab


def nb(lab: Lab, *args: str) -> str:
    """``ovn-nbctl`` against the lab's northbound database, over its TCP port."""
    done = subprocess.run(
        [ovn.OVN_NBCTL, f"--db=tcp:127.0.0.1:{lab.ports['ovn_nb']}", "--timeout=30", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def nb_names(lab: Lab, table: str) -> set[str]:
    out = nb(lab, "--bare", "--columns=name", "list", table)
    return {line.strip() for line in out.splitlines() if line.strip()}


def test_member_finds_the_external_network_and_subnet_by_name(lab: Lab):
    # Arrange
    conn = lab.connect(lab.member_cloud)

    # Act
    subnet = conn.network.find_subnet(EXT_SUBNET, ignore_missing=True)
    network = conn.network.find_network(EXT_NET, ignore_missing=True)

    # Assert
    assert subnet is not None and subnet.id == lab.lab_networks.ext_subnet_id
    assert network is not None and network.is_router_external
    assert subnet.network_id == network.id
    assert subnet.cidr == "198.51.100.0/24"


def test_a_network_made_through_neutron_is_a_logical_switch_in_ovn(lab: Lab):
    # Arrange
    conn = lab.connect(lab.member_cloud)
    name = f"lab-net-{uuid.uuid4().hex[:8]}"

    # Act
    network = conn.network.create_network(name=name)
    try:
        switches = nb_names(lab, "Logical_Switch")
        external_ids = nb(lab, "get", "Logical_Switch", f"neutron-{network.id}", "external_ids")
    finally:
        conn.network.delete_network(network.id)

    # Assert
    assert f"neutron-{network.id}" in switches
    assert name in external_ids
    assert f"neutron-{network.id}" not in nb_names(lab, "Logical_Switch")


def test_security_group_with_rules_is_created_and_deleted(lab: Lab):
    # Arrange
    conn = lab.connect(lab.member_cloud)
    group = conn.network.create_security_group(name=f"lab-sg-{uuid.uuid4().hex[:8]}")
    port_group = "pg_" + group.id.replace("-", "_")

    # Act
    rule = conn.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=443,
        port_range_max=443,
        remote_ip_prefix="0.0.0.0/0",
    )
    rules = {r.id for r in conn.network.security_group_rules(security_group_id=group.id)}
    acls = nb(lab, "acl-list", port_group)
    conn.network.delete_security_group(group.id)

    # Assert
    assert rule.id in rules
    assert "tcp.dst == 443" in acls
    assert conn.network.find_security_group(group.id, ignore_missing=True) is None
    assert port_group not in nb_names(lab, "Port_Group")


def test_router_with_external_gateway_and_interface_is_a_logical_router(lab: Lab):
    # Arrange
    conn = lab.connect(lab.admin_cloud)
    s = uuid.uuid4().hex[:8]
    network = conn.network.create_network(name=f"lab-rnet-{s}")
    subnet = conn.network.create_subnet(
        name=f"lab-rsub-{s}", network_id=network.id, ip_version=4, cidr="10.66.0.0/24"
    )
    router = conn.network.create_router(
        name=f"lab-router-{s}", external_gateway_info={"network_id": lab.lab_networks.ext_net_id}
    )
    try:
        # Act
        conn.network.add_interface_to_router(router, subnet.id)
        ports = nb(lab, "lrp-list", f"neutron-{router.id}")
        gateway = conn.network.get_router(router.id).external_gateway_info
        conn.network.remove_interface_from_router(router, subnet.id)
    finally:
        conn.network.delete_router(router.id)
        conn.network.delete_network(network.id)

    # Assert
    assert gateway["network_id"] == lab.lab_networks.ext_net_id
    assert len(ports.splitlines()) == 2  # the gateway's port and the interface's
    assert f"neutron-{router.id}" not in nb_names(lab, "Logical_Router")


def test_octavia_allocates_the_vip_in_neutron_and_refuses_an_unknown_subnet(lab: Lab):
    # Arrange
    member = lab.connect(lab.member_cloud)
    admin = lab.connect(lab.admin_cloud)
    name = f"lab-vip-{uuid.uuid4().hex[:8]}"

    # Act
    lb = member.load_balancer.create_load_balancer(
        name=name, vip_subnet_id=lab.lab_networks.ext_subnet_id
    )
    try:
        ports = list(admin.network.ports(name=f"octavia-lb-{lb.id}"))
        with pytest.raises(openstack.exceptions.HttpException) as refused:
            member.load_balancer.create_load_balancer(
                name=f"{name}-bad", vip_subnet_id=str(uuid.uuid4())
            )
    finally:
        member.load_balancer.wait_for_load_balancer(
            lb.id, status="ACTIVE", failures=["ERROR"], interval=1, wait=120
        )
        member.load_balancer.delete_load_balancer(lb.id, cascade=True)
        deadline = time.monotonic() + 120
        while member.load_balancer.find_load_balancer(lb.id) is not None:
            assert time.monotonic() < deadline
            time.sleep(0.5)

    # Assert
    assert [p.fixed_ips[0]["ip_address"] for p in ports] == [lb.vip_address]
    assert ports[0].network_id == lab.lab_networks.ext_net_id
    assert refused.value.status_code == 400
    assert "subnet" in str(refused.value).lower()


def test_octavia_boots_amphorae_on_the_lab_management_network(lab: Lab):
    # Arrange
    conn = lab.connect(lab.admin_cloud)
    conf = configparser.RawConfigParser()
    conf.read(lab.octavia_conf)

    # Act
    network = conn.network.find_network(MGMT_NET, ignore_missing=True)

    # Assert
    assert network is not None and network.subnet_ids
    assert conf["controller_worker"]["amp_boot_network_list"] == network.id
    assert f"neutron-{network.id}" in nb_names(lab, "Logical_Switch")
