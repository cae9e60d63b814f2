"""The ``[lab_amphora]`` section of octavia.conf (``LabAmphora.octavia_overrides``), registered
by the lab amphora's drivers (``driver.py``, ``compute.py``) in the process that loads them:
the worker, the health manager, housekeeping. Only importable in the lab venv."""

from __future__ import annotations

from octavia.common.config import cfg  # pyright: ignore[reportMissingImports]

from tests.lab.amphora import haproxy, releases

CONF = cfg.CONF
CONF.register_opts(
    [
        cfg.StrOpt("root", help="The lab amphora's root directory."),
        cfg.StrOpt("cgroup_dir", help="The lab amphora's memory cgroup directory."),
        cfg.IntOpt("memory_bytes", help="The lab amphora's memory (its cgroup limit)."),
        cfg.StrOpt("templater", choices=list(releases.TEMPLATERS), default="vulnerable"),
        cfg.StrOpt(
            "octavia_path",
            help="Directory holding the templater's octavia package (fixed, upstream).",
        ),
        cfg.StrOpt("haproxy", default=haproxy.HAPROXY),
        cfg.FloatOpt("settle_timeout", default=60.0),
        cfg.FloatOpt("heartbeat_ttl", default=7200.0, help="A heartbeat sender's lifetime."),
    ],
    group="lab_amphora",
)
