# pyright: reportMissingImports=false, reportAttributeAccessIssue=false
# (runs in the lab venv, which has Octavia and oslo.*; the dev venv does not)
"""Sign an amphora agent's certificate as the Octavia worker does; run with Octavia's python.

Usage: python sign_amphora_cert.py /path/to/octavia.conf AMPHORA_ID OUT_DIR

Loads the octavia.conf given (its [certificates] options name the issuing CA, its key and
the key's passphrase), then asks Octavia's own ``local_cert_generator`` for the amphora's
certificate and key, as the worker does when it builds an amphora. Writes OUT_DIR/amphora.pem
(certificate then key, as the agent's server reads it) and prints a JSON report of the paths
the controller reads for its side of the handshake.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(conf_path: str, amphora_id: str, out_dir: str) -> int:
    import octavia.common.config  # noqa: F401 - registers Octavia's options on cfg.CONF
    from oslo_config import cfg
    from stevedore import driver

    conf = cfg.CONF
    conf(["--config-file", conf_path], project="octavia")
    generator = driver.DriverManager(
        namespace="octavia.cert_generator", name=conf.certificates.cert_generator
    ).driver
    made = generator.generate_cert_key_pair(
        cn=amphora_id, validity=conf.certificates.cert_validity_time
    )
    pem = Path(out_dir) / "amphora.pem"
    pem.write_bytes(made.certificate + made.private_key)
    pem.chmod(0o600)
    json.dump(
        {
            "amphora_pem": str(pem),
            "generator": conf.certificates.cert_generator,
            "client_cert": conf.haproxy_amphora.client_cert,
            "server_ca": conf.haproxy_amphora.server_ca,
            "agent_server_ca": conf.controller_worker.client_ca,
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
