"""FakeNeutron: a fake of Neutron's API on 127.0.0.1 for the unit tests of the management
network's ensure-functions (this machine's lab has no Neutron): networks, subnets, routers,
security groups and their rules, tags, extensions, kept in memory and served to a real
openstacksdk connection (``loopback_cloud.connection``). Every request is recorded, so a test
can say what was created. The same functions run against a real Neutron in
``tests/integration/test_configure_resources.py``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.unit import loopback_cloud

# Collection path -> the JSON key of one resource.
COLLECTIONS = {
    "networks": "network",
    "subnets": "subnet",
    "routers": "router",
    "security-groups": "security_group",
    "security-group-rules": "security_group_rule",
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "network": {"mtu": 1442, "admin_state_up": True},
    "subnet": {"ipv6_address_mode": None, "ipv6_ra_mode": None},
    "router": {"distributed": False},
    "security_group": {},
    "security_group_rule": {
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefix": None,
        "remote_group_id": None,
    },
}


class FakeNeutron:
    """The fake's state: resources by collection, the extensions it lists, the requests."""

    def __init__(self, extensions: tuple[str, ...] = ()) -> None:
        self.items: dict[str, list[dict[str, Any]]] = {c: [] for c in COLLECTIONS}
        self.extensions = extensions
        self.requests: list[tuple[str, str]] = []
        self.router_interfaces: list[tuple[str, str]] = []

    def add(self, collection: str, **attrs: Any) -> dict[str, Any]:
        """A resource that is already there (made by someone else, or the existing charm)."""
        item = {
            "id": str(uuid.uuid4()),
            "name": "",
            "tags": [],
            **DEFAULTS[COLLECTIONS[collection]],
            **attrs,
        }
        if collection == "subnets" and item.get("ip_version") is None:
            item["ip_version"] = 6
        self.items[collection].append(item)
        return item

    def changes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET"]

    def answer(self, method: str, url: str, body: Any) -> tuple[int, Any]:
        parts = urlsplit(url)
        path = parts.path.removeprefix("/v2.0/").strip("/").split("/")
        self.requests.append((method, "/".join(path)))
        query = {k: v for k, v in parse_qs(parts.query).items()}
        if path == ["extensions"]:
            return 200, {"extensions": [{"alias": a, "name": a} for a in self.extensions]}
        collection = path[0]
        if collection not in COLLECTIONS:
            return 404, {"NeutronError": {"message": f"no {collection}"}}
        key = COLLECTIONS[collection]
        if method == "GET" and len(path) == 1:
            found = [i for i in self.items[collection] if _matches(i, query)]
            return 200, {collection.replace("-", "_"): found}
        if method == "POST" and len(path) == 1:
            return 201, {key: self.add(collection, **body[key])}
        item = next((i for i in self.items[collection] if i["id"] == path[1]), None)
        if item is None:
            return 404, {"NeutronError": {"message": f"{key} {path[1]} not found"}}
        if method == "GET":
            return 200, {key: item}
        if method == "PUT" and len(path) == 4 and path[2] == "tags":
            item["tags"].append(path[3])
            return 201, None
        if method == "PUT" and path[2:] == ["add_router_interface"]:
            self.router_interfaces.append((item["id"], body["subnet_id"]))
            return 200, {"id": item["id"], "subnet_id": body["subnet_id"]}
        return 405, {"NeutronError": {"message": f"{method} {url} not in the fake"}}


def _matches(item: dict[str, Any], query: dict[str, list[str]]) -> bool:
    for name, values in query.items():
        if name == "tags":
            if not set(",".join(values).split(",")) <= set(item["tags"]):
                return False
        elif name in item and str(item[name]) not in values:
            return False
    return True


@contextlib.contextmanager
def serving(fake: FakeNeutron) -> Iterator[Any]:
    """A real openstacksdk connection whose catalog's network endpoint is ``fake``."""

    def answer(method: str, path: str, body: Any, port: int) -> tuple[int, Any]:
        if path.rstrip("/") in ("", "/v2.0"):
            return 200, _versions(port)
        return fake.answer(method, path, body)

    with loopback_cloud.json_server(answer) as port:
        keystone = f"http://127.0.0.1:{loopback_cloud.closed_port()}/v3"
        yield loopback_cloud.connection(keystone, {"network": f"http://127.0.0.1:{port}/"})


def _versions(port: int) -> dict[str, Any]:
    href = f"http://127.0.0.1:{port}/v2.0/"
    link = {"href": href, "rel": "self"}
    return {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [link]}]}
