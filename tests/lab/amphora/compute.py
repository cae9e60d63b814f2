"""The lab amphora's compute driver: Octavia's noop compute driver that also boots the
amphora's heartbeats on the lab amphora.

Loaded (entry point ``lab_amphora_compute`` in namespace ``octavia.compute.drivers``,
registered by ``tests/lab/amphora_plugin``) by the lab's octavia-worker, and by the health
manager and housekeeping, which run the worker's flows and delete the compute of an amphora
that sends heartbeats without a load balancer. Everything the noop driver does still happens
(its compute ids, and its ``192.0.2.1`` management address unless the lab amphora has a
place on lb-mgmt-net); in addition:

- ``build`` does what Nova's config drive and the amphora's boot do: the
  ``amphora-agent.conf`` the worker rendered for the amphora (``ComputeCreate``:
  ``agent_jinja_cfg``) goes, private, into the lab amphora's agent directory for that amphora,
  where the heartbeat sender (``heartbeat.py``, the agent's own ``run_sender``) starts;
- with a place on lb-mgmt-net (``management.py``), the sender runs in the amphora port's
  network namespace and ``get_amphora`` reports the port's address as ``lb_network_ip``;
- ``delete`` stops that sender and removes its directory, as deleting the VM ends its agent.

The noop driver logs its arguments at DEBUG: it is handed the config drive's paths only, so the
heartbeat key in the agent configuration reaches no log.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# Only importable in the lab venv, where Octavia's services load this module.
from octavia.compute.drivers.noop_driver import (  # pyright: ignore[reportMissingImports]
    driver as noop_driver,
)

from tests.lab.amphora import heartbeat, management
from tests.lab.amphora.options import CONF


class LabAmphoraCompute(noop_driver.NoopComputeDriver):
    """See the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        if not CONF.lab_amphora.root:
            raise RuntimeError("[lab_amphora] root is required")
        self.root = Path(CONF.lab_amphora.root)
        # The booted senders, polled on deletion so that none stays a zombie of this process.
        self._senders: list[Any] = []

    def build(self, name: str = "amphora_name", *args: Any, **kwargs: Any) -> str:
        files = dict(kwargs.get("config_drive_files") or {})
        if "config_drive_files" in kwargs:
            kwargs["config_drive_files"] = dict.fromkeys(files, "(written to the lab amphora)")
        compute_id = super().build(name, *args, **kwargs)
        config = files.get(heartbeat.AGENT_CONF)
        if config is None:
            raise RuntimeError(
                f"no {heartbeat.AGENT_CONF} among the config drive files of {name} "
                "([controller_worker] user_data_config_drive is not supported)"
            )
        directory = heartbeat.agent_dir(self.root, heartbeat.amphora_id_from_name(name))
        placed = management.read(self.root)
        self._senders.append(
            heartbeat.boot(
                directory,
                config,
                compute_id,
                ttl=CONF.lab_amphora.heartbeat_ttl,
                env=os.environ,
                prefix=placed.command() if placed else (),
            )
        )
        return compute_id

    def get_amphora(self, compute_id: str, *args: Any, **kwargs: Any) -> Any:
        amphora, fault = super().get_amphora(compute_id, *args, **kwargs)
        placed = management.read(self.root)
        if placed is not None:
            amphora.lb_network_ip = placed.address
        return amphora, fault

    def delete(self, compute_id: str) -> None:
        super().delete(compute_id)
        heartbeat.shut_down(self.root, compute_id)
        self._senders = [s for s in self._senders if s.poll() is None]
