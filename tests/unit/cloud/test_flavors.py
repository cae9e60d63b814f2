"""The flavor specs and flavor-data as the operator gives them, refused before any call."""

from __future__ import annotations

import pytest
from charmed_octavia.cloud import flavors
from charmed_octavia.cloud.outcomes import InvalidParameter


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": NaN}', "NaN, which is not JSON"),
        ('{"a": Infinity}', "Infinity, which is not JSON"),
        ('{"a": -Infinity}', "-Infinity, which is not JSON"),
        ("[" * 2000 + "]" * 2000, "nested too deeply"),
        ('{"a": ' * 9 + "1" + "}" * 9, "nested deeper than 8 levels"),
        ("[1, 2]", "must be a JSON object, not list"),
        ('{"a": "' + "x" * 5000 + '"}', "longer than Octavia's 4096 characters"),
        ("{not json", "not valid JSON"),
    ],
    ids=["nan", "infinity", "minus-infinity", "recursion", "depth", "list", "long", "syntax"],
)
def test_flavor_data_octavia_cannot_store_is_refused(text, message):
    with pytest.raises(InvalidParameter, match=message):
        flavors.parse_flavor_data(text)


def test_flavor_data_within_the_limits_is_taken_as_given():
    text = '{"a": ' * 7 + '{"amp_image_tag": "amphora-jammy"}' + "}" * 7
    assert flavors.parse_flavor_data(text)["a"]["a"]["a"]["a"]["a"]["a"]["a"] == {
        "amp_image_tag": "amphora-jammy"
    }
    assert flavors.parse_flavor_data("") == {}


@pytest.mark.parametrize("field", ["ram", "disk", "vcpus"])
@pytest.mark.parametrize("value", [2**31, 2**63, True])
def test_nova_flavor_sizes_beyond_int32_are_refused(field, value):
    values = {"name": "m1.test", "ram": 1024, "disk": 1, "vcpus": 1, field: value}
    with pytest.raises(InvalidParameter, match=f"{field} must be an integer from"):
        flavors.NovaFlavorSpec(**values)


@pytest.mark.parametrize("flavor_id", ["10\n", "ünï", "a/b", " 10", "10 "])
def test_nova_flavor_ids_nova_refuses_are_refused(flavor_id):
    with pytest.raises(InvalidParameter, match="Nova flavor id"):
        flavors.NovaFlavorSpec(name="m1.test", ram=1, disk=0, vcpus=1, id=flavor_id)
