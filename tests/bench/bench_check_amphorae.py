"""check-amphorae over 50 SSH targets on loopback vs a sequential openssh loop.

50 amphorae are mapped (address_map) to one lab amphora's real sshd, with a running haproxy
whose haproxy.cfg Octavia's templater rendered (so every check is complete: kernel log, haproxy
processes, memory, cgroup limit, configuration and its assessment); each amphora gets its own
SSH connection, as separate amphorae would. The baseline is what a verifier does by hand:
``ssh host 'journalctl -k | grep -i oom'`` once per amphora, one after the other. Amphorae
reached through one endpoint share a connection (a session each); the run with one
connection per amphora (as 50 distinct amphorae would need) is printed beside it.
Goal: >= 10x faster and under 5 s. Usage: python -m tests.bench.bench_check_amphorae
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from charmed_octavia.amphora import check, discovery, fanout, ssh

from tests.lab.amphora import LAB_NETWORK_IP, LabAmphora, unavailable_reason

TARGETS = 50


def main() -> None:
    reason = unavailable_reason()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    with tempfile.TemporaryDirectory() as tmp, LabAmphora(memory_bytes=512 << 20) as amp:
        key, public = ssh.ensure_keypair(Path(tmp) / "ssh")
        amp.authorize(public)
        amp.create_listener()
        base = amp.ssh_settings(key, Path(tmp) / "known_hosts")
        endpoint: tuple[str, int] = base.address_map[LAB_NETWORK_IP]
        addresses = [f"192.0.2.{i}" for i in range(1, TARGETS + 1)]
        settings = ssh.SSHSettings(
            private_key_path=key,
            known_hosts_path=base.known_hosts_path,
            username="root",
            address_map={a: endpoint for a in addresses},
        )
        amps = [discovery.Amphora(f"amp-{i:02}", amp.lb_id, a) for i, a in enumerate(addresses)]

        started = time.monotonic()
        for _ in amps:
            subprocess.run(
                [
                    "ssh",
                    "-q",
                    "-i",
                    str(key),
                    "-p",
                    str(endpoint[1]),
                    "-o",
                    "StrictHostKeyChecking=no",
                    "-o",
                    "UserKnownHostsFile=/dev/null",
                    "-o",
                    "BatchMode=yes",
                    f"root@{endpoint[0]}",
                    "journalctl -k | grep -i oom",
                ],
                capture_output=True,
                check=False,
            )
        baseline = time.monotonic() - started

        started = time.monotonic()
        report = check.check_amphorae(
            amps,
            ssh=settings,
            concurrency=TARGETS,
            since=amp.since,
            haproxy_dir=amp.octavia_dir,
        )
        library = time.monotonic() - started

        # For comparison: one connection (key exchange, authentication) per amphora.
        shared = fanout.SESSIONS_PER_CONNECTION
        fanout.SESSIONS_PER_CONNECTION = 1
        try:
            started = time.monotonic()
            separate = check.check_amphorae(
                amps,
                ssh=settings,
                concurrency=TARGETS,
                since=amp.since,
                haproxy_dir=amp.octavia_dir,
            )
            per_connection = time.monotonic() - started
        finally:
            fanout.SESSIONS_PER_CONNECTION = shared
    failed = [
        r for r in [*report.results, *separate.results] if r.verdict in ("unreachable", "error")
    ]
    completed = TARGETS - len([r for r in report.results if r in failed])
    print(f"targets: {TARGETS} (one sshd on {endpoint[0]}:{endpoint[1]})")
    print(f"sequential openssh 'journalctl -k | grep -i oom': {baseline:.2f} s")
    print(
        f"check_amphorae (concurrency {TARGETS}, full collection): {library:.2f} s; "
        f"summary {report.summary}; collected {completed}/{TARGETS}"
    )
    print(
        f"check_amphorae, one connection per amphora: {per_connection:.2f} s "
        f"(ratio {baseline / per_connection:.1f}x); summary {separate.summary}"
    )
    print(f"ratio: {baseline / library:.1f}x (goal >= 10x and < 5 s)")
    incomplete = [
        r for r in [*report.results, *separate.results] if not (r.configs and r.mem_total_kb)
    ]
    if failed or incomplete:
        reasons = sorted({r.reason for r in failed} | {"incomplete" for _ in incomplete})
        raise SystemExit(f"{len(failed) + len(incomplete)} checks failed: {reasons[:5]}")


if __name__ == "__main__":
    main()
