"""Nagios checks for the nrpe-external-master relation, in the formats of charmhelpers'
``contrib.charmsupport.nrpe`` (which the existing charm uses and the nrpe charm reads).

Per check: ``/etc/nagios/nrpe.d/check_<shortname>.cfg`` holds ``command[check_<shortname>]=``
the command line; when the nrpe charm exports services, ``/var/lib/nagios/export/
service__<hostname>_check_<shortname>.cfg`` holds the Nagios service; the relation's unit data
holds ``monitors`` (YAML ``{monitors: {remote: {nrpe: {<shortname>: {command: ...}}}}}``).

The checks: one per service (the nrpe charm's ``check_systemd.py``, as charmhelpers'
``add_init_service_checks`` writes it for systemd units), and a certificate-expiry check per
certificate file the unit has: the amphora control plane's in ``/etc/octavia/certs`` (the
shortnames the existing charm gives them, ``cert_<file name>``) and the API's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import PurePosixPath

from charmed_octavia.unit.machine import (
    API_CERT,
    CONTROLLER_CA,
    CONTROLLER_CERT,
    ISSUING_CA,
    SERVICES,
    File,
    Workload,
)

NRPE_DIR = "/etc/nagios/nrpe.d"
EXPORT_DIR = "/var/lib/nagios/export"
PLUGINS = "/usr/local/lib/nagios/plugins"
# Installed by the nrpe charm, as the existing charm's service checks expect.
SYSTEMD_CHECK = f"{PLUGINS}/check_systemd.py"
# Installed by this charm (package data of this module).
CERT_CHECK_NAME = "check_octavia_cert.sh"
CERT_CHECK = f"{PLUGINS}/{CERT_CHECK_NAME}"
# Certificate file -> check shortname. The existing charm checks the CA certificates and the
# controller's client certificate, not the issuing CA's key.
CERT_CHECKS: dict[str, str] = {
    **{path: f"cert_{PurePosixPath(path).stem}" for path in (ISSUING_CA, CONTROLLER_CA)},
    CONTROLLER_CERT: f"cert_{PurePosixPath(CONTROLLER_CERT).stem}",
    API_CERT: "cert_api",
}
NRPE_SERVICE = "nagios-nrpe-server"
# The group that may read /etc/octavia/certs (the existing charm adds nagios to it).
CERT_GROUP = "octavia"

# charmhelpers' Check.service_template.
_SERVICE_TEMPLATE = """
#---------------------------------------------------
# This file is Juju managed
#---------------------------------------------------
define service {{
    use                             active-service
    host_name                       {hostname}
    service_description             {hostname}[{shortname}] {description}
    check_command                   check_nrpe!{command}
    servicegroups                   {servicegroups}

}}
"""
_SHORTNAME = re.compile(r"[A-Za-z0-9-_.@]+")


@dataclass(frozen=True)
class Check:
    shortname: str
    description: str
    command_line: str

    def __post_init__(self) -> None:
        if not _SHORTNAME.fullmatch(self.shortname):
            raise ValueError(f"nrpe check shortname {self.shortname!r} is not [A-Za-z0-9-_.@]+")

    @property
    def command(self) -> str:
        return f"check_{self.shortname}"

    def nrpe_file(self, servicegroups: str) -> str:
        """``check_<shortname>.cfg`` for nrpe.d, as charmhelpers' ``Check.write``."""
        lines = [f"# check {self.shortname}"]
        if servicegroups:
            lines += [
                "# The following header was added automatically by juju",
                "# Modifying it will affect nagios monitoring and alerting",
                f"# servicegroups: {servicegroups}",
            ]
        lines.append(f"command[{self.command}]={self.command_line}")
        return "\n".join(lines) + "\n"

    def service_file(self, hostname: str, servicegroups: str) -> str:
        """The exported Nagios service, as charmhelpers' ``Check.write_service_config``."""
        return _SERVICE_TEMPLATE.format(
            hostname=hostname,
            shortname=self.shortname,
            description=self.description,
            command=self.command,
            servicegroups=servicegroups,
        )


def nagios_unit_name(unit_name: str, host_context: str) -> str:
    """charmhelpers' ``get_nagios_unit_name``."""
    return f"{host_context}:{unit_name}" if host_context else unit_name


def nagios_hostname(context: str, unit_name: str, relation_hostname: str) -> str:
    """The nrpe charm's ``nagios_hostname``, else ``<context>-<unit with dashes>``."""
    return relation_hostname or f"{context}-{unit_name.replace('/', '-')}"


def checks(
    unit_label: str, certificates: list[str], *, crit_days: int, warn_days: int
) -> list[Check]:
    """The services' checks and one per present certificate file of ``CERT_CHECKS``."""
    found = [
        Check(name, f"process check {{{unit_label}}}", f"{SYSTEMD_CHECK} {name}")
        for name in SERVICES
    ]
    for path, shortname in CERT_CHECKS.items():
        if path in certificates:
            found.append(
                Check(
                    shortname,
                    f"Check Certificate {PurePosixPath(path).name}",
                    f"{CERT_CHECK} {crit_days} {warn_days} {path}",
                )
            )
    return found


def every_shortname() -> list[str]:
    """Every check this charm may write (to remove the ones no longer wanted)."""
    return [*SERVICES, *CERT_CHECKS.values()]


def monitors(found: list[Check]) -> dict[str, object]:
    """The relation's ``monitors`` value before YAML, as charmhelpers' ``NRPE.write``."""
    return {"monitors": {"remote": {"nrpe": {c.shortname: {"command": c.command} for c in found}}}}


def cert_check_script() -> bytes:
    return (
        resources.files("charmed_octavia.unit")
        .joinpath("scripts")
        .joinpath(CERT_CHECK_NAME)
        .read_bytes()
    )


def present_certificates(wl: Workload) -> list[str]:
    return [path for path in CERT_CHECKS if wl.read_file(path) is not None]


def nrpe_ready(wl: Workload) -> bool:
    """Whether the nrpe charm has set up nagios-nrpe-server here (charmhelpers' test)."""
    return (wl.root / NRPE_DIR.lstrip("/")).is_dir()


def desired_files(
    found: list[Check], *, hostname: str, servicegroups: str, export: bool
) -> dict[str, File | None]:
    """Every file of every possible check: its content, or None to remove it."""
    wanted = {c.shortname: c for c in found}
    files: dict[str, File | None] = {CERT_CHECK: File(CERT_CHECK, cert_check_script(), 0o755)}
    for shortname in every_shortname():
        check = wanted.get(shortname)
        path = f"{NRPE_DIR}/check_{shortname}.cfg"
        files[path] = File(path, check.nrpe_file(servicegroups).encode()) if check else None
        if export:
            path = f"{EXPORT_DIR}/service__{hostname}_check_{shortname}.cfg"
            content = check.service_file(hostname, servicegroups) if check else None
            files[path] = File(path, content.encode()) if content else None
    return files


def group_members(wl: Workload, group: str) -> list[str] | None:
    """Members of ``group`` from /etc/group; None when the group does not exist."""
    text = (wl.read_file("/etc/group") or b"").decode(errors="replace")
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) == 4 and fields[0] == group:
            return [m for m in fields[3].split(",") if m]
    return None


def user_exists(wl: Workload, user: str) -> bool:
    text = (wl.read_file("/etc/passwd") or b"").decode(errors="replace")
    return any(line.split(":", 1)[0] == user for line in text.splitlines())
