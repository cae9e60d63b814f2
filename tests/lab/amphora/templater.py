"""Render an amphora's haproxy.cfg with Octavia's own combined-listeners templater.

Run by ``LabAmphora.render`` (``haproxy.run_templater``) inside the lab venv (octavia 14.0.x);
``--octavia-path`` puts another ``octavia`` package (the patched copy, or 17.0.1's unpacked
wheel: releases.py) first on ``sys.path`` so that the same data renders with its jinja_cfg.py.
Input (JSON on stdin)::

    {"base_dir": ".../var/lib/octavia", "lb_id": ..., "project_id": ..., "vip": "127.0.0.1",
     "amphora_id": ..., "default_connection_limit": 1562,
     "memory": {"total": kB, "free": kB, "buffers": kB, "cached": kB},
     "listeners": [{"id": ..., "protocol": "TERMINATED_HTTPS", "port": 443,
                    "connection_limit": -1, "cert_id": ..., "pool_id": null | ...}]}

Output (JSON on stdout): {"config": <haproxy.cfg>, "octavia_file": <jinja_cfg.py used>}.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _configure(config: Any, spec: dict[str, Any]) -> None:
    config.cfg.CONF([], project="octavia", default_config_files=[])
    config.cfg.CONF.set_override(
        "default_connection_limit", spec["default_connection_limit"], group="haproxy_amphora"
    )
    # The crt-list path comes from the configuration, not from the templater's arguments.
    config.cfg.CONF.set_override("base_path", spec["base_dir"], group="haproxy_amphora")
    config.cfg.CONF.set_override(
        "base_cert_dir", spec["base_dir"] + "/certs", group="haproxy_amphora"
    )


def _listener(data_models: Any, spec: dict[str, Any], item: dict[str, Any], lb: Any) -> Any:
    """One listener of the spec as Octavia's data model (with its default pool, if any)."""
    listener = data_models.Listener(
        id=item["id"],
        project_id=spec["project_id"],
        protocol=item["protocol"],
        protocol_port=item["port"],
        connection_limit=item["connection_limit"],
        enabled=True,
        load_balancer=lb,
        load_balancer_id=lb.id,
        tls_certificate_id=item.get("cert_id"),
        peer_port=1025,
        timeout_client_data=50000,
        timeout_member_connect=5000,
        timeout_member_data=50000,
        timeout_tcp_inspect=0,
        tls_versions=["TLSv1.2", "TLSv1.3"],
        alpn_protocols=["h2", "http/1.1", "http/1.0"],
        tls_ciphers=None,
        pools=[],
        l7policies=[],
        sni_containers=[],
        allowed_cidrs=[],
    )
    if item.get("pool_id"):
        pool = data_models.Pool(
            id=item["pool_id"],
            project_id=spec["project_id"],
            protocol="HTTP",
            lb_algorithm="ROUND_ROBIN",
            enabled=True,
            load_balancer=lb,
            listeners=[listener],
            members=[],
            l7policies=[],
            tls_enabled=False,
        )
        listener.default_pool = pool
        listener.default_pool_id = pool.id
        listener.pools = [pool]
    return listener


def main() -> None:
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--octavia-path":
        sys.path.insert(0, args[1])
    spec = json.load(sys.stdin)

    # Only importable in the lab venv, where this script runs.
    from octavia.common import config, data_models  # pyright: ignore[reportMissingImports]
    from octavia.common.jinja.haproxy.combined_listeners import (  # pyright: ignore[reportMissingImports]
        jinja_cfg,
    )

    _configure(config, spec)
    amphora = data_models.Amphora(
        id=spec["amphora_id"], lb_network_ip="192.0.2.1", status="ALLOCATED", role="STANDALONE"
    )
    lb = data_models.LoadBalancer(
        id=spec["lb_id"],
        project_id=spec["project_id"],
        vip=data_models.Vip(ip_address=spec["vip"]),
        topology="SINGLE",
        enabled=True,
        amphorae=[amphora],
        additional_vips=[],
    )
    listeners = [_listener(data_models, spec, item, lb) for item in spec["listeners"]]
    lb.listeners = listeners

    templater = jinja_cfg.JinjaTemplater(
        base_amp_path=spec["base_dir"],
        base_crt_dir=spec["base_dir"] + "/certs",
        connection_logging=True,
    )
    haproxy_version = spec.get("haproxy_version", "2.6.12").split(".")
    amp_details = {"memory": spec["memory"], "active_tuned_profiles": "", "cpu_count": 1}
    rendered = templater.build_config(
        host_amphora=amphora,
        listeners=listeners,
        tls_certs={},
        haproxy_versions=haproxy_version,
        amp_details=amp_details,
    )
    json.dump({"config": rendered, "octavia_file": jinja_cfg.__file__}, sys.stdout)


if __name__ == "__main__":
    main()
