"""The health managers' shared addresses (``unit.health_manager``) and the binding host the
SDN relations give (``unit.relations.binding_host``)."""

from __future__ import annotations

import json

import pytest
from charmed_octavia.cloud.outcomes import Ensured
from charmed_octavia.unit import health_manager, relations


def test_a_units_data_names_its_ipv6_address_first():
    # Arrange
    port = Ensured(
        "health-manager-port",
        "p1",
        "octavia-health-manager-octavia-0-listen-port",
        "created",
        {
            "mac": "fa:16:3e:00:00:01",
            "addresses": ["fc00::5", "10.0.0.5"],
            "interfaces": ["fc00::5/64", "10.0.0.5/24"],
            "mtu": 1442,
            "host": "n1",
        },
    )

    # Act
    data = health_manager.unit_data(port, plugged=True)
    unplugged = health_manager.unit_data(port, plugged=False)

    # Assert
    assert data == {
        "hm-port-id": "p1",
        "hm-mac": "fa:16:3e:00:00:01",
        "hm-address": "fc00::5",
        "hm-addresses": json.dumps(["fc00::5", "10.0.0.5"]),
        "hm-host": "n1",
        "hm-mtu": "1442",
        "hm-interfaces": json.dumps(["fc00::5/64", "10.0.0.5/24"]),
    }
    # Not plugged into o-hm0: no address for the health manager to bind or be listed by.
    assert unplugged == {**data, "hm-address": ""}


@pytest.mark.parametrize(
    ("stored", "addresses"),
    [
        ('["fc00::2", "fc00::1"]', ["fc00::2", "fc00::1"]),
        # A bad entry must not reach octavia.conf; a bad value reads as no list.
        ('["fc00::1", "fc00::1\\nbind_ip = 0.0.0.0", 5]', ["fc00::1"]),
        ("not json", []),
        ('{"a": 1}', []),
        ("", []),
    ],
)
def test_the_shared_list_keeps_only_addresses(stored, addresses):
    # Act
    found = health_manager.shared_addresses({"controller-ip-port-list": stored})

    # Assert
    assert found == addresses


def test_octavia_conf_lists_ipv6_without_brackets():
    # Act
    value = health_manager.controller_ip_port_list(["10.0.0.5", "fc00::5"])

    # Assert
    assert value == "10.0.0.5:5555, fc00::5:5555"


@pytest.mark.parametrize(
    ("published", "stored", "wanted"),
    [
        ({"o/0": "fc00::2", "o/1": "fc00::1"}, "", '["fc00::1", "fc00::2"]'),
        # Unchanged (in any order): nothing to write.
        ({"o/0": "fc00::2", "o/1": "fc00::1"}, '["fc00::2", "fc00::1"]', None),
        # A unit without an address yet: the stored list stays.
        ({"o/0": "fc00::2", "o/1": ""}, '["fc00::9", "fc00::8"]', None),
        # ...but with nothing stored, the addresses known so far are listed.
        ({"o/0": "fc00::2", "o/1": ""}, "", '["fc00::2"]'),
        ({"o/0": ""}, "", None),
    ],
)
def test_the_leaders_list(published, stored, wanted):
    # Act
    found = health_manager.leader_list(published, {"controller-ip-port-list": stored})

    # Assert
    assert found == wanted


@pytest.mark.parametrize(
    ("neutron_ovs", "ovsdb", "expected"),
    [
        ({"n/0": {"host": "node1.maas"}}, None, ("node1.maas", "neutron-openvswitch")),
        (None, {"c/0": {"chassis-name": '"node2"'}}, ("node2", "ovsdb-subordinate")),
        # Published raw by some other provider: taken as it is.
        (None, {"c/0": {"chassis-name": "node3"}}, ("node3", "ovsdb-subordinate")),
        # Not a host name (a JSON number, a space, a newline): this machine's name.
        (None, {"c/0": {"chassis-name": "5"}}, ("me", "hostname")),
        ({"n/0": {"host": "bad host"}}, None, ("me", "hostname")),
        ({"n/0": {"host": "node1\nx"}}, None, ("me", "hostname")),
        ({"n/0": {}}, {"c/0": {"chassis-name": '"node2"'}}, ("node2", "ovsdb-subordinate")),
        (None, None, ("me", "hostname")),
    ],
)
def test_the_binding_host(neutron_ovs, ovsdb, expected):
    # Act
    found = relations.binding_host(neutron_ovs, ovsdb, "me")

    # Assert
    assert (found.host, found.source) == expected
