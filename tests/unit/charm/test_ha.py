"""ops.testing of the endpoints on the bindings and VIPs, and of the ``ha`` relation with
data as the hacluster charm writes it (``clustered``) and reads it (``json_<key>``)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ops import testing

from tests.unit.charm.states import amqp, full_state, identity, peer, shared_db

V4 = "10.5.0.100"
V4_RES = "res_octavia_3d69a28_vip"  # sha1(V4)[:7], as the existing charms name it
PUBLIC_VIP = "172.16.0.100"
ADMIN_VIP = "fd00:a::100"


def network(binding: str, address: str, cidr: str, device: str) -> testing.Network:
    return testing.Network(
        binding,
        bind_addresses=[
            testing.BindAddress([testing.Address(address, cidr=cidr)], interface_name=device)
        ],
        ingress_addresses=[address],
        egress_subnets=[cidr],
    )


def one_network() -> set[testing.Network]:
    """Every binding in 10.5.0.0/24 on ens3."""
    return {
        network(name, "10.5.0.7", "10.5.0.0/24", "ens3")
        for name in ("public", "internal", "admin", "cluster")
    }


def three_networks() -> set[testing.Network]:
    """public, internal (and cluster) and admin each in a network of its own."""
    return {
        network("public", "172.16.0.7", "172.16.0.0/24", "ens5"),
        network("internal", "10.5.0.7", "10.5.0.0/24", "ens3"),
        network("cluster", "10.5.0.7", "10.5.0.0/24", "ens3"),
        network("admin", "fd00:a::7", "fd00:a::/64", "ens4"),
    }


def hacluster(clustered: bool = False) -> testing.SubordinateRelation:
    """The hacluster subordinate: its unit's private-address, and ``clustered`` once it
    has configured pacemaker (hooks.py ha_relation_changed sets clustered="yes")."""
    data = {"private-address": "10.5.0.7"}
    if clustered:
        data["clustered"] = "yes"
    return testing.SubordinateRelation("ha", remote_app_name="hacluster", remote_unit_data=data)


def neutron_api() -> testing.Relation:
    return testing.Relation(
        "neutron-api", remote_app_name="neutron-api", remote_units_data={0: {}}
    )


def state(*extra: Any, config: dict | None = None, networks=None) -> testing.State:
    relations = [identity(), shared_db(), amqp(), peer(), neutron_api(), *extra]
    return full_state(relations=relations, config=config or {}, networks=networks or one_network())


def related(out: testing.State, endpoint: str) -> Any:
    return next(r for r in out.relations if r.endpoint == endpoint)


def urls(out: testing.State) -> tuple[str, str, str, str]:
    data = related(out, "identity-service").local_unit_data
    base_url = json.loads(related(out, "neutron-api").local_unit_data["base_url"])
    return data["public_url"], data["internal_url"], data["admin_url"], base_url


def ha_json(out: testing.State, key: str) -> Any:
    """What hacluster's utils.parse_data reads of ``key`` from this unit."""
    value = related(out, "ha").local_unit_data.get(f"json_{key}", "")
    return json.loads(value) if value else {}


# -- the three URLs --------------------------------------------------------------------------


def test_without_vip_each_url_is_its_bindings_address(ctx, machine):
    # Act
    out = ctx.run(ctx.on.config_changed(), state(networks=three_networks()))

    # Assert
    assert urls(out) == (
        "http://172.16.0.7:9876",
        "http://10.5.0.7:9876",
        "http://[fd00:a::7]:9876",
        "http://10.5.0.7:9876",
    )
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


def test_with_vips_each_url_is_the_vip_in_its_bindings_network(ctx, machine):
    # Arrange
    config = {"vip": f"{ADMIN_VIP} {V4} {PUBLIC_VIP}"}

    # Act
    out = ctx.run(
        ctx.on.config_changed(),
        state(hacluster(clustered=True), config=config, networks=three_networks()),
    )

    # Assert
    assert urls(out) == (
        f"http://{PUBLIC_VIP}:9876",
        f"http://{V4}:9876",
        f"http://[{ADMIN_VIP}]:9876",
        f"http://{V4}:9876",
    )
    assert out.unit_status == testing.ActiveStatus("Unit is ready")


def test_hostnames_win_over_the_vip(ctx, machine):
    # Arrange
    config = {
        "vip": V4,
        "os-public-hostname": "octavia.example.com",
        "os-admin-hostname": "fd00:a::9",
    }

    # Act
    out = ctx.run(ctx.on.config_changed(), state(hacluster(clustered=True), config=config))

    # Assert
    assert urls(out) == (
        "http://octavia.example.com:9876",
        f"http://{V4}:9876",
        "http://[fd00:a::9]:9876",
        f"http://{V4}:9876",
    )


def test_a_network_without_a_vip_blocks_and_keeps_the_published_urls(ctx, machine):
    # Arrange: the VIP is on the internal network only
    out = ctx.run(ctx.on.config_changed(), state(networks=three_networks()))
    before = urls(out)

    # Act
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={"vip": V4}))

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        "no vip in the public binding's network; no vip in the admin binding's network"
    )
    assert urls(out)[:3] == before[:3]
    assert urls(out)[3] == f"http://{V4}:9876"  # the internal endpoint has its VIP


# -- the ha relation -------------------------------------------------------------------------


def test_ha_relation_gets_the_vip_and_the_cloned_apache2_and_waits_for_the_cluster(ctx, machine):
    # Arrange
    ha = hacluster()

    # Act
    out = ctx.run(ctx.on.relation_joined(ha), state(ha, config={"vip": V4}))

    # Assert
    assert out.unit_status == testing.WaitingStatus("Waiting for hacluster to form the cluster")
    data = related(out, "ha").local_unit_data
    assert data["corosync_bindiface"] == "eth0"
    assert data["corosync_mcastport"] == "4440"
    assert ha_json(out, "resources") == {
        "res_octavia_apache2": "lsb:apache2",
        V4_RES: "ocf:heartbeat:IPaddr2",
    }
    assert ha_json(out, "resource_params")[V4_RES] == (
        f'params ip="{V4}" meta migration-threshold="INFINITY" failure-timeout="5s" '
        'op monitor timeout="20s" interval="10s" depth="0"'
    )
    assert ha_json(out, "groups") == {"grp_octavia_vips": V4_RES}
    assert ha_json(out, "clones") == {"cl_res_octavia_apache2": "res_octavia_apache2"}
    assert ha_json(out, "init_services") == {"res_octavia_apache2": "apache2"}
    # The former name of this VIP (its device in the name) and the former haproxy clone.
    assert ha_json(out, "delete_resources") == [
        "cl_res_octavia_haproxy",
        "res_octavia_haproxy",
        "res_octavia_ens3_vip",
    ]


def test_clustered_goes_active_and_leaves_apache2_to_pacemaker(ctx, machine):
    # Arrange: hacluster has disabled apache2 at boot (update-rc.d -f apache2 remove)
    out = ctx.run(ctx.on.install(), state(hacluster(), config={"vip": V4}))
    machine.enabled.discard("apache2")
    machine.calls.clear()
    clustered = dataclasses.replace(
        out, relations=[r for r in out.relations if r.endpoint != "ha"] + [hacluster(True)]
    )

    # Act
    out = ctx.run(ctx.on.relation_changed(related(clustered, "ha")), clustered)

    # Assert
    assert out.unit_status == testing.ActiveStatus("Unit is ready")
    assert ("systemctl", "enable", "apache2") not in machine.calls
    assert "apache2" in machine.active


def test_a_second_event_changes_nothing(ctx, machine):
    # Arrange
    out = ctx.run(ctx.on.install(), state(hacluster(True), config={"vip": V4}))
    published = {r.endpoint: dict(r.local_unit_data) for r in out.relations}
    machine.calls.clear()

    # Act
    again = ctx.run(ctx.on.update_status(), out)

    # Assert
    assert machine.mutations() == []
    assert {r.endpoint: dict(r.local_unit_data) for r in again.relations} == published
    assert again.unit_status == testing.ActiveStatus("Unit is ready")


def test_a_removed_vip_is_deleted_in_pacemaker(ctx, machine):
    # Arrange
    out = ctx.run(ctx.on.config_changed(), state(hacluster(True), config={"vip": V4}))

    # Act
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={}))

    # Assert
    assert set(ha_json(out, "resources")) == {"res_octavia_apache2"}
    assert {V4_RES, "grp_octavia_vips"} <= set(ha_json(out, "delete_resources"))
    assert ha_json(out, "groups") == {}
    assert urls(out)[0] == "http://10.5.0.7:9876"


def test_a_vip_outside_the_units_networks_blocks_and_changes_nothing(ctx, machine):
    # Arrange
    out = ctx.run(ctx.on.config_changed(), state(hacluster(True), config={"vip": V4}))
    published = {r.endpoint: dict(r.local_unit_data) for r in out.relations}

    # Act
    out = ctx.run(
        ctx.on.config_changed(), dataclasses.replace(out, config={"vip": f"{V4} 192.168.9.9"})
    )

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        "vip 192.168.9.9 is not in any of the unit's networks"
    )
    assert {r.endpoint: dict(r.local_unit_data) for r in out.relations} == published


def test_dns_ha_blocks(ctx, machine):
    # Act
    out = ctx.run(ctx.on.config_changed(), state(hacluster(), config={"dns-ha": True}))

    # Assert
    assert out.unit_status == testing.BlockedStatus("dns-ha is not supported yet")
    assert related(out, "ha").local_unit_data.get("json_resources") is None


def test_a_bad_vip_is_invalid_config(ctx, machine):
    # Act
    out = ctx.run(ctx.on.config_changed(), state(config={"vip": "10.5.0.300"}))

    # Assert
    assert out.unit_status == testing.BlockedStatus(
        "Invalid config: vip: '10.5.0.300' is not an IP address"
    )


def test_ovsdb_cms_is_accepted(ctx, machine):
    # Arrange: ovn-central's units publish their addresses on ovsdb-cms
    cms = testing.Relation(
        "ovsdb-cms",
        remote_app_name="ovn-central",
        remote_units_data={0: {"bound-address": '"10.5.0.30"'}},
    )

    # Act
    out = ctx.run(ctx.on.relation_changed(cms), state(cms))

    # Assert
    assert out.unit_status == testing.ActiveStatus("Unit is ready")
