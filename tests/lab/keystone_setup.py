"""Keystone's whole set-up in one process of the lab venv: schema, bootstrap, catalog, users.

``python keystone_setup.py SPEC.json`` where the spec (written by the lab, mode 0600) holds the
config file, passwords and endpoints. Doing it through keystone's own managers in one
interpreter replaces a dozen CLI or API round trips, each paying keystone's import time.
"""

# pyright: reportMissingImports=false
# (runs in the lab venv, where these servers are installed)

from __future__ import annotations

import json
import sys
import uuid


def main(spec_path: str) -> None:
    with open(spec_path) as f:
        spec = json.load(f)

    from keystone.cmd import bootstrap, cli
    from keystone.common import provider_api
    from keystone.exception import Conflict

    # keystone-manage db_sync, in-process; it also parses the config for what follows.
    cli.main(argv=["keystone-manage", "--config-file", spec["config"], "db_sync"])

    boot = bootstrap.Bootstrapper()
    boot.admin_password = spec["admin"]["password"]
    boot.admin_username = spec["admin"]["username"]
    boot.project_name = spec["admin"]["project"]
    boot.admin_role_name = "admin"
    boot.service_name = "keystone"
    boot.region_id = spec["region"]
    boot.public_url = boot.internal_url = boot.admin_url = spec["identity_url"]
    boot.bootstrap()

    providers = provider_api.ProviderAPIs
    domain = "default"

    def project(name: str) -> str:
        try:
            pid = uuid.uuid4().hex
            providers.resource_api.create_project(
                pid,
                {"id": pid, "name": name, "domain_id": domain, "enabled": True},
            )
            return pid
        except Conflict:
            return providers.resource_api.get_project_by_name(name, domain)["id"]

    roles = {r["name"]: r["id"] for r in providers.role_api.list_roles()}

    def role(name: str) -> str:
        if name not in roles:
            rid = uuid.uuid4().hex
            providers.role_api.create_role(rid, {"id": rid, "name": name})
            roles[name] = rid
        return roles[name]

    def user(name: str, password: str, project_id: str, role_names: list[str]) -> None:
        ref = providers.identity_api.create_user(
            {"name": name, "domain_id": domain, "enabled": True, "password": password}
        )
        for rn in role_names:
            providers.assignment_api.add_role_to_user_and_project(ref["id"], project_id, role(rn))

    for rn in spec["extra_roles"]:
        role(rn)
    projects = {name: project(name) for name in spec["projects"]}
    for u in spec["users"]:
        user(u["username"], u["password"], projects[u["project"]], u["roles"])

    for svc in spec["services"]:
        sid = uuid.uuid4().hex
        providers.catalog_api.create_service(
            sid, {"id": sid, "name": svc["name"], "type": svc["type"], "enabled": True}
        )
        for interface in ("public", "internal", "admin"):
            eid = uuid.uuid4().hex
            providers.catalog_api.create_endpoint(
                eid,
                {
                    "id": eid,
                    "service_id": sid,
                    "interface": interface,
                    "url": svc["url"],
                    "region_id": spec["region"],
                    "enabled": True,
                },
            )
    print("keystone set-up done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
