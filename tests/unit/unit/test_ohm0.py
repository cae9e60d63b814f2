"""o-hm0's reconcile: which commands run when things are wrong or right, the networkd files,
and bad port descriptions (on ``FakeOhm0Machine``; against a real Open vSwitch and
ovn-controller in tests/integration/test_ohm0.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from charmed_octavia.unit import ohm0

from tests.unit.fake_ohm0 import FakeLink, FakeOhm0Machine, FakeOvsInterface

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"
PORT_ID = "4f2d0c5e-8a1b-4c3d-9e7f-0a1b2c3d4e5f"
MAC = "fa:16:3e:11:22:33"
V6 = "fd00:1::f816:3eff:fe11:2233/64"
V4 = "172.31.0.5/24"
PORT = ohm0.Ohm0Port(PORT_ID, MAC, 1442, (V6,))


@pytest.fixture
def unit(tmp_path) -> FakeOhm0Machine:
    return FakeOhm0Machine(tmp_path)


def right(unit: FakeOhm0Machine, port: ohm0.Ohm0Port = PORT) -> FakeOhm0Machine:
    """``unit`` with o-hm0 as ``port`` wants it, files included, and no calls recorded."""
    ohm0.reconcile_ohm0(unit, port, TEMPLATES)
    unit.calls.clear()
    return unit


def test_a_fresh_unit_gets_the_port_its_mac_address_and_files(unit):
    # Act
    result = ohm0.reconcile_ohm0(unit, PORT, TEMPLATES)

    # Assert
    assert unit.mutations() == [
        (
            "run",
            "ovs-vsctl",
            "--may-exist",
            "add-port",
            "br-int",
            "o-hm0",
            "--",
            "set",
            "Interface",
            "o-hm0",
            "type=internal",
            f"external-ids:iface-id={PORT_ID}",
            "external-ids:iface-status=active",
            f"external-ids:attached-mac={MAC}",
            "external-ids:skip_cleanup=true",
            "mtu_request=1442",
        ),
        ("run", "ip", "link", "set", "dev", "o-hm0", "address", MAC),
        ("run", "ip", "link", "set", "dev", "o-hm0", "up"),
        ("run", "ip", "addr", "add", V6, "dev", "o-hm0", "nodad"),
        ("run", "sysctl", "-q", "-w", "net.ipv6.conf.o-hm0.accept_ra=0"),
        ("write", ohm0.NETWORK_FILE),
        ("write", ohm0.LINK_FILE),
    ]
    assert result.bind_ip == "fd00:1::f816:3eff:fe11:2233"
    assert result.changed and result.changes[0] == "ovs-port added"
    assert unit.link == FakeLink(mac=MAC, mtu=1442, up=True, addresses=[(V6, True)])


def test_a_second_reconcile_changes_nothing_and_says_so(unit):
    # Arrange
    right(unit)

    # Act
    result = ohm0.reconcile_ohm0(unit, PORT, TEMPLATES)

    # Assert
    assert unit.mutations() == []
    assert unit.calls  # the state was read
    assert (result.changed, result.changes) == (False, ())


def test_a_changed_mac_address_alone_is_corrected(unit):
    # Arrange
    right(unit)
    assert unit.link is not None
    unit.link.mac = "1e:4e:69:f9:1c:7f"

    # Act
    result = ohm0.reconcile_ohm0(unit, PORT, TEMPLATES)

    # Assert
    assert unit.mutations() == [("run", "ip", "link", "set", "dev", "o-hm0", "address", MAC)]
    assert result.changes == (f"mac {MAC}",)


def test_a_new_network_mtu_goes_to_open_vswitch_and_the_network_file(unit):
    # Arrange
    right(unit)
    port = dataclasses.replace(PORT, mtu=1400)

    # Act
    result = ohm0.reconcile_ohm0(unit, port, TEMPLATES)

    # Assert
    kinds = [c[:2] for c in unit.mutations()]
    assert kinds == [("run", "ovs-vsctl"), ("write", ohm0.NETWORK_FILE)]
    assert unit.mutations()[0][-1] == "mtu_request=1400"
    assert unit.link is not None and unit.link.mtu == 1400
    assert b"MTUBytes=1400" in (unit.read_file(ohm0.NETWORK_FILE) or b"")
    assert result.changes == ("ovs-port corrected", f"wrote {ohm0.NETWORK_FILE}")


def test_a_device_mtu_changed_behind_open_vswitch_is_set_with_ip(unit):
    # Arrange
    right(unit)
    assert unit.link is not None
    unit.link.mtu = 9000

    # Act
    ohm0.reconcile_ohm0(unit, PORT, TEMPLATES)

    # Assert
    assert unit.mutations() == [("run", "ip", "link", "set", "dev", "o-hm0", "mtu", "1442")]


def test_a_stale_address_goes_and_an_expiring_one_becomes_static(unit):
    # Arrange
    right(unit)
    assert unit.link is not None
    unit.link.addresses = [(V6, False), ("fd00:9::1/64", True)]

    # Act
    result = ohm0.reconcile_ohm0(unit, PORT, TEMPLATES)

    # Assert
    assert unit.mutations() == [
        ("run", "ip", "addr", "del", V6, "dev", "o-hm0"),
        ("run", "ip", "addr", "del", "fd00:9::1/64", "dev", "o-hm0"),
        ("run", "ip", "addr", "add", V6, "dev", "o-hm0", "nodad"),
    ]
    assert unit.link.addresses == [(V6, True)]
    assert result.changes == (f"address -{V6}", "address -fd00:9::1/64", f"address +{V6}")


def test_a_port_of_another_neutron_port_is_rebound_to_this_one(unit):
    # Arrange
    right(unit)
    assert unit.ovs is not None
    unit.ovs.external_ids["iface-id"] = "0b0b0b0b-0000-4000-8000-000000000000"

    # Act
    ohm0.reconcile_ohm0(unit, PORT, TEMPLATES)

    # Assert
    assert [c[:2] for c in unit.mutations()] == [("run", "ovs-vsctl")]
    assert unit.ovs.external_ids["iface-id"] == PORT_ID


def test_an_ipv4_port_gets_its_address_with_dad_and_leaves_router_advertisements(unit):
    # Arrange
    port = ohm0.Ohm0Port(PORT_ID, MAC, 1500, (V4,))

    # Act
    result = ohm0.reconcile_ohm0(unit, port, TEMPLATES)

    # Assert
    assert ("run", "ip", "addr", "add", V4, "dev", "o-hm0") in unit.mutations()
    assert not [c for c in unit.calls if c[:2] == ("run", "sysctl")]
    assert result.bind_ip == "172.31.0.5"


def test_without_br_int_it_fails_clearly_and_changes_nothing(unit):
    # Arrange
    unit.bridges.clear()

    # Act
    with pytest.raises(ohm0.Ohm0Error, match="no bridge br-int"):
        ohm0.reconcile_ohm0(unit, PORT, TEMPLATES)

    # Assert
    assert unit.mutations() == []
    assert unit.read_file(ohm0.NETWORK_FILE) is None


def test_a_port_in_open_vswitch_without_its_device_fails_clearly(unit):
    # Arrange: a record left in the database with no ovs-vswitchd to make the device.
    unit.ovs = FakeOvsInterface(external_ids=PORT.external_ids(), mtu_request=1442)

    # Act / Assert
    with pytest.raises(ohm0.Ohm0Error, match="is ovs-vswitchd running"):
        ohm0.reconcile_ohm0(unit, PORT, TEMPLATES)


def test_an_address_that_shows_late_is_waited_for(unit):
    # Arrange: the device shows the added address at the third read.
    unit.address_lag = 3

    # Act
    result = ohm0.reconcile_ohm0(unit, PORT, TEMPLATES)

    # Assert
    assert result.changed
    assert unit.link is not None and unit.link.addresses == [(V6, True)]


def test_an_address_that_never_shows_is_an_address_error_after_the_wait(unit, monkeypatch):
    # Arrange: something on the machine takes every added address away again.
    monkeypatch.setattr(ohm0, "ADDRESS_TIMEOUT", 0.05)
    unit.address_lag = None

    # Act
    with pytest.raises(ohm0.Ohm0AddressError, match=rf"o-hm0 lacks {V6} 0\.05 s after") as e:
        ohm0.reconcile_ohm0(unit, PORT, TEMPLATES)

    # Assert: it is an o-hm0 error, and the device was read more than once meanwhile.
    assert isinstance(e.value, ohm0.Ohm0Error)
    reads = [c for c in unit.calls if c[:3] == ("run", "ip", "-j")]
    assert len(reads) > 2


def test_a_reconcile_that_changes_nothing_does_not_wait(unit, monkeypatch):
    # Arrange
    right(unit)
    monkeypatch.setattr(ohm0, "ADDRESS_TIMEOUT", 60.0)

    # Act
    ohm0.reconcile_ohm0(unit, PORT, TEMPLATES)

    # Assert: the device was read once.
    assert len([c for c in unit.calls if c[:3] == ("run", "ip", "-j")]) == 1


def test_a_running_networkd_reloads_when_a_file_changes_and_only_then(unit):
    # Arrange
    unit.active.add("systemd-networkd")

    # Act
    ohm0.reconcile_ohm0(unit, PORT, TEMPLATES)
    first = [c for c in unit.calls if c[:2] == ("run", "networkctl")]
    unit.calls.clear()
    ohm0.reconcile_ohm0(unit, PORT, TEMPLATES)

    # Assert
    assert first == [("run", "networkctl", "reload")]
    assert unit.mutations() == []


def test_the_networkd_files_hold_the_addresses_mtu_and_mac():
    # Arrange
    port = ohm0.Ohm0Port(PORT_ID, MAC, 1442, (V6, V4))

    # Act
    network, link = ohm0.networkd_files(port, TEMPLATES)

    # Assert
    assert network.path == "/etc/systemd/network/99-charm-octavia-o-hm0.network"
    assert (network.mode, network.owner, network.group) == (0o644, "root", "root")
    body = network.content.decode()
    assert body.split("[Match]", 1)[1] == (
        "\nName=o-hm0\n\n"
        "[Link]\nMTUBytes=1442\nRequiredForOnline=no\n\n"
        "[Network]\nDHCP=no\nIPv6AcceptRA=no\n\n"
        f"[Address]\nAddress={V6}\nDuplicateAddressDetection=none\n\n"
        f"[Address]\nAddress={V4}\nDuplicateAddressDetection=none\n"
    )
    assert PORT_ID in body.split("[Match]", 1)[0]
    assert link.path == "/etc/systemd/network/99-charm-octavia-o-hm0.link"
    assert link.content.decode().split("[Match]", 1)[1] == (
        f"\nOriginalName=o-hm0\n\n[Link]\nMACAddress={MAC}\n"
    )


def test_from_fixed_ips_takes_each_subnets_prefix_length_ipv6_first():
    # Act: Neutron lists the IPv4 address first.
    port = ohm0.Ohm0Port.from_fixed_ips(
        PORT_ID,
        MAC.upper(),
        1442,
        [
            {"subnet_id": "s4", "ip_address": "172.31.0.5"},
            {"subnet_id": "s6", "ip_address": "fd00:1::f816:3eff:fe11:2233"},
        ],
        {"s6": "fd00:1::/64", "s4": "172.31.0.0/24"},
    )

    # Assert
    assert port == ohm0.Ohm0Port(PORT_ID, MAC, 1442, (V6, V4))
    assert port.bind_ip == "fd00:1::f816:3eff:fe11:2233"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"port_id": "not-a-uuid"}, "not a UUID"),
        ({"port_id": ""}, "not a UUID"),
        ({"mac": "fa:16:3e:11:22"}, "MAC"),
        ({"mac": "fa:16:3e:11:22:33; reboot"}, "MAC"),
        ({"mtu": 1279}, r"not in 1280\.\.65535"),
        ({"mtu": 70000}, "not in"),
        ({"mtu": True}, "not an integer"),
        ({"mtu": "1500"}, "not an integer"),
        ({"addresses": ()}, "no fixed IP"),
        ({"addresses": ("fd00::1",)}, "no prefix length"),
        ({"addresses": ("fd00::1/64 dev eth0",)}, "not an address"),
        ({"addresses": (V6, V6)}, "twice"),
        ({"addresses": ("fe80::1%eth0/64",)}, "names a scope"),
    ],
)
def test_a_bad_port_description_is_refused_before_anything_runs(unit, changes, message):
    # Act
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(PORT, **changes)

    # Assert
    assert unit.calls == []


def test_an_ipv4_only_port_may_have_a_small_mtu_and_a_fixed_ip_needs_its_subnet():
    # Act
    small = ohm0.Ohm0Port(PORT_ID, MAC, 576, (V4,))

    # Assert
    assert small.mtu == 576
    with pytest.raises(ValueError, match=r"no CIDR for the subnet of fixed IP 172\.31\.0\.5"):
        ohm0.Ohm0Port.from_fixed_ips(
            PORT_ID, MAC, 1500, [{"subnet_id": "s4", "ip_address": "172.31.0.5"}], {}
        )
    with pytest.raises(ValueError, match="subnet CIDR 'nonsense' is not a network"):
        ohm0.Ohm0Port.from_fixed_ips(
            PORT_ID,
            MAC,
            1500,
            [{"subnet_id": "s4", "ip_address": "172.31.0.5"}],
            {"s4": "nonsense"},
        )
