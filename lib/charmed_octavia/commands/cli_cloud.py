"""octavia-sru's cloud: chosen as the openstack CLI chooses it, through openstacksdk's own
config loader (``--os-cloud``, ``OS_CLOUD``, the other ``OS_*`` variables, ``clouds.yaml`` in
the usual places, ``--insecure``, ``--os-cacert``); or, with ``--octavia-service-user``, as
Octavia's service user from octavia.conf's ``[service_auth]``, the credentials the charm's
actions use. Its HTTP calls are told without headers or bodies."""

from __future__ import annotations

import argparse
import configparser
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from charmed_octavia.cloud.connection import APP_NAME, quiet_http_body_loggers

if TYPE_CHECKING:
    from openstack.config.cloud_region import CloudRegion
    from openstack.connection import Connection

HTTP_LOG = logging.getLogger("charmed_octavia.http")
SERVICE_AUTH_KEYS = (
    "auth_url",
    "username",
    "password",
    "project_name",
    "user_domain_name",
    "project_domain_name",
)


class CloudChoiceError(ValueError):
    """The cloud options name no cloud that can be used (a usage error)."""


@dataclasses.dataclass(frozen=True)
class Cloud:
    # Where the cloud is, for the report: auth URL and region, never a credential.
    label: str
    # Makes a new connection (``connector`` makes it once).
    open: Callable[[], Connection] = dataclasses.field(repr=False)


def register(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Add openstacksdk's options (as the openstack CLI has them) to ``parser``."""
    from openstack import exceptions
    from openstack.config.loader import OpenStackConfig

    try:
        OpenStackConfig(app_name=APP_NAME).register_argparse_arguments(parser, argv)
    except (exceptions.ConfigException, OSError, ValueError) as e:
        raise CloudChoiceError(_said(e)) from None
    parser.add_argument(
        "--octavia-service-user",
        action="store_true",
        help="connect as Octavia's service user with the [service_auth] credentials of "
        "--octavia-conf (on an Octavia unit, as root), as the charm's actions do: the "
        "plan's keypair then belongs to the user that boots the amphorae",
    )


def choose(args: argparse.Namespace) -> Cloud:
    """The cloud the options give; no request is made."""
    if args.octavia_service_user:
        return _service_user(args)
    region = _region(args)
    return Cloud(_region_label(region), lambda: _open_region(region))


def _region(args: argparse.Namespace) -> CloudRegion:
    from openstack import exceptions
    from openstack.config.loader import OpenStackConfig

    try:
        region = OpenStackConfig(app_name=APP_NAME).get_one(argparse=args)
    except (exceptions.ConfigException, OSError, ValueError) as e:
        raise CloudChoiceError(_said(e)) from None
    if not region.config.get("auth", {}).get("auth_url") and region.config.get(
        "auth_type"
    ) not in ("none", "admin_token"):
        where = f"cloud {args.os_cloud!r}" if args.os_cloud else "the OS_* variables"
        raise CloudChoiceError(
            f"{where} gives no auth URL: name a cloud of clouds.yaml with --os-cloud or "
            "OS_CLOUD, set OS_AUTH_URL and the other OS_* variables, or use "
            "--octavia-service-user on an Octavia unit"
        )
    return region


def _region_label(region: CloudRegion) -> str:
    auth_url = region.config.get("auth", {}).get("auth_url", "")
    name = region.name or "envvars"
    where = f"{auth_url}, region {region.region_name}" if region.region_name else auth_url
    return f"{name} ({where})"


def _open_region(region: CloudRegion) -> Connection:
    from openstack.connection import Connection

    return Connection(config=region, app_name=APP_NAME)


def _service_user(args: argparse.Namespace) -> Cloud:
    """Octavia's own service credentials, from octavia.conf (read, never shown)."""
    from charmed_octavia.cloud import connection

    path = Path(args.octavia_conf)
    conf = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        with open(path) as handle:
            conf.read_file(handle)
    except (OSError, UnicodeDecodeError, configparser.Error) as e:
        reason = getattr(e, "strerror", None) or type(e).__name__
        raise CloudChoiceError(
            f"--octavia-service-user: {path} cannot be read ({reason}); it is root's on an "
            "Octavia unit: run as root, or give --octavia-conf"
        ) from None
    found = {
        key: oslo_text(conf.get("service_auth", key, fallback="")) for key in SERVICE_AUTH_KEYS
    }
    missing = [key for key, value in found.items() if not value]
    if missing:
        raise CloudChoiceError(
            f"--octavia-service-user: [service_auth] of {path} lacks {', '.join(missing)}"
        )
    region = args.os_region_name or next(
        (
            value
            for section in ("service_auth", "nova", "certificates", "keystone_authtoken")
            if (value := conf.get(section, "region_name", fallback="").strip())
        ),
        "RegionOne",
    )
    endpoint_type = conf.get("certificates", "endpoint_type", fallback="")
    interface = args.os_interface or ("internal" if "internal" in endpoint_type else "public")
    if interface.endswith("URL"):
        interface = interface[: -len("URL")]
    verify: bool | str = args.os_cacert or not args.insecure
    return Cloud(
        label=f"Octavia's service user ({found['auth_url']}, region {region})",
        open=lambda: connection.connect(
            **found, region_name=region, interface=interface, verify=verify
        ),
    )


def oslo_text(raw: str) -> str:
    """A value of an oslo.config file as oslo reads it: surrounding quotes dropped, "$$" an
    escaped "$" (how the charm's render.oslo_value writes a password with either)."""
    text = raw.strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1]
    return text.replace("$$", "$")


def connector(cloud: Cloud, verbose: bool) -> Callable[[], Connection]:
    """Opens the connection once, on first use; with ``verbose``, each HTTP call is logged
    as method, URL, status and time (never a header or a body)."""
    made: list[Connection] = []

    def connect() -> Connection:
        if not made:
            quiet_http_body_loggers()
            conn = cloud.open()
            if verbose:
                conn.session.session.hooks["response"].append(_log_call)  # type: ignore[attr-defined]
            made.append(conn)
        return made[0]

    return connect


def _log_call(response: Any, *args: Any, **kwargs: Any) -> None:
    del args, kwargs
    request = response.request
    url = request.url.split("?", 1)[0]
    seconds = response.elapsed.total_seconds() if response.elapsed else 0.0
    HTTP_LOG.info("HTTP %s %s -> %s (%.2f s)", request.method, url, response.status_code, seconds)


def _said(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text if text.endswith(".") else text + "."
