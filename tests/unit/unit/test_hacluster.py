"""The unit's request on ``ha``, read back as the hacluster charm parses it (json.loads of
each ``json_<key>``)."""

from __future__ import annotations

import json

from charmed_octavia.unit import hacluster

# sha1("10.5.0.100")[:7] and sha1("fd00:a::100")[:7], as the existing charms name VIPs.
V4_RES = "res_octavia_3d69a28_vip"
V6_RES = "res_octavia_2ab4747_vip"
META = 'meta migration-threshold="INFINITY" failure-timeout="5s"'
VIP_OP = 'op monitor timeout="20s" interval="10s" depth="0"'


def parsed(data: dict[str, str], key: str):
    """What hacluster's parse_data makes of ``key`` ({} when unset)."""
    value = data.get(f"json_{key}", "")
    return json.loads(value) if value else {}


def test_vip_names_match_the_existing_charms():
    # Act / Assert: the interface's own test value (VirtualIP("apache", "10.110.1.1"))
    assert hacluster.vip_resource("10.110.1.1") == "res_octavia_a7815c8_vip"


def test_two_vips_and_the_cloned_api_service():
    # Act
    data = hacluster.request(
        ("10.5.0.100", "fd00:a::100"),
        {"10.5.0.100": "ens3", "fd00:a::100": "ens4"},
        bind_iface="eth0",
        published={},
    )

    # Assert
    assert parsed(data, "resources") == {
        "res_octavia_apache2": "lsb:apache2",
        V4_RES: "ocf:heartbeat:IPaddr2",
        V6_RES: "ocf:heartbeat:IPv6addr",
    }
    assert parsed(data, "resource_params") == {
        "res_octavia_apache2": f'{META} op monitor interval="5s"',
        V4_RES: f'params ip="10.5.0.100" {META} {VIP_OP}',
        V6_RES: f'params ipv6addr="fd00:a::100" {META} {VIP_OP}',
    }
    assert parsed(data, "groups") == {"grp_octavia_vips": " ".join(sorted([V4_RES, V6_RES]))}
    assert parsed(data, "clones") == {"cl_res_octavia_apache2": "res_octavia_apache2"}
    assert parsed(data, "colocations") == {
        "co_octavia_vips_with_apache2": "inf: grp_octavia_vips cl_res_octavia_apache2"
    }
    assert parsed(data, "init_services") == {"res_octavia_apache2": "apache2"}
    # The existing charm's haproxy and its older VIP names go.
    assert parsed(data, "delete_resources") == [
        "cl_res_octavia_haproxy",
        "res_octavia_haproxy",
        "res_octavia_ens3_vip",
        "res_octavia_None_ipv6addr_vip",
        "res_octavia_ens4_ipv6addr_vip",
    ]
    assert (data["corosync_bindiface"], data["corosync_mcastport"]) == ("eth0", "4440")


def test_without_vips_only_the_service_clone_and_no_group():
    # Act
    data = hacluster.request((), {}, bind_iface="eth0", published={})

    # Assert
    assert parsed(data, "resources") == {"res_octavia_apache2": "lsb:apache2"}
    assert data["json_groups"] == "" and data["json_colocations"] == ""


def test_a_removed_vip_is_deleted_with_its_group_and_the_rest_kept():
    # Arrange
    before = hacluster.request(("10.5.0.100", "fd00:a::100"), {}, bind_iface="eth0", published={})

    # Act
    after = hacluster.request(("fd00:a::100",), {}, bind_iface="eth0", published=before)

    # Assert
    assert V4_RES in parsed(after, "delete_resources")
    assert V6_RES not in parsed(after, "delete_resources")
    assert set(parsed(after, "resources")) == {"res_octavia_apache2", V6_RES}
    assert parsed(after, "groups") == {"grp_octavia_vips": V6_RES}


def test_the_last_vip_removed_deletes_the_group_and_the_colocation():
    # Arrange
    before = hacluster.request(("10.5.0.100",), {}, bind_iface="eth0", published={})

    # Act
    after = hacluster.request((), {}, bind_iface="eth0", published=before)

    # Assert
    deleted = parsed(after, "delete_resources")
    assert {V4_RES, "grp_octavia_vips", "co_octavia_vips_with_apache2"} <= set(deleted)
    assert "res_octavia_apache2" not in deleted


def test_a_vip_given_back_is_no_longer_deleted():
    # Arrange
    first = hacluster.request(("10.5.0.100",), {}, bind_iface="eth0", published={})
    removed = hacluster.request((), {}, bind_iface="eth0", published=first)

    # Act
    back = hacluster.request(("10.5.0.100",), {}, bind_iface="eth0", published=removed)

    # Assert
    assert V4_RES not in parsed(back, "delete_resources")
    assert V4_RES in parsed(back, "resources")


def test_the_same_request_again_is_the_same_data():
    # Arrange
    first = hacluster.request(("10.5.0.100",), {}, bind_iface="eth0", published={})

    # Act
    again = hacluster.request(("10.5.0.100",), {}, bind_iface="eth0", published=first)

    # Assert
    assert again == first


def test_clustered_is_hacluster_saying_yes():
    # Act / Assert
    assert hacluster.clustered({"hacluster/0": {"clustered": "yes"}})
    assert hacluster.clustered({"hacluster/0": {"clustered": "True"}})
    assert not hacluster.clustered({"hacluster/0": {"private-address": "10.5.0.7"}})
    assert not hacluster.clustered({})
