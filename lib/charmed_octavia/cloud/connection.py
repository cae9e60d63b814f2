"""Opening an openstacksdk connection from plain values or from a clouds.yaml file.

openstacksdk is imported inside the functions: importing this module costs nothing until a
connection is made (only the actions that talk to the cloud pay for it).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from charmed_octavia.cloud.outcomes import shown

if TYPE_CHECKING:
    from openstack.connection import Connection

APP_NAME = "charmed-octavia"
# Loggers that write HTTP request and response bodies at DEBUG: a Barbican secret's payload
# (a PKCS#12 with its private key) and whatever else a body holds. ops forwards DEBUG records
# to juju-log, so these are kept at INFO whatever the root logger's level.
HTTP_BODY_LOGGERS = ("keystoneauth", "openstack", "urllib3", "barbicanclient")


def quiet_http_body_loggers() -> None:
    """Keep the HTTP libraries' DEBUG records (request and response bodies) from any log."""
    for name in HTTP_BODY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)


def connect(
    *,
    auth_url: str,
    username: str,
    password: str,
    project_name: str,
    user_domain_name: str,
    project_domain_name: str,
    region_name: str,
    interface: str = "internal",
    verify: bool | str = True,
) -> Connection:
    """Connection with Keystone v3 password credentials (the identity-service relation's)."""
    missing = [
        name
        for name, value in (
            ("auth_url", auth_url),
            ("username", username),
            ("password", password),
            ("project_name", project_name),
            ("user_domain_name", user_domain_name),
            ("project_domain_name", project_domain_name),
            ("region_name", region_name),
        )
        if not value
    ]
    if missing:
        raise ValueError(f"cannot connect to the cloud: missing {', '.join(missing)}")
    if interface not in ("public", "internal", "admin"):
        raise ValueError(f"interface must be public, internal or admin, not {shown(interface)}")
    quiet_http_body_loggers()
    from openstack.connection import Connection

    return Connection(
        auth_type="password",
        auth={
            "auth_url": auth_url,
            "username": username,
            "password": password,
            "project_name": project_name,
            "user_domain_name": user_domain_name,
            "project_domain_name": project_domain_name,
        },
        region_name=region_name,
        interface=interface,
        identity_api_version="3",
        verify=verify,
        # Without a cloud name openstacksdk reads neither clouds.yaml nor OS_* variables, so
        # nothing from the environment of whoever runs the action leaks in.
        app_name=APP_NAME,
    )


def connect_cloud(cloud_name: str, clouds_yaml: Path) -> Connection:
    """Connection for one named cloud of one clouds.yaml, ignoring every other config file."""
    path = Path(clouds_yaml)
    if not path.is_file():
        raise FileNotFoundError(f"clouds.yaml not found: {path}")
    quiet_http_body_loggers()
    from openstack.config.loader import OpenStackConfig
    from openstack.connection import Connection

    config = OpenStackConfig(
        config_files=[str(path)], vendor_files=[], secure_files=[], load_envvars=False
    )
    if cloud_name not in config.get_cloud_names():
        raise ValueError(f"cloud {shown(cloud_name)} is not in {path}")
    return Connection(config=config.get_one(cloud=cloud_name), app_name=APP_NAME)


def service_types(conn: Connection) -> set[str]:
    """Service types in the catalog of the connection's token."""
    catalog = conn.session.auth.get_access(conn.session).service_catalog  # type: ignore[union-attr]
    return {entry.get("type", "") for entry in catalog.catalog}


@contextlib.contextmanager
def requests_within(conn: Any, seconds: float) -> Iterator[None]:
    """No request of ``conn`` in this block outlasts ``seconds`` (nor the session's own
    bound): an API that waits on a service that is down (Octavia's on its message queue)
    would otherwise hang the caller. The session's own setting is given back."""
    session = conn.session
    bound = session.timeout
    session.timeout = min(bound or seconds, seconds)
    try:
        yield
    finally:
        session.timeout = bound
