"""What this machine needs to run the lab: Debian's MariaDB, RabbitMQ (with epmd), Open
vSwitch's OVSDB tools and OVN's northd, and for the lab's chassis ``ovs-vswitchd`` and
``ovn-controller``, installed by ``tests/setup-host.sh``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.lab.services import ovn
from tests.lab.services.mariadb import MARIADBD
from tests.lab.services.rabbitmq import RABBIT_SERVER

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


class MissingHostPackages(RuntimeError):
    """The lab's Debian packages are missing and cannot be installed by this user."""


def host_prerequisites() -> list[str]:
    """What this machine lacks to run the lab; empty when it can."""
    missing = []
    if not any(Path(p).exists() for p in MARIADBD):
        missing.append("mariadb-server (mariadbd)")
    if not Path(RABBIT_SERVER).exists():
        missing.append("rabbitmq-server")
    if not shutil.which("mariadb-install-db"):
        missing.append("mariadb-server (mariadb-install-db)")
    if not shutil.which("epmd"):
        missing.append("erlang-base (epmd)")
    for program, package in (
        (ovn.OVSDB_SERVER, "openvswitch-common (ovsdb-server)"),
        (ovn.OVSDB_TOOL, "openvswitch-common (ovsdb-tool)"),
        (ovn.OVN_NORTHD, "ovn-central (ovn-northd)"),
        (ovn.OVS_VSWITCHD, "openvswitch-switch (ovs-vswitchd)"),
        (ovn.OVN_CONTROLLER, "ovn-host (ovn-controller)"),
    ):
        if not Path(program).exists():
            missing.append(package)
    return missing


def install_host_packages() -> None:
    """Install the Debian packages when root and missing (tests/setup-host.sh does the same)."""
    if not host_prerequisites():
        return
    if os.geteuid() != 0:
        raise MissingHostPackages(
            "missing " + ", ".join(host_prerequisites()) + " (run tests/setup-host.sh as root)"
        )
    subprocess.run(["bash", str(REPO_ROOT / "tests" / "setup-host.sh")], check=True)
