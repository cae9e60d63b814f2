"""The lab's health manager on its chassis, where a unit's runs: in the chassis' network
namespace, bound to o-hm0's address, with the ``[health_manager]`` section the charm rendered.

``move_health_manager`` puts the charm's four keys (``bind_ip``, ``bind_port``,
``controller_ip_port_list``, ``heartbeat_key``) into the lab's octavia.conf, keeping the lab's
intervals and its failover-off timeout, restarts the worker (which writes the list and the key
into each amphora's agent configuration) and starts ``octavia-health-manager`` again in the
chassis' namespace. There 127.0.0.1 is not the lab's: the health manager reaches MariaDB over
its Unix socket (an extra config file), and needs nothing else (no RabbitMQ; Keystone and Nova
only for a failover, which is off).
"""

from __future__ import annotations

import configparser
from collections.abc import Mapping
from pathlib import Path

from tests.lab import procs
from tests.lab.chassis import Chassis
from tests.lab.control import Lab
from tests.lab.files import read_ini, write_ini, write_private
from tests.lab.services import Service, mariadb

HEALTH_MANAGER = "octavia-health-manager"
CHARM_KEYS = ("bind_ip", "bind_port", "controller_ip_port_list", "heartbeat_key")
EXTRA_CONF = "octavia-chassis-health-manager.conf"


def charm_section(octavia_conf: str) -> dict[str, str]:
    """The ``[health_manager]`` keys the charm renders, from its octavia.conf's text."""
    parser = configparser.RawConfigParser()
    parser.read_string(octavia_conf)
    section = parser["health_manager"]
    return {key: section[key] for key in CHARM_KEYS}


def udp_port_bound(pid: int, port: int) -> bool:
    """Whether a UDP socket of any address is bound to ``port`` in the network namespace of
    process ``pid`` (its own view of the kernel's tables)."""
    wanted = f":{port:04X}"
    for table in ("udp", "udp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        if any(line.split()[1].endswith(wanted) for line in lines if line.strip()):
            return True
    return False


def move_health_manager(
    lab: Lab, chassis: Chassis, section: Mapping[str, str], timeout: float = 60.0
) -> int:
    """See the module docstring; the new health manager's PID, once it is bound."""
    missing = [key for key in CHARM_KEYS if not section.get(key)]
    if missing:
        raise ValueError(f"the charm's [health_manager] lacks {', '.join(missing)}")
    sections = read_ini(lab.octavia_conf)
    sections["health_manager"].update({key: section[key] for key in CHARM_KEYS})
    write_ini(lab.octavia_conf, sections)
    extra = lab.octavia_conf.parent / EXTRA_CONF
    url = mariadb.socket_url(lab.dir, lab.passwords["db"], "octavia")
    write_private(extra, f"[database]\nconnection = {url}\n")
    old = lab.service(HEALTH_MANAGER)
    lab.stop_service(HEALTH_MANAGER)
    lab.stop_service("octavia-worker")
    lab.start_service("octavia-worker")
    argv = chassis.command([*old.argv[:3], "--config-file", str(extra)])
    lab.spawn(Service(HEALTH_MANAGER, argv, dict(old.env), old.log, cwd=old.cwd))
    pid = lab.service_pid(HEALTH_MANAGER)
    if pid is None:
        raise RuntimeError(f"{HEALTH_MANAGER} exited at once:\n{lab.log_tail(HEALTH_MANAGER)}")
    port = int(section["bind_port"])
    procs.wait_for(
        f"{HEALTH_MANAGER} bound to UDP {port} in the chassis",
        lambda: udp_port_bound(pid, port),
        timeout=timeout,
    )
    return pid
