"""The unit's machine: the Octavia packages, files and services on it, and the ``Workload``
through which the charm changes them.

Every side effect the charm has on the machine goes through ``Workload``; ``Machine`` is the
real implementation. Paths are absolute paths on the unit, resolved under ``root`` so a whole
file tree can live in a temporary directory.

Package changes go through charmhelpers (imported only then): ``add_source`` for Cloud Archive
origins, ``apt_update``/``apt_install`` with their retries while another process holds the dpkg
lock, ``filter_installed_packages``. charmhelpers acts on ``/`` whatever ``root`` is.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

PACKAGES = (
    "octavia-api",
    "octavia-health-manager",
    "octavia-housekeeping",
    "octavia-worker",
    "apache2",
    "libapache2-mod-wsgi-py3",
)
# Any of these tells the installed Octavia's version.
VERSION_PACKAGES = ("octavia-common", "python3-octavia", *PACKAGES[:4])

OCTAVIA_CONF = "/etc/octavia/octavia.conf"
APACHE_SITE = "/etc/apache2/sites-available/octavia-api.conf"
APACHE_SITE_LINK = "/etc/apache2/sites-enabled/octavia-api.conf"
APACHE_SITE_LINK_TARGET = "../sites-available/octavia-api.conf"
CERT_DIR = "/etc/octavia/certs"
ISSUING_CA = f"{CERT_DIR}/issuing_ca.pem"
ISSUING_CA_KEY = f"{CERT_DIR}/issuing_ca_key.pem"
CONTROLLER_CA = f"{CERT_DIR}/controller_ca.pem"
CONTROLLER_CERT = f"{CERT_DIR}/controller_cert.pem"
DB_CA = "/etc/octavia/database-ca.pem"
AMQP_CA = "/etc/octavia/rabbitmq-ca.pem"
TLS_FILES = (ISSUING_CA, ISSUING_CA_KEY, CONTROLLER_CA, CONTROLLER_CERT)
# The API's own certificate (followed by its chain) and key, where the existing charms keep
# theirs; apache's master process reads them as root.
API_SSL_DIR = "/etc/apache2/ssl/octavia"
API_CERT = f"{API_SSL_DIR}/cert.pem"
API_KEY = f"{API_SSL_DIR}/key.pem"
# mod_ssl as a2enmod enables it: the module, its config and the session cache it needs.
APACHE_SSL_MODULE_LINKS = {
    f"/etc/apache2/mods-enabled/{name}": f"../mods-available/{name}"
    for name in ("ssl.conf", "ssl.load", "socache_shmcb.load")
}
# The system trust store: CAs the charm installs, and the bundle update-ca-certificates makes
# of them, which every client the charm configures reads.
CA_STORE_DIR = "/usr/local/share/ca-certificates"
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
UPDATE_CA_CERTIFICATES = ("update-ca-certificates",)

# Policy overrides (use-policyd-override): oslo.policy's default policy_dirs. Only the API
# enforces policy; any change under it is reported as this path.
POLICY_DIR = "/etc/octavia/policy.d"

CONTROLLER_SERVICES = ("octavia-worker", "octavia-health-manager", "octavia-housekeeping")
# apache2 runs the API (octavia-wsgi). The packaged standalone octavia-api unit would bind the
# same port: it stays stopped and masked, so that no package upgrade can start it again.
SERVICES = (*CONTROLLER_SERVICES, "apache2")
MASKED_SERVICES = ("octavia-api",)
SERVICE_ACTIONS = frozenset(
    {"start", "stop", "restart", "reload", "enable", "disable", "mask", "unmask"}
)
# Which service reads which file: only those restart when a file changes.
_COMMON = (OCTAVIA_CONF, DB_CA, AMQP_CA, SYSTEM_CA_BUNDLE)
READERS: dict[str, tuple[str, ...]] = {
    **{service: (*_COMMON, *TLS_FILES) for service in CONTROLLER_SERVICES},
    "apache2": (
        *_COMMON,
        APACHE_SITE,
        APACHE_SITE_LINK,
        POLICY_DIR,
        API_CERT,
        API_KEY,
        *APACHE_SSL_MODULE_LINKS,
    ),
}

DB_MANAGE = ("octavia-db-manage", "--config-file", OCTAVIA_CONF, "upgrade", "head")

# Debian frontends must never prompt inside a hook.
_APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
# Keep the operator's edits of package conffiles; take the package's for untouched ones.
APT_OPTIONS = (
    "--option=Dpkg::Options::=--force-confold",
    "--option=Dpkg::Options::=--force-confdef",
)


class WorkloadError(RuntimeError):
    """A command on the unit failed; the message is safe to show (no secrets)."""


@dataclass(frozen=True)
class File:
    """A file the charm wants on the unit, with its ownership and mode."""

    path: str
    content: bytes
    mode: int = 0o644
    owner: str = "root"
    group: str = "root"


class Workload(Protocol):
    """The side effects the charm has on its machine."""

    root: Path

    def missing_packages(self, packages: Sequence[str]) -> list[str]:
        """Packages of ``packages`` that are not installed (a cheap dpkg query)."""
        ...

    def add_apt_source(self, source: str) -> None:
        """Add an apt source as charmhelpers' ``add_source`` spells it (``cloud:...``)."""
        ...

    def apt_update(self) -> None:
        """Refresh the apt indexes."""
        ...

    def apt_install(self, packages: Sequence[str], *, upgrade: bool = False) -> None:
        """Install those of ``packages`` not installed; with ``upgrade``, every one of them
        (``apt-get install`` upgrades installed packages the sources now offer newer)."""
        ...

    def architecture(self) -> str:
        """The dpkg architecture of the machine (amd64, arm64, ...)."""
        ...

    def package_versions(self, packages: Sequence[str]) -> dict[str, str]:
        """Installed version of each installed package of ``packages``."""
        ...

    def read_file(self, path: str) -> bytes | None:
        """Content of ``path``, or None if it does not exist."""
        ...

    def list_files(self, directory: str) -> list[str]:
        """The absolute paths of the files (not directories) in ``directory``, sorted;
        empty when it does not exist."""
        ...

    def cpu_count(self) -> int:
        """The CPUs the machine offers (a container's own, where LXD limits them)."""
        ...

    def write_file(self, file: File) -> bool:
        """Make ``file`` exist as given; return whether anything changed."""
        ...

    def remove_file(self, path: str) -> bool:
        """Remove ``path``; return whether it existed."""
        ...

    def symlink(self, path: str, target: str) -> bool:
        """Make ``path`` a symlink to ``target``; return whether anything changed."""
        ...

    def service_active(self, name: str) -> bool:
        """Whether the systemd unit ``name`` is active."""
        ...

    def service_enabled(self, name: str) -> bool:
        """Whether the systemd unit ``name`` starts at boot."""
        ...

    def service_masked(self, name: str) -> bool:
        """Whether the systemd unit ``name`` is masked (nothing can start it)."""
        ...

    def service(self, action: str, name: str) -> None:
        """Run ``systemctl <action> <name>`` (one of ``SERVICE_ACTIONS``)."""
        ...

    def run(self, command: Sequence[str]) -> str:
        """Run a command to completion and return its output; raise WorkloadError on failure."""
        ...


class Machine:
    """The real unit: apt-get, dpkg-query, systemctl and the file system under ``root``."""

    def __init__(self, root: Path = Path("/")) -> None:
        self.root = root

    def _path(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def missing_packages(self, packages: Sequence[str]) -> list[str]:
        installed = self.package_versions(packages)
        return [p for p in packages if p not in installed]

    def add_apt_source(self, source: str) -> None:
        from charmed_octavia.unit.origin import charmhelpers_fetch

        fetch = charmhelpers_fetch()
        try:
            fetch.add_source(source, fail_invalid=True)
        except fetch.SourceConfigError as e:
            raise WorkloadError(f"cannot add apt source {source}: {e}") from e
        except subprocess.CalledProcessError as e:
            raise WorkloadError(_apt_failure(e)) from e
        except OSError as e:
            raise WorkloadError(f"cannot add apt source {source}: {e}") from e

    def apt_update(self) -> None:
        from charmed_octavia.unit.origin import charmhelpers_fetch

        try:
            charmhelpers_fetch().apt_update(fatal=True)
        except subprocess.CalledProcessError as e:
            raise WorkloadError(_apt_failure(e)) from e

    def apt_install(self, packages: Sequence[str], *, upgrade: bool = False) -> None:
        from charmed_octavia.unit.origin import charmhelpers_fetch

        fetch = charmhelpers_fetch()
        try:
            # A package without an install candidate counts as missing: apt-get says why.
            wanted = list(packages) if upgrade else fetch.filter_installed_packages(packages)
            if wanted:
                fetch.apt_install(wanted, options=list(APT_OPTIONS), fatal=True)
        except subprocess.CalledProcessError as e:
            raise WorkloadError(_apt_failure(e)) from e

    def architecture(self) -> str:
        return self.run(["dpkg", "--print-architecture"]).strip()

    def package_versions(self, packages: Sequence[str]) -> dict[str, str]:
        if not packages:
            return {}
        # dpkg-query exits 1 when a name is unknown but still prints the known ones.
        try:
            result = subprocess.run(
                ["dpkg-query", "-W", "-f", "${Package}\t${Status}\t${Version}\n", *packages],
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError:
            return {}
        versions = {}
        for line in result.stdout.splitlines():
            name, status, version = [*line.split("\t"), "", ""][:3]
            if status.endswith(" installed") and version:
                versions[name] = version
        return versions

    def read_file(self, path: str) -> bytes | None:
        try:
            return self._path(path).read_bytes()
        except FileNotFoundError:
            return None

    def list_files(self, directory: str) -> list[str]:
        base = self._path(directory)
        if not base.is_dir():
            return []
        return sorted(
            f"{directory.rstrip('/')}/{p.name}" for p in base.iterdir() if not p.is_dir()
        )

    def cpu_count(self) -> int:
        # As psutil.cpu_count(), which charmhelpers counts workers with: the online CPUs
        # (lxcfs shows a limited container its own).
        return os.cpu_count() or 1

    def write_file(self, file: File) -> bool:
        target = self._path(file.path)
        uid, gid = _ids(file.owner, file.group)
        try:
            stat = target.lstat()
        except FileNotFoundError:
            stat = None
        if stat is not None and not target.is_symlink() and target.read_bytes() == file.content:
            changed = False
            if stat.st_mode & 0o7777 != file.mode:
                os.chmod(target, file.mode)
                changed = True
            if (stat.st_uid, stat.st_gid) != (uid, gid):
                os.chown(target, uid, gid)
                changed = True
            return changed
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written under a private name with its final mode first, then renamed, so a secret
        # is never readable by others, not even for a moment, and readers see whole files.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            os.fchmod(fd, file.mode)
            os.fchown(fd, uid, gid)
            with os.fdopen(fd, "wb") as stream:
                stream.write(file.content)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

    def remove_file(self, path: str) -> bool:
        target = self._path(path)
        if target.is_symlink() or target.exists():
            target.unlink()
            return True
        return False

    def symlink(self, path: str, target: str) -> bool:
        link = self._path(path)
        if link.is_symlink() and os.readlink(link) == target:
            return False
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
        return True

    def service_active(self, name: str) -> bool:
        result = subprocess.run(
            ["systemctl", "is-active", "--quiet", name], check=False, capture_output=True
        )
        return result.returncode == 0

    def service_enabled(self, name: str) -> bool:
        result = subprocess.run(
            ["systemctl", "is-enabled", "--quiet", name], check=False, capture_output=True
        )
        return result.returncode == 0

    def service_masked(self, name: str) -> bool:
        # is-enabled prints the unit file state ("masked") and exits non-zero for it.
        result = subprocess.run(
            ["systemctl", "is-enabled", name], check=False, capture_output=True, text=True
        )
        return result.stdout.strip() == "masked"

    def service(self, action: str, name: str) -> None:
        if action not in SERVICE_ACTIONS:
            raise ValueError(f"unknown service action {action!r}")
        self.run(["systemctl", action, name])

    def run(self, command: Sequence[str]) -> str:
        try:
            result = subprocess.run(
                list(command),
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, **_APT_ENV},
            )
        except OSError as e:
            raise WorkloadError(f"{command[0]}: {e.strerror}") from e
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
            raise WorkloadError(f"{' '.join(command[:3])} failed ({result.returncode}): {tail}")
        return result.stdout


def _apt_failure(error: subprocess.CalledProcessError) -> str:
    """A status-sized message for a failed apt command (its output went to the unit's log)."""
    command = error.cmd if isinstance(error.cmd, list) else str(error.cmd).split()
    words = [w for w in command if not w.startswith("-")][:2]
    return (
        f"{' '.join(words)} failed with exit status {error.returncode} "
        "(retried; its output is in the unit's log)"
    )


def _ids(owner: str, group: str) -> tuple[int, int]:
    try:
        uid = pwd.getpwnam(owner).pw_uid
    except KeyError as e:
        raise WorkloadError(f"user {owner!r} does not exist") from e
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError as e:
        raise WorkloadError(f"group {group!r} does not exist") from e
    return uid, gid


def series(workload: Workload) -> str:
    """The Ubuntu codename of the unit, from os-release."""
    text = (workload.read_file("/etc/os-release") or b"").decode(errors="replace")
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        values[key] = value.strip().strip('"')
    return values.get("UBUNTU_CODENAME") or values.get("VERSION_CODENAME") or ""
