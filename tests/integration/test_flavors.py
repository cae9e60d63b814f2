"""Idempotent flavor creation against the lab's real Nova API and Octavia API."""

from __future__ import annotations

import uuid

import pytest
from charmed_octavia.cloud import flavors
from charmed_octavia.cloud.outcomes import ConflictError, InvalidParameter

from tests.integration.plan_helpers import added, admin_connection, inventory

pytestmark = pytest.mark.lab


@pytest.fixture
def conn(lab):
    return admin_connection(lab)


@pytest.fixture
def created(conn):
    """Deletes, after the test, whatever the test created (by kind and id)."""
    items: list[tuple[str, str]] = []
    yield items
    for kind, resource_id in reversed(items):
        flavors.delete_created(conn, kind, resource_id)


def _suffix() -> str:
    return uuid.uuid4().hex[:8]


def test_nova_flavor_created_then_reused_then_conflict_changes_nothing(conn, created):
    # Arrange
    s = _suffix()
    spec = flavors.NovaFlavorSpec(name=f"m1.t{s}", ram=512, disk=1, vcpus=1, id=f"id-{s}")

    # Act
    first = flavors.ensure_nova_flavor(conn, spec)
    created.append(("nova-flavor", first.id))
    second = flavors.ensure_nova_flavor(conn, spec)
    before = inventory(conn)
    with pytest.raises(ConflictError) as caught:
        flavors.ensure_nova_flavor(conn, flavors.NovaFlavorSpec(**{**spec.__dict__, "ram": 1024}))
    with pytest.raises(ConflictError) as caught_name:
        flavors.ensure_nova_flavor(
            conn, flavors.NovaFlavorSpec(name=spec.name, ram=512, disk=1, vcpus=1, id=f"o-{s}")
        )

    # Assert
    assert (first.action, first.id) == ("created", f"id-{s}")
    assert (second.action, second.id) == ("reused", f"id-{s}")
    assert caught.value.differences == ["ram: existing 512, wanted 1024"]
    assert f"id: existing 'id-{s}', wanted 'o-{s}'" in str(caught_name.value)
    assert inventory(conn) == before
    assert conn.compute.get_flavor(f"id-{s}").ram == 512


def test_flavorprofile_resolves_a_flavor_name_and_is_reused(conn, created):
    # Arrange
    s = _suffix()
    nova = flavors.ensure_nova_flavor(
        conn, flavors.NovaFlavorSpec(name=f"m1.p{s}", ram=512, disk=1, vcpus=1)
    )
    created.append(("nova-flavor", nova.id))
    spec = flavors.FlavorProfileSpec(name=f"o1.p{s}", compute_flavor=f"m1.p{s}")

    # Act
    first = flavors.ensure_flavorprofile(conn, spec)
    created.append(("flavorprofile", first.id))
    second = flavors.ensure_flavorprofile(conn, spec)
    before = inventory(conn)
    with pytest.raises(ConflictError) as caught:
        flavors.ensure_flavorprofile(
            conn,
            flavors.FlavorProfileSpec(
                name=f"o1.p{s}",
                compute_flavor=nova.id,
                flavor_data={"loadbalancer_topology": "ACTIVE_STANDBY"},
            ),
        )

    # Assert: Octavia stored the Nova id, not the name.
    assert first.attributes["flavor_data"] == {"compute_flavor": nova.id}
    assert (first.action, second.action, second.id) == ("created", "reused", first.id)
    assert "flavor_data: existing" in str(caught.value)
    assert "ACTIVE_STANDBY" in str(caught.value)
    assert inventory(conn) == before


def test_flavorprofile_for_a_missing_nova_flavor_is_refused(conn):
    with pytest.raises(InvalidParameter, match="no Nova flavor with id or name 'nope-"):
        flavors.ensure_flavorprofile(
            conn, flavors.FlavorProfileSpec(name="x", compute_flavor=f"nope-{_suffix()}")
        )


def test_lb_flavor_created_reused_and_description_conflict(conn, created):
    # Arrange
    s = _suffix()
    nova = flavors.ensure_nova_flavor(
        conn, flavors.NovaFlavorSpec(name=f"m1.l{s}", ram=512, disk=1, vcpus=1)
    )
    created.append(("nova-flavor", nova.id))
    profile = flavors.ensure_flavorprofile(
        conn, flavors.FlavorProfileSpec(name=f"o1.l{s}", compute_flavor=nova.id)
    )
    created.append(("flavorprofile", profile.id))
    spec = flavors.LbFlavorSpec(name=f"o1.l{s}", flavorprofile=f"o1.l{s}", description="LB")

    # Act
    first = flavors.ensure_lb_flavor(conn, spec)
    created.append(("lb-flavor", first.id))
    second = flavors.ensure_lb_flavor(conn, spec)
    with pytest.raises(ConflictError) as caught:
        flavors.ensure_lb_flavor(
            conn, flavors.LbFlavorSpec(name=f"o1.l{s}", flavorprofile=profile.id, description="X")
        )

    # Assert
    assert (first.action, second.action) == ("created", "reused")
    assert first.attributes["flavorprofile_id"] == profile.id
    assert caught.value.differences == ["description: existing 'LB', wanted 'X'"]


def test_xxlarge_test_plan_values_twice_then_a_conflict_creates_nothing(conn, created):
    # Arrange
    s = _suffix()
    spec = flavors.XxlargeSpec(
        nova_flavor_name=f"m1.xxlarge-{s}",
        nova_flavor_id=f"x-{s}",
        flavorprofile_name=f"o1.xxlarge-{s}",
        lb_flavor_name=f"o1.xxlarge-{s}",
    )
    before = inventory(conn)

    # Act
    first = flavors.ensure_xxlarge(conn, spec)
    created.extend((e.kind, e.id) for e in first)
    second = flavors.ensure_xxlarge(conn, spec)
    middle = inventory(conn)
    # Only the Octavia flavor's description differs: found before anything is created.
    conflicting = flavors.XxlargeSpec(**{**spec.__dict__, "description": "other"})
    with pytest.raises(ConflictError, match="description: existing 'Extra large LB'"):
        flavors.ensure_xxlarge(conn, conflicting)

    # Assert
    assert [e.action for e in first] == ["created"] * 3
    assert [e.action for e in second] == ["reused"] * 3
    nova = conn.compute.get_flavor(f"x-{s}")
    assert (nova.ram, nova.disk, nova.vcpus) == (32768, 10, 4)
    assert added(before, middle) == {
        "nova-flavors": {f"x-{s}"},
        "flavorprofiles": {first[1].id},
        "lb-flavors": {first[2].id},
    }
    assert inventory(conn) == middle


def test_xxlarge_conflict_on_the_nova_id_leaves_octavia_untouched(conn, created):
    # Arrange: id taken by a flavor of another size.
    s = _suffix()
    other = flavors.ensure_nova_flavor(
        conn, flavors.NovaFlavorSpec(name=f"m1.small-{s}", ram=2048, disk=1, vcpus=1, id=f"x-{s}")
    )
    created.append(("nova-flavor", other.id))
    before = inventory(conn)

    # Act
    with pytest.raises(ConflictError) as caught:
        flavors.ensure_xxlarge(
            conn,
            flavors.XxlargeSpec(
                nova_flavor_name=f"m1.xxlarge-{s}",
                nova_flavor_id=f"x-{s}",
                flavorprofile_name=f"o1-{s}",
                lb_flavor_name=f"o1-{s}",
            ),
        )

    # Assert
    assert f"name: existing 'm1.small-{s}', wanted 'm1.xxlarge-{s}'" in str(caught.value)
    assert "ram: existing 2048, wanted 32768" in str(caught.value)
    assert inventory(conn) == before
