"""octavia-sru's workspace: the cloud chosen, a state directory of the user's, the amphora key
given (or one made once), and the facts of this machine for the plan's report.

Under the state directory (0700): ``runs/`` holds the plan's run records and locks (what
``cleanup`` acts on), ``ssh/`` the key made when none is given and the known-hosts file.
"""

from __future__ import annotations

import argparse
import configparser
import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from charmed_octavia.commands import cli_cloud, cli_options
from charmed_octavia.commands.workspace import Workspace

if TYPE_CHECKING:
    from charmed_octavia.amphora.ssh import SSHSettings
    from charmed_octavia.plan.params import PlanContext


class UsageError(ValueError):
    """An option names a file or a value that cannot be used (nothing was changed)."""


def _address_map(entries: list[str]) -> dict[str, tuple[str, int]]:
    found = {}
    for entry in entries:
        ip, _, target = entry.partition("=")
        host, _, port = target.rpartition(":")
        try:
            ipaddress.ip_address(ip)
            number = int(port)
        except ValueError:
            number = 0
        if not host or not 0 < number < 65536:
            raise UsageError(
                f"--ssh-address {entry!r}: give LB_NETWORK_IP=HOST:PORT, e.g. "
                "192.0.2.10=127.0.0.1:2222"
            )
        found[ip] = (host.strip("[]"), number)
    return found


def _versions(entries: list[str]) -> dict[str, str]:
    from charmed_octavia.unit import machine

    found = machine.Machine().package_versions(machine.VERSION_PACKAGES)
    for entry in entries:
        name, sep, version = entry.partition("=")
        if not sep or not name.strip() or not version.strip():
            raise UsageError(f"--package-version {entry!r}: give NAME=VERSION")
        found[name.strip()] = version.strip()
    return found


def amp_ssh_key_name(args: argparse.Namespace, progress: Callable[[str], None]) -> str:
    """``--amp-ssh-key-name``, or octavia.conf's amp_ssh_key_name when it can be read."""
    if args.amp_ssh_key_name is not None:
        return args.amp_ssh_key_name
    conf = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        with open(args.octavia_conf) as handle:
            conf.read_file(handle)
    except FileNotFoundError:
        return ""
    except (OSError, configparser.Error, UnicodeDecodeError) as e:
        progress(f"{args.octavia_conf} not read ({type(e).__name__}): pass --amp-ssh-key-name")
        return ""
    return conf.get("controller_worker", "amp_ssh_key_name", fallback="").strip()


class _Amphorae:
    """The amphora key and host keys of this workspace."""

    def __init__(self, args: argparse.Namespace, state: Path) -> None:
        from charmed_octavia.amphora import ssh

        self.generated_dir = state / "ssh"
        self.key: Path = args.ssh_key or self.generated_dir / ssh.KEY_NAME
        self.known_hosts: Path = args.known_hosts or self.generated_dir / ssh.KNOWN_HOSTS_NAME
        self.user: str = args.ssh_user
        self.address_map = _address_map(args.ssh_address)
        self.given = args.ssh_key is not None
        if self.given and not self.key.is_file():
            raise UsageError(f"--ssh-key {self.key}: no such file")

    def settings(self) -> SSHSettings:
        from charmed_octavia.amphora.ssh import SSHSettings

        if not self.key.exists():
            raise FileNotFoundError(
                f"no amphora SSH key at {self.key}: pass --ssh-key with the private key of "
                "the amphora keypair, or run run-test-plan (it makes and uploads one)"
            )
        return SSHSettings(
            private_key_path=self.key,
            known_hosts_path=self.known_hosts,
            username=self.user,
            address_map=self.address_map,
        )

    def public_key(self) -> str:
        """The public half of the key given, or of the one made once under the state dir."""
        from charmed_octavia.amphora import ssh

        if self.given:
            return ssh.public_key_line(self.key)
        return ssh.ensure_keypair(self.generated_dir)[1]


def make_workspace(
    args: argparse.Namespace, cloud: cli_cloud.Cloud, progress: Callable[[str], None]
) -> Workspace:
    state: Path = args.state_dir or cli_options.default_state_dir()
    try:
        state.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"state directory {state}: {e.strerror or e}") from None
    runs = state / "runs"
    amphorae = _Amphorae(args, state)
    versions = _versions(args.package_version)

    def plan_context(sink: Callable[[str], None]) -> PlanContext:
        from charmed_octavia.plan.params import PlanContext
        from charmed_octavia.unit import machine

        return PlanContext(
            state_dir=runs,
            series=machine.series(machine.Machine()),
            origin=args.origin,
            package_versions=versions,
            amp_ssh_key_name=amp_ssh_key_name(args, sink),
            public_key=amphorae.public_key(),
            # After public_key(), which makes the key when none was given.
            amphora_ssh=amphorae.settings(),
            amphora_haproxy_dir=args.amphora_haproxy_dir,
            oom_since_margin=args.oom_since_margin,
            progress=sink,
            cloud_label=cloud.label,
        )

    return Workspace(
        connect=cli_cloud.connector(cloud, args.verbose),
        state_dir=runs,
        records_at=f"in {runs}",
        ssh=amphorae.settings,
        plan_context=plan_context,
        progress=progress,
        amphora_haproxy_dir=args.amphora_haproxy_dir,
    )
