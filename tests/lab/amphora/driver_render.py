"""Render haproxy.cfg for the lab amphora driver with another Octavia release's templater.

Run by ``driver.LabAmphoraDriver`` with the worker's python: ``--octavia-path`` (a directory
holding an ``octavia`` package: the patched copy of the worker's, or 17.0.1's unpacked wheel;
releases.py) goes first on ``sys.path``, ``--config-file`` are the
worker's own octavia.conf files, and stdin is the pickled templater input the worker built
from its load balancer model (amphora, listeners, tls_certs, haproxy_versions, amp_details).
The pickled data models are restored as that release's classes. Output (JSON on stdout):
{"config": <haproxy.cfg>, "octavia_file": <jinja_cfg.py used>}.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--octavia-path", required=True)
    parser.add_argument("--config-file", action="append", default=[])
    args = parser.parse_args()
    sys.path.insert(0, args.octavia_path)

    # Only importable in the lab venv, where this script runs.
    from octavia.common import config  # pyright: ignore[reportMissingImports]
    from octavia.common.jinja.haproxy.combined_listeners import (  # pyright: ignore[reportMissingImports]
        jinja_cfg,
    )

    argv = [item for path in args.config_file for item in ("--config-file", path)]
    config.cfg.CONF(argv, project="octavia", default_config_files=[])
    # Written by the parent worker process to this pipe: trusted, never from the network.
    spec = pickle.loads(sys.stdin.buffer.read())  # noqa: S301
    conf = config.cfg.CONF.haproxy_amphora
    templater = jinja_cfg.JinjaTemplater(
        base_amp_path=conf.base_path,
        base_crt_dir=conf.base_cert_dir,
        haproxy_template=conf.haproxy_template,
        connection_logging=conf.connection_logging,
    )
    rendered = templater.build_config(
        host_amphora=spec["amphora"],
        listeners=spec["listeners"],
        tls_certs=spec["tls_certs"],
        haproxy_versions=spec["haproxy_versions"],
        amp_details=spec["amp_details"],
    )
    json.dump({"config": rendered, "octavia_file": jinja_cfg.__file__}, sys.stdout)


if __name__ == "__main__":
    main()
