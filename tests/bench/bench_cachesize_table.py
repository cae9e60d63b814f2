"""The bug report's table (tune.ssl.cachesize -> VSZ, overhead %) on this machine's haproxy.

Runs the Debian haproxy in master-worker mode with a TLS frontend for each cache size (sizes
that fit here), reads the worker's VSZ, and prints bytes per entry beside the report's 24%
overhead over haproxy's documented 200 bytes. Usage: python -m tests.bench.bench_cachesize_table
"""

from __future__ import annotations

import math
import subprocess
import tempfile
import time
from pathlib import Path

from tests.certificates import self_signed
from tests.lab.amphora import HAPROXY, free_port

SIZES = [0, 250_000, 500_000, 1_000_000, 2_000_000, 4_000_000]
DOC_BYTES = 200  # haproxy's documentation: "about 200 bytes" per entry


def worker_vsz_kb(workdir: Path, cachesize: int) -> int:
    cfg = workdir / f"h{cachesize}.cfg"
    cfg.write_text(
        f"global\n    maxconn 1562\n    tune.ssl.cachesize {cachesize}\n"
        "defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n"
        "    timeout connect 5s\n"
        f"frontend f\n    bind 127.0.0.1:{free_port()} ssl crt {workdir / 'crt.pem'}\n"
    )
    master = subprocess.Popen(
        [HAPROXY, "-W", "-db", "-S", str(workdir / f"m{cachesize}.sock"), "-f", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            out = subprocess.run(
                ["ps", "-o", "vsz=", "--ppid", str(master.pid)], capture_output=True, text=True
            ).stdout.split()
            if out:
                time.sleep(0.5)
                again = subprocess.run(
                    ["ps", "-o", "vsz=", "--ppid", str(master.pid)],
                    capture_output=True,
                    text=True,
                ).stdout.split()
                if again == out:
                    return int(out[0])
            time.sleep(0.1)
        raise RuntimeError("haproxy worker did not start")
    finally:
        master.terminate()
        master.wait(10)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        bench = self_signed("bench", key_type="rsa", days=1)
        (workdir / "crt.pem").write_text(bench.cert_pem + bench.key_pem())
        rows = [(size, worker_vsz_kb(workdir, size)) for size in SIZES]
    base_kb = rows[0][1]
    base_mib = base_kb // 1024
    version = subprocess.run([HAPROXY, "-v"], capture_output=True, text=True).stdout
    print(f"haproxy: {version.splitlines()[0]}")
    print(
        "tune.ssl.cachesize | cachesize_MiB |     vsz | vsz_MiB | overhead | overhead% | B/entry"
    )
    per_entry = []
    for size, vsz in rows:
        cache_mib = size * DOC_BYTES // 2**20
        vsz_mib = vsz // 1024
        overhead = vsz_mib - cache_mib - base_mib
        pct = math.floor(overhead / cache_mib * 100) if cache_mib else 0
        bpe = (vsz - base_kb) * 1024 / size if size else 0.0
        if size:
            per_entry.append(bpe)
        print(
            f"{size:18} | {cache_mib:13} | {vsz:7} | {vsz_mib:7} | {overhead:8} | "
            f"{pct:8}% | {bpe:7.1f}"
        )
    mean = sum(per_entry) / len(per_entry)
    low, high = min(per_entry), max(per_entry)
    print(f"measured bytes per entry: {mean:.1f} (min {low:.1f}, max {high:.1f})")
    print(
        f"overhead over the documented {DOC_BYTES} B: {(mean / DOC_BYTES - 1) * 100:.1f}% "
        "(bug report, 32 GiB amphora: 24%)"
    )


if __name__ == "__main__":
    main()
