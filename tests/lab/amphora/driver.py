"""The lab amphora driver: Octavia's noop amphora driver that also configures the lab amphora.

Loaded by the lab's octavia-worker (entry point ``lab_amphora_driver`` in namespace
``octavia.amphora.drivers``, registered by ``tests/lab/amphora_plugin``). Everything the noop
driver does still happens (its records, its listener statistics); in addition, whenever the
worker updates an amphora's listeners (listener, pool and member create/update/delete all run
``ListenersUpdate`` -> ``update`` -> ``update_amphora_listeners``), this driver does what the
real haproxy driver and the amphora agent do, on the lab amphora:

- fetches the listeners' TLS certificates through Octavia's own cert manager (Barbican) and
  writes them with their crt-list under ``<base_cert_dir>/<lb_id>/``;
- renders ``haproxy.cfg`` with Octavia's combined-listeners templater for the load balancer
  model the worker passes, with ``amp_details`` as the amphora agent reports them (memory from
  the lab amphora's memory cgroup, the lab haproxy's version): ``templater = vulnerable`` uses
  the worker's own octavia, ``fixed`` (the worker's octavia with the LP #2119987 patch) and
  ``upstream`` (octavia 17.0.1) render the same pickled model with that package first on
  ``sys.path`` (``octavia_path``; ``driver_render.py``, a separate process because one
  process cannot hold two copies of the ``octavia`` package);
- as the agent: ``haproxy -c`` on the new file before it replaces ``haproxy.cfg``; then the
  unit's reload (``SIGUSR2`` to the master) or, if haproxy is not running, its start (master-
  worker, daemonized, in the amphora's memory cgroup and its own network namespace holding the
  VIP); then waits until a new worker is ready or the kernel OOM-killer has struck;
- records each render and its outcome as one JSON line in ``<root>/run/driver-events.jsonl``;
- for an amphora the lab compute driver booted (``compute.py``), puts the load balancer into
  its heartbeat agent's view (``heartbeat.py``), as the agent's own haproxy is all a VM has.

Configuration: the ``[lab_amphora]`` section of octavia.conf (``LabAmphora.octavia_overrides``).
The worker imports this module with ``PYTHONPATH=<amphora_plugin>:<repository root>``: what it
imports from ``tests.lab`` is standard library only.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Only importable in the lab venv, where the octavia-worker runs this module.
from octavia.amphorae.drivers.noop_driver import (  # pyright: ignore[reportMissingImports]
    driver as noop_driver,
)
from octavia.common import constants as consts  # pyright: ignore[reportMissingImports]
from octavia.common.jinja.haproxy.combined_listeners import (  # pyright: ignore[reportMissingImports]
    jinja_cfg,
)
from octavia.common.tls_utils import cert_parser  # pyright: ignore[reportMissingImports]
from oslo_log import log as logging  # pyright: ignore[reportMissingImports]
from stevedore import driver as stevedore_driver  # pyright: ignore[reportMissingImports]

from tests.lab.amphora import cgroup, haproxy, heartbeat
from tests.lab.amphora.options import CONF
from tests.lab.files import write_private

LOG = logging.getLogger(__name__)
_CACHESIZE = re.compile(r"^\s*tune\.ssl\.cachesize\s+(\d+)", re.M)
_MAXCONN = re.compile(r"^\s*maxconn\s+(\d+)", re.M)


class LabAmphoraDriver(noop_driver.NoopAmphoraLoadBalancerDriver):
    """See the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        opts = CONF.lab_amphora
        if not opts.root or not opts.cgroup_dir or not opts.memory_bytes:
            raise RuntimeError("[lab_amphora] root, cgroup_dir and memory_bytes are required")
        self.root = Path(opts.root)
        self.cgroup_dir = Path(opts.cgroup_dir)
        self.base_path = Path(CONF.haproxy_amphora.base_path)
        self.cert_dir = Path(CONF.haproxy_amphora.base_cert_dir)
        # As the real haproxy driver: the configured cert manager and templater.
        self.cert_manager = stevedore_driver.DriverManager(
            namespace="octavia.cert_manager",
            name=CONF.certificates.cert_manager,
            invoke_on_load=True,
        ).driver
        self.jinja_combo = jinja_cfg.JinjaTemplater(
            base_amp_path=CONF.haproxy_amphora.base_path,
            base_crt_dir=CONF.haproxy_amphora.base_cert_dir,
            haproxy_template=CONF.haproxy_amphora.haproxy_template,
            connection_logging=CONF.haproxy_amphora.connection_logging,
        )

    # -- what the worker calls -------------------------------------------------------------
    def update(self, loadbalancer: Any) -> None:
        super().update(loadbalancer)
        for amphora in loadbalancer.amphorae:
            if amphora.status != consts.DELETED:
                self.update_amphora_listeners(loadbalancer, amphora, None)

    def update_amphora_listeners(
        self, loadbalancer: Any, amphora: Any, timeout_dict: Any = None
    ) -> None:
        super().update_amphora_listeners(loadbalancer, amphora, timeout_dict)
        if amphora is None or amphora.status == consts.DELETED:
            return
        listeners = [
            li for li in loadbalancer.listeners if li.protocol not in consts.LVS_PROTOCOLS
        ]
        if not listeners:
            self._stop(loadbalancer.id)
            return
        certs: dict[str, Any] = {}
        for listener in listeners:
            certs.update(self._write_certificates(loadbalancer.id, listener))
        details = self._amp_details()
        config, source = self._render(amphora, listeners, certs, details)
        self._apply(loadbalancer.id, loadbalancer, config, source, details)
        agent = heartbeat.agent_dir(self.root, amphora.id)
        if agent.is_dir():  # booted by the lab compute driver: its heartbeats report this one
            heartbeat.show_load_balancer(agent, self.base_path, loadbalancer.id)

    def delete(self, listener: Any) -> None:
        super().delete(listener)
        # As the real driver: drop the listener, then update (or stop with none left).
        loadbalancer = listener.load_balancer
        if listener in loadbalancer.listeners:
            loadbalancer.listeners.remove(listener)
        for amphora in loadbalancer.amphorae:
            if amphora.status != consts.DELETED:
                self.update_amphora_listeners(loadbalancer, amphora, None)

    # -- certificates ----------------------------------------------------------------------
    def _write_certificates(self, lb_id: str, listener: Any) -> dict[str, Any]:
        unsupported = [
            name
            for name in ("client_ca_tls_certificate_id", "client_crl_container_id")
            if getattr(listener, name, None)
        ]
        if unsupported:
            raise RuntimeError(
                f"the lab amphora driver does not handle {', '.join(unsupported)} "
                f"(listener {listener.id})"
            )
        data = cert_parser.load_certificates_data(self.cert_manager, listener)
        certs = [c for c in [data["tls_cert"], *data["sni_certs"]] if c is not None]
        if not certs:
            return {}
        directory = self.cert_dir / lb_id
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        paths = []
        for cert in certs:
            path = directory / f"{cert.id}.pem"
            write_private(path, cert_parser.build_pem(cert))
            paths.append(str(path))
        # The crt-list haproxy reads, named after the listener, as the driver uploads it.
        write_private(directory / f"{listener.id}.pem", ("\n".join(paths) + "\n").encode())
        return {listener.tls_certificate_id: data["tls_cert"]}

    # -- rendering -------------------------------------------------------------------------
    def _haproxy_version(self) -> str:
        out = subprocess.run(
            [CONF.lab_amphora.haproxy, "-v"], capture_output=True, text=True, check=True
        ).stdout
        match = re.search(r"version (\d+\.\d+\S*)", out)
        if not match:
            raise RuntimeError(f"cannot read haproxy's version from {out[:200]!r}")
        return match.group(1)

    def _amp_details(self) -> dict[str, Any]:
        """What the amphora agent's /details would report for the lab amphora."""
        return {
            "hostname": self.root.name,
            "api_version": "1.0",
            "haproxy_version": self._haproxy_version(),
            "memory": cgroup.cgroup_meminfo_kb(self.cgroup_dir, CONF.lab_amphora.memory_bytes),
            "cpu_count": 1,
            "active_tuned_profiles": "",
            "topology": consts.TOPOLOGY_SINGLE,
        }

    def _render(
        self, amphora: Any, listeners: list[Any], certs: dict[str, Any], details: dict[str, Any]
    ) -> tuple[str, str]:
        versions = details["haproxy_version"].split(".")[:2]
        if CONF.lab_amphora.templater == "vulnerable":
            config = self.jinja_combo.build_config(
                host_amphora=amphora,
                listeners=listeners,
                tls_certs=certs,
                haproxy_versions=versions,
                amp_details=details,
            )
            return config, jinja_cfg.__file__
        # Trusted data from this process to its own child, never from the network.
        payload = pickle.dumps(
            {
                "amphora": amphora,
                "listeners": listeners,
                "tls_certs": certs,
                "haproxy_versions": versions,
                "amp_details": details,
            }
        )
        cmd = [
            sys.executable,
            str(Path(__file__).with_name("driver_render.py")),
            "--octavia-path",
            str(CONF.lab_amphora.octavia_path),
        ]
        for config_file in CONF.config_file:
            cmd += ["--config-file", config_file]
        out = subprocess.run(cmd, input=payload, capture_output=True, check=False)
        if out.returncode:
            failed = out.stderr.decode(errors="replace")[-2000:]
            raise RuntimeError(f"{CONF.lab_amphora.templater} templater failed: {failed}")
        rendered = json.loads(out.stdout)
        return rendered["config"], rendered["octavia_file"]

    # -- the amphora agent's part ----------------------------------------------------------
    def _paths(self, lb_id: str) -> dict[str, Path]:
        lb_dir = self.base_path / lb_id
        return {
            "dir": lb_dir,
            "config": lb_dir / "haproxy.cfg",
            # As the amphora's unit (agent_api's util.pid_path): the health sender reads it.
            "pid": lb_dir / f"{lb_id}.pid",
            "master_socket": self.root / "run" / f"{lb_id}.master.sock",
            "user_group": self.base_path / "haproxy-default-user-group.conf",
            "wrapper": self.root / "bin" / "amphora-haproxy",
        }

    def _master_pid(self, lb_id: str) -> int | None:
        try:
            pid = int(self._paths(lb_id)["pid"].read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if Path(f"/proc/{pid}").exists() else None

    def _apply(
        self, lb_id: str, loadbalancer: Any, config: str, source: str, details: dict[str, Any]
    ) -> None:
        paths = self._paths(lb_id)
        paths["dir"].mkdir(parents=True, exist_ok=True)
        new = paths["dir"] / "haproxy.cfg.new"
        write_private(new, config.encode())
        kills_before = cgroup.cgroup_oom_kills(self.cgroup_dir)
        # The agent checks an uploaded configuration inside the amphora: with a vulnerable
        # cache size the check itself can be OOM-killed there, and the upload is refused.
        check = subprocess.run(
            [str(paths["wrapper"]), "check", "-f", str(new), "-f", str(paths["user_group"])],
            capture_output=True,
            text=True,
            check=False,
        )
        event: dict[str, Any] = {
            "time": time.time(),
            "lb_id": lb_id,
            "templater": CONF.lab_amphora.templater,
            "octavia_file": source,
            "memory": details["memory"],
            "ssl_cachesize": _first_int(_CACHESIZE, config),
            "maxconn": _first_int(_MAXCONN, config),
            "check_returncode": check.returncode,
        }
        if check.returncode:
            new.unlink()
            kills = cgroup.cgroup_oom_kills(self.cgroup_dir) - kills_before
            if kills:
                time.sleep(1)  # let the kernel finish printing its report
            event.update(
                action="refused",
                oom_kills=kills,
                output=(check.stdout + check.stderr)[-2000:],
            )
            self._record(event)
            raise RuntimeError(
                f"haproxy -c refused the rendered configuration: {check.stdout}{check.stderr}"
            )
        os.replace(new, paths["config"])
        master = self._master_pid(lb_id)
        if master is not None:
            # The amphora unit's ExecReload: SIGUSR2 to the master.
            event["action"] = "reload"
            old = set(haproxy.child_pids(master))
            os.kill(master, signal.SIGUSR2)
        else:
            event["action"] = "start"
            old = set()
            master = self._start(lb_id, loadbalancer, event)
        event.update(
            haproxy.wait_for_reload(
                self.cgroup_dir, master, old, kills_before, CONF.lab_amphora.settle_timeout
            )
        )
        self._record(event)
        LOG.info("Lab amphora %s for load balancer %s: %s", event["action"], lb_id, event)

    def _start(self, lb_id: str, loadbalancer: Any, event: dict[str, Any]) -> int:
        """The amphora unit's start: the master, daemonized, in the cgroup and in its own
        network namespace holding the VIPs; its PID."""
        paths = self._paths(lb_id)
        vips = [loadbalancer.vip.ip_address] + [
            v.ip_address for v in (getattr(loadbalancer, "additional_vips", None) or [])
        ]
        started = subprocess.run(
            [
                str(paths["wrapper"]),
                "start",
                ",".join(v for v in vips if v),
                "-W",
                "-D",
                "-S",
                str(paths["master_socket"]),
                "-f",
                str(paths["config"]),
                "-f",
                str(paths["user_group"]),
                "-p",
                str(paths["pid"]),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        master = self._master_pid(lb_id)
        if started.returncode or master is None:
            event["start_returncode"] = started.returncode
            self._record(event)
            raise RuntimeError(
                f"haproxy did not start (exit {started.returncode}): "
                f"{started.stdout}{started.stderr}"[-2000:]
            )
        return master

    def _stop(self, lb_id: str) -> None:
        """The agent's listener delete: stop haproxy and remove the load balancer's files."""
        master = self._master_pid(lb_id)
        if master is not None:
            os.kill(master, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while Path(f"/proc/{master}").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
        paths = self._paths(lb_id)
        for path in (paths["config"], paths["pid"], paths["master_socket"]):
            path.unlink(missing_ok=True)
        cert_dir = self.cert_dir / lb_id
        if cert_dir.is_dir():
            for pem in cert_dir.glob("*.pem"):
                pem.unlink()
        self._record({"time": time.time(), "lb_id": lb_id, "action": "stop"})

    def _record(self, event: dict[str, Any]) -> None:
        with open(self.root / "run" / "driver-events.jsonl", "a") as handle:
            handle.write(json.dumps(event) + "\n")


def _first_int(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text)
    return int(match.group(1)) if match else None
