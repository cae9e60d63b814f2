"""What this unit asks of the hacluster subordinate on the ``ha`` relation, as plain data.

The hacluster charm reads the principal's unit databag (``hooks.py`` ha_relation_changed,
``utils.parse_data``): ``json_<key>`` for resources, resource_params, groups, clones,
colocations, init_services and delete_resources, each a JSON value; and
``corosync_bindiface``/``corosync_mcastport``. It answers ``clustered`` ("yes") once
pacemaker runs the resources.

The VIP resources are named and parametrised as the existing charm's (charms.openstack
HAOpenStackCharm through the hacluster interface, and charmhelpers' update_hacluster_vip):
``res_octavia_<sha1(vip)[:7]>_vip``, IPaddr2 or IPv6addr with only the address, so that
pacemaker finds each unit's own device and netmask for it, in the group
``grp_octavia_vips``. The existing charm clones haproxy, which fronts its API; this charm
serves the API from apache2 on every unit, so apache2 is the cloned service, and the VIPs go
where apache2 runs. The existing charm's haproxy resources and older VIP names are deleted so
a deployment moved from it keeps no second holder of an address or of port 9876.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence

SERVICE = "octavia"
CLONED_SERVICE = "apache2"
SERVICE_RESOURCE = f"res_{SERVICE}_{CLONED_SERVICE}"
SERVICE_CLONE = f"cl_{SERVICE_RESOURCE}"
VIP_GROUP = f"grp_{SERVICE}_vips"
VIP_COLOCATION = f"co_{SERVICE}_vips_with_{CLONED_SERVICE}"
MCASTPORT = "4440"
_META = 'meta migration-threshold="INFINITY" failure-timeout="5s"'
_VIP_MONITOR = 'op monitor timeout="20s" interval="10s" depth="0"'
# The existing charm's haproxy clone (charms.openstack add_init_service("octavia", "haproxy")).
FORMER_RESOURCES = (f"cl_res_{SERVICE}_haproxy", f"res_{SERVICE}_haproxy")
# Every key this module writes; one no longer wanted is cleared.
JSON_KEYS = (
    "resources",
    "resource_params",
    "groups",
    "clones",
    "colocations",
    "init_services",
    "delete_resources",
)
BIND_KEYS = ("corosync_bindiface", "corosync_mcastport")


def vip_resource(vip: str) -> str:
    """The pacemaker resource of ``vip``, named as the existing charms name it."""
    digest = hashlib.sha1(vip.encode(), usedforsecurity=False).hexdigest()[:7]
    return f"res_{SERVICE}_{digest}_vip"


def _vip_primitive(vip: str) -> tuple[str, str]:
    if ipaddress.ip_address(vip).version == 6:
        agent, param = "ocf:heartbeat:IPv6addr", "ipv6addr"
    else:
        agent, param = "ocf:heartbeat:IPaddr2", "ip"
    return agent, f'params {param}="{vip}" {_META} {_VIP_MONITOR}'


def _former_vip_names(vip: str, interface: str) -> list[str]:
    """Names the existing charm gave ``vip`` before (the device in the name), and the one its
    hacluster interface gives an IPv6 VIP without a device."""
    if ipaddress.ip_address(vip).version == 6:
        names = [f"res_{SERVICE}_None_ipv6addr_vip"]
        if interface:
            names.append(f"res_{SERVICE}_{interface}_ipv6addr_vip")
        return names
    return [f"res_{SERVICE}_{interface}_vip"] if interface else []


def _published(data: Mapping[str, str], key: str) -> object:
    try:
        return json.loads(data.get(f"json_{key}", "") or "null")
    except ValueError:
        return None


def request(
    vips: Sequence[str],
    interfaces: Mapping[str, str],
    *,
    bind_iface: str,
    published: Mapping[str, str],
) -> dict[str, str]:
    """The unit databag for hacluster: every key this module owns, "" for one to clear.

    ``interfaces``: the device each VIP's network is on here ("" unknown); ``published``:
    this unit's databag as it is now, whose resources no longer wanted (a VIP removed from
    ``vip``) are asked to be deleted."""
    resources = {SERVICE_RESOURCE: f"lsb:{CLONED_SERVICE}"}
    params = {SERVICE_RESOURCE: f'{_META} op monitor interval="5s"'}
    former: list[str] = list(FORMER_RESOURCES)
    for vip in vips:
        name = vip_resource(vip)
        resources[name], params[name] = _vip_primitive(vip)
        former += _former_vip_names(vip, interfaces.get(vip, ""))
    wanted: dict[str, object] = {
        "resources": resources,
        "resource_params": params,
        "clones": {SERVICE_CLONE: SERVICE_RESOURCE},
        "init_services": {SERVICE_RESOURCE: CLONED_SERVICE},
    }
    vip_names = sorted(n for n in resources if n != SERVICE_RESOURCE)
    if vip_names:
        wanted["groups"] = {VIP_GROUP: " ".join(vip_names)}
        wanted["colocations"] = {VIP_COLOCATION: f"inf: {VIP_GROUP} {SERVICE_CLONE}"}
    wanted["delete_resources"] = _deletions(published, former, wanted)
    data = {
        f"json_{key}": json.dumps(wanted[key], sort_keys=True) if wanted.get(key) else ""
        for key in JSON_KEYS
    }
    data["corosync_bindiface"] = bind_iface
    data["corosync_mcastport"] = MCASTPORT
    return data


# What a deletion may name: pacemaker objects the principal made under these keys.
_NAMED = ("resources", "groups", "clones", "colocations")


def _deletions(
    published: Mapping[str, str], former: Iterable[str], wanted: Mapping[str, object]
) -> list[str]:
    """Deletions asked before, what was published but is no longer wanted (a VIP removed,
    its group and colocation with the last one), and the former names; never an object
    wanted now (a VIP given back is not deleted again)."""
    keep: set[str] = set()
    for key in _NAMED:
        value = wanted.get(key)
        if isinstance(value, dict):
            keep.update(value)
    before = _published(published, "delete_resources")
    names = [n for n in before if isinstance(n, str)] if isinstance(before, list) else []
    for key in _NAMED:
        old = _published(published, key)
        if isinstance(old, dict):
            names += sorted(str(n) for n in old)
    names += former
    seen: list[str] = []
    for name in names:
        if name not in keep and name not in seen:
            seen.append(name)
    return seen


def clustered(units: Mapping[str, Mapping[str, str]]) -> bool:
    """Whether a hacluster unit says the cluster runs the resources (it writes "yes"; older
    ones "true")."""
    return any(d.get("clustered", "").lower() in ("yes", "true") for d in units.values())
