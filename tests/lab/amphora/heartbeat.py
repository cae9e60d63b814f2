"""The lab amphora's heartbeats: the amphora agent's own health sender, one process for each
Octavia amphora the lab amphora stands for.

A real amphora's agent runs Octavia's ``health_daemon.run_sender``: every
``heartbeat_interval`` it builds the message with ``health_daemon.build_stats_message()`` (the
listeners and pools of each load balancer whose haproxy runs, read from haproxy's stats
socket ``<base_path>/<lb_id>.sock``, its pid file ``<base_path>/<lb_id>/<lb_id>.pid`` and its
``haproxy.cfg``), and ``health_sender.UDPStatusSender`` signs it with ``heartbeat_key``
(``status_message.wrap_envelope``: zlib JSON and its HMAC-SHA256) and sends it to the next
address of ``controller_ip_port_list``. ``main`` runs that very loop, in the lab venv, so the
message is ``build_stats_message()``'s, read from the lab amphora's real haproxy, with:

- the ``amphora-agent.conf`` the worker rendered for this amphora
  (``agent_jinja_cfg.AgentJinjaTemplater``, handed to the compute driver as a config drive
  file): its amphora id, controller addresses, interval and key. The lab compute driver
  (``compute.py``) writes it, private (it holds the key), into the amphora's agent directory
  (``agent_dir``) and starts this process (``boot``);
- ``[haproxy_amphora] base_path`` pointed at the agent directory's ``view``: the lab amphora's
  haproxy directory holds the load balancers of every Octavia amphora it stands for, a VM's
  only its own. The view links this amphora's (``show_load_balancer``: its directory and stats
  socket), which the lab amphora driver adds when it configures haproxy for the amphora. The
  view is the sender's working directory and ``base_path`` is ``.``: a Unix socket's path is
  at most 107 bytes, which the view's absolute path under a temporary directory exceeds.

The process is not in the amphora's memory cgroup: the agent is part of what the lab
amphora's memory model leaves out (see the package docstring). It leads its own process group,
so that it outlives a restart of the worker that booted it, as an amphora's agent does. It
stops on SIGTERM (``shut_down``: the compute driver's delete; ``stop_all``:
``LabAmphora.stop``), once its agent directory is gone, or after its TTL; SIGHUP makes it
reload its configuration, as the agent's does.

Standard library only at module level: the worker, the lab amphora and the unit tests import
it; ``main`` imports Octavia (the lab venv's).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.lab import procs
from tests.lab.files import write_private

AGENT_CONF = "/etc/octavia/amphora-agent.conf"  # its path in the config drive
AGENTS = "agents"  # under the lab amphora's root: one directory per Octavia amphora
_KEY_LINE = re.compile(r"^(heartbeat_key\s*=).*$", re.M)


def amphora_id_from_name(name: str) -> str:
    """The amphora id in the compute name the worker gives it (``amphora-<id>``)."""
    prefix = "amphora-"
    if not name.startswith(prefix):
        raise ValueError(f"not an amphora's compute name: {name!r}")
    return _checked_id(name[len(prefix) :])


def _checked_id(amphora_id: str) -> str:
    # A directory name: only a UUID, never a path.
    try:
        return str(uuid.UUID(amphora_id))
    except ValueError:
        raise ValueError(f"not an amphora id: {amphora_id!r}") from None


def agent_dir(root: Path, amphora_id: str) -> Path:
    """The agent directory of Octavia amphora ``amphora_id`` in the lab amphora at ``root``."""
    return root / AGENTS / _checked_id(amphora_id)


def agent_conf(directory: Path) -> Path:
    return directory / "amphora-agent.conf"


def replace_heartbeat_key(text: str, key: str) -> str:
    """``amphora-agent.conf`` text with ``[health_manager] heartbeat_key`` set to ``key``."""
    if not re.fullmatch(r"[^\s]+", key):
        raise ValueError("a heartbeat key is one word")
    replaced, count = _KEY_LINE.subn(lambda m: f"{m.group(1)} {key}", text)
    if count != 1:
        raise ValueError(f"the agent configuration holds {count} heartbeat_key lines, not one")
    return replaced


def boot(
    directory: Path,
    config: str,
    compute_id: str,
    *,
    ttl: float,
    env: Mapping[str, str],
    prefix: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """The amphora's boot as far as its heartbeats go: its agent configuration (``config``,
    written private), the compute id its deletion names, and the sender, started (under
    ``prefix``: ``nsenter --net=...`` runs it in the amphora's namespace on lb-mgmt-net;
    nsenter execs it, so the PID recorded is the sender's)."""
    (directory / "view").mkdir(parents=True, exist_ok=True)
    write_private(agent_conf(directory), config)
    (directory / "compute_id").write_text(compute_id)
    with open(directory / "heartbeat.log", "ab") as log:
        sender = subprocess.Popen(
            [
                *prefix,
                sys.executable,
                # Not -m: the package imports this module first, which runpy warns about.
                "-c",
                "from tests.lab.amphora.heartbeat import main; main()",
                "--agent-dir",
                str(directory),
                "--ttl",
                str(ttl),
            ],
            env=dict(env),
            cwd=str(directory / "view"),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (directory / "heartbeat.pid").write_text(f"{sender.pid} {procs.start_time(sender.pid)}\n")
    return sender


def show_load_balancer(directory: Path, base_path: Path, lb_id: str) -> None:
    """Put load balancer ``lb_id``'s haproxy directory and stats socket into the agent's
    view (idempotent)."""
    view = directory / "view"
    for name in (lb_id, f"{lb_id}.sock"):
        link = view / name
        if not link.is_symlink():
            link.symlink_to(base_path / name)


def sender_pid(directory: Path) -> int | None:
    """The PID of the agent directory's sender while it runs (the recorded process, not a
    later one with its PID)."""
    try:
        pid_text, started = (directory / "heartbeat.pid").read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    alive = procs.pid_alive(pid) and str(procs.start_time(pid)) == started
    return pid if alive else None


def stop(directory: Path, timeout: float = 10.0) -> None:
    """Stop the agent directory's sender (SIGTERM, then SIGKILL after ``timeout``)."""
    pid = sender_pid(directory)
    if pid is None:
        return
    # Its parent is the process that booted it (the worker), which alone can reap it: waited
    # for until it is gone or a zombie.
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while procs.pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not procs.pid_alive(pid):
            return


def shut_down(root: Path, compute_id: str) -> None:
    """The compute deletion of ``compute_id``: its sender stopped, its agent directory gone."""
    for directory in sorted((root / AGENTS).glob("*")):
        with contextlib.suppress(OSError):
            if (directory / "compute_id").read_text() == compute_id:
                stop(directory)
                shutil.rmtree(directory, ignore_errors=True)


def stop_all(root: Path) -> None:
    """Stop every sender of the lab amphora at ``root`` (its directories stay)."""
    for directory in sorted((root / AGENTS).glob("*")):
        stop(directory)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The lab amphora's heartbeat sender.")
    parser.add_argument("--agent-dir", type=Path, required=True)
    parser.add_argument("--ttl", type=float, required=True)
    args = parser.parse_args(argv)
    args.agent_dir = args.agent_dir.resolve()  # before the chdir below
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"
    )
    # Only importable in the lab venv, where this module runs as a program.
    from octavia.amphorae.backends.health_daemon import (  # pyright: ignore[reportMissingImports]
        health_daemon,
    )
    from octavia.common import config  # pyright: ignore[reportMissingImports]

    conf = config.cfg.CONF
    conf(args=[], project="octavia", default_config_files=[str(agent_conf(args.agent_dir))])
    os.chdir(args.agent_dir / "view")
    conf.set_override("base_path", ".", "haproxy_amphora")
    commands: queue.Queue[str] = queue.Queue()
    stopping = threading.Event()
    signal.signal(signal.SIGHUP, lambda *_: commands.put("reload"))
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    sender = threading.Thread(target=health_daemon.run_sender, args=(commands,), daemon=True)
    sender.start()
    deadline = time.monotonic() + args.ttl
    while not stopping.wait(0.5):
        if not agent_conf(args.agent_dir).exists() or time.monotonic() > deadline:
            break
    commands.put("shutdown")
    sender.join(timeout=conf.health_manager.heartbeat_interval + 1)
    os._exit(0)  # the sender thread may still sleep: nothing is left to flush
