"""The endpoint hosts: os-*-hostname, the VIP in the binding's network, or its address."""

from __future__ import annotations

import re

import pytest
from charmed_octavia.unit import endpoints
from charmed_octavia.unit.endpoints import Binding, Interface

NO_HOSTNAMES = {"public": "", "internal": "", "admin": ""}


def binding(address: str, cidr: str, device: str = "ens3") -> Binding:
    return Binding(address, (Interface(device, address, cidr),))


def one_network() -> dict[str, Binding]:
    same = binding("10.5.0.7", "10.5.0.0/24")
    return {"public": same, "internal": same, "admin": same, "cluster": same}


def three_networks() -> dict[str, Binding]:
    return {
        "public": binding("172.16.0.7", "172.16.0.0/24", "ens5"),
        "internal": binding("10.5.0.7", "10.5.0.0/24", "ens3"),
        "admin": binding("fd00:a::7", "fd00:a::/64", "ens4"),
        "cluster": binding("10.5.0.7", "10.5.0.0/24", "ens3"),
    }


def test_without_vip_each_endpoint_is_its_bindings_address():
    # Act
    found = endpoints.resolve(NO_HOSTNAMES, (), three_networks())

    # Assert
    assert found.problems == ()
    assert found.urls() == {
        "public": "http://172.16.0.7:9876",
        "internal": "http://10.5.0.7:9876",
        "admin": "http://[fd00:a::7]:9876",
    }


def test_with_vips_each_endpoint_is_the_vip_in_its_bindings_network():
    # Arrange
    vips = endpoints.parse_vips("10.5.0.100 fd00:a:0:0::100 172.16.0.100")

    # Act
    found = endpoints.resolve(NO_HOSTNAMES, vips, three_networks())

    # Assert
    assert found.problems == ()
    assert found.hosts == {
        "public": "172.16.0.100",
        "internal": "10.5.0.100",
        "admin": "fd00:a::100",
    }
    assert found.urls("https")["admin"] == "https://[fd00:a::100]:9876"


def test_hostnames_win_over_vips_and_addresses():
    # Arrange
    hostnames = {"public": "octavia.example.com", "internal": "", "admin": "10.9.9.9"}

    # Act
    found = endpoints.resolve(hostnames, ("10.5.0.100",), one_network())

    # Assert
    assert found.hosts == {
        "public": "octavia.example.com",
        "internal": "10.5.0.100",
        "admin": "10.9.9.9",
    }


def test_the_primary_addresss_network_is_matched_first_on_a_dual_stack_binding():
    # Arrange
    dual = Binding(
        "fd00:b::7",
        (
            Interface("ens3", "10.5.0.7", "10.5.0.0/24"),
            Interface("ens3", "fd00:b::7", "fd00:b::/64"),
        ),
    )
    bindings = {"public": dual, "internal": dual, "admin": dual}

    # Act
    found = endpoints.resolve(NO_HOSTNAMES, ("10.5.0.100", "fd00:b::100"), bindings)

    # Assert
    assert set(found.hosts.values()) == {"fd00:b::100"}


def test_a_vip_in_no_network_of_the_unit_is_a_problem():
    # Act
    found = endpoints.resolve(NO_HOSTNAMES, ("10.5.0.100", "192.168.9.9"), one_network())

    # Assert
    assert found.problems == ("vip 192.168.9.9 is not in any of the unit's networks",)
    assert endpoints.stray_vips(("10.5.0.100", "192.168.9.9"), one_network()) == ["192.168.9.9"]


def test_an_endpoint_whose_network_has_no_vip_has_no_host():
    # Act: the VIP is on the internal network only
    found = endpoints.resolve(NO_HOSTNAMES, ("10.5.0.100",), three_networks())

    # Assert
    assert found.hosts == {"internal": "10.5.0.100"}
    assert found.problems == (
        "no vip in the public binding's network",
        "no vip in the admin binding's network",
    )


def test_a_hostname_needs_no_vip_in_that_network():
    # Arrange
    hostnames = {"public": "lb.example.com", "internal": "", "admin": "admin.example.com"}

    # Act
    found = endpoints.resolve(hostnames, ("10.5.0.100",), three_networks())

    # Assert
    assert found.problems == ()
    assert found.hosts["internal"] == "10.5.0.100"


def test_a_binding_without_cidr_matches_no_vip():
    # Arrange: Juju gave the address alone (its subnet is the address itself)
    bare = {k: binding("10.5.0.7", "10.5.0.7/32") for k in ("public", "internal", "admin")}

    # Act
    found = endpoints.resolve(NO_HOSTNAMES, ("10.5.0.100",), bare)

    # Assert
    assert found.hosts == {}
    assert "vip 10.5.0.100 is not in any of the unit's networks" in found.problems


def test_interface_for_names_the_device_of_the_vips_network():
    # Act
    found = endpoints.interface_for("fd00:a::100", three_networks())

    # Assert
    assert found is not None and found.name == "ens4"


def test_parse_vips_normalises_ipv6():
    # Act / Assert
    assert endpoints.parse_vips("  10.0.0.1\tFD00:0:0::1 ") == ("10.0.0.1", "fd00::1")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10.0.0.1 vip.example.com", "vip: 'vip.example.com' is not an IP address"),
        ("10.0.0.1/24", "vip: '10.0.0.1/24' is not an IP address"),
        ("10.0.0.1 10.0.0.1", "vip: 10.0.0.1 is given twice"),
        ("127.0.0.1", "vip: 127.0.0.1 cannot be a virtual IP of a service"),
        ("fe80::1", "vip: fe80::1 cannot be a virtual IP of a service"),
    ],
)
def test_parse_vips_refuses_what_is_no_vip(value, message):
    # Act / Assert
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        endpoints.parse_vips(value)


def _networks(**cidrs: str) -> dict[str, str]:
    return {"public": "", "internal": "", "admin": "", **cidrs}


def test_an_endpoint_network_picks_the_units_address_in_it_over_the_binding():
    # Arrange: every endpoint bound to the internal space, the public network named by CIDR.
    bindings = {
        **one_network(),
        "cluster": Binding(
            "10.5.0.7",
            (Interface("ens3", "10.5.0.7", "10.5.0.0/24"), Interface("ens5", "172.16.0.7", "")),
        ),
    }

    # Act
    found = endpoints.resolve(NO_HOSTNAMES, (), bindings, _networks(public="172.16.0.0/24"))

    # Assert
    assert found.problems == ()
    assert found.hosts == {"public": "172.16.0.7", "internal": "10.5.0.7", "admin": "10.5.0.7"}


def test_an_endpoint_network_with_host_bits_is_the_network():
    # Act
    found = endpoints.resolve(NO_HOSTNAMES, (), three_networks(), _networks(admin="fd00:a::1/64"))

    # Assert
    assert found.hosts["admin"] == "fd00:a::7"


def test_a_hostname_wins_over_an_endpoint_network():
    # Act
    found = endpoints.resolve(
        {**NO_HOSTNAMES, "public": "octavia.example.com"},
        (),
        three_networks(),
        _networks(public="10.5.0.0/24"),
    )

    # Assert
    assert found.hosts["public"] == "octavia.example.com"


def test_with_vips_the_vip_in_the_endpoint_network_wins_over_the_bindings():
    # Arrange: the public binding's network has its VIP, but the operator names another.
    vips = endpoints.parse_vips("172.16.0.100 10.5.0.100 fd00:a::100")

    # Act
    found = endpoints.resolve(
        NO_HOSTNAMES, vips, three_networks(), _networks(public="10.5.0.0/24")
    )

    # Assert
    assert found.problems == ()
    assert found.hosts["public"] == "10.5.0.100"
    assert found.hosts["internal"] == "10.5.0.100"


def test_an_endpoint_network_holding_none_of_the_units_addresses_is_a_problem():
    # Act
    found = endpoints.resolve(
        NO_HOSTNAMES, (), three_networks(), _networks(internal="192.168.9.0/24")
    )

    # Assert
    assert found.problems == (
        "os-internal-network 192.168.9.0/24 holds none of the unit's addresses",
    )
    assert "internal" not in found.hosts
    assert found.hosts["public"] == "172.16.0.7"


def test_an_endpoint_network_without_a_vip_in_it_is_a_problem():
    # Act
    found = endpoints.resolve(
        NO_HOSTNAMES,
        endpoints.parse_vips("10.5.0.100"),
        one_network(),
        _networks(admin="10.6.0.0/24"),
    )

    # Assert
    assert found.problems == ("os-admin-network 10.6.0.0/24 holds no vip",)


@pytest.mark.parametrize("value", ["10.5.0.0", "10.5.0.0/33", "net", "10.5.0.0/24/1", "/24"])
def test_parse_network_refuses_what_is_no_cidr(value):
    # Act / Assert
    with pytest.raises(ValueError, match=r"^os-public-network: .* is not a network in CIDR"):
        endpoints.parse_network(value, "os-public-network")
