"""The lab's clouds.yaml: one cloud per user, for openstacksdk and the openstack CLI."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from tests.lab.files import write_private
from tests.lab.services import REGION


def write_clouds_yaml(
    path: Path,
    identity_url: str,
    users: Mapping[str, tuple[str, str]],
    passwords: Mapping[str, str],
    *,
    cacert: Path | None = None,
) -> None:
    """``users`` maps each cloud's name to its user and project (in the default domain); the
    file is JSON (valid YAML), mode 0600: it holds the passwords. ``cacert``: the CA each
    cloud's clients trust (the TLS lab's), instead of the system's."""
    clouds = {
        name: {
            "auth": {
                "auth_url": identity_url,
                "username": user,
                "password": passwords[user],
                "project_name": project,
                "user_domain_name": "Default",
                "project_domain_name": "Default",
            },
            "region_name": REGION,
            "interface": "public",
            "identity_api_version": 3,
            **({"cacert": str(cacert)} if cacert else {}),
        }
        for name, (user, project) in users.items()
    }
    write_private(path, json.dumps({"clouds": clouds}, indent=2))
