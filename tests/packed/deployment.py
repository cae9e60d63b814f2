"""A deployment of the packed charm through its own dispatch, in Juju's order: the config and
the peer relation set up before the first hook, install, leader-elected (the leader),
config-changed, start, then the three relations joined and changed with the providers' data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.packed.unit import HookRun, PackedUnit
from tests.unit.charm_data import KEYSTONE_UNIT, MYSQL_ROUTER_UNIT, rabbit_unit

ORIGIN = {"22.04": "cloud:jammy-caracal", "24.04": "distro"}


@dataclass
class Deployment:
    unit: PackedUnit
    runs: dict[str, HookRun] = field(default_factory=dict)


def deploy(unit: PackedUnit, leader: PackedUnit | None = None) -> Deployment:
    """Every hook of a new unit; a unit joining ``leader``'s application finds its peer data
    and secrets there before its first hook, as Juju shares them."""
    done = Deployment(unit)
    unit.configure(**{"openstack-origin": ORIGIN[unit.base.version]})
    unit.add_relation("cluster", "octavia", {}, peer=True)
    if leader is not None:
        unit.share_from(leader)
    first = ("install", "leader-elected") if unit.state["leader"] else ("install",)
    for hook in (*first, "config-changed", "start"):
        done.runs[hook] = unit.hook(hook)
    for endpoint, app, units in (
        ("identity-service", "keystone", {"keystone/0": KEYSTONE_UNIT}),
        ("shared-db", "octavia-mysql-router", {"octavia-mysql-router/0": MYSQL_ROUTER_UNIT}),
        ("amqp", "rabbitmq-server", {"rabbitmq-server/0": rabbit_unit("10.5.0.20")}),
    ):
        rid = unit.add_relation(endpoint, app, units)
        for kind in ("joined", "changed"):
            done.runs[f"{endpoint}-{kind}"] = unit.relation_hook(rid, kind, next(iter(units)))
    return done


def told_juju(state: dict[str, Any]) -> str:
    """All a unit told Juju that a secret must never reach: its log and its action tool calls
    (results, failures and action logs)."""
    logged = "\n".join(message for _, message in state["log"])
    return logged + "\n".join(" ".join(c) for c in state["calls"] if c[0].startswith("action"))
