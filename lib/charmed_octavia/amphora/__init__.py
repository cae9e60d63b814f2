"""Amphorae over SSH: discovery through Octavia, the SSH fan-out, the read-only collection and
its interpretation (kernel OOM reports, haproxy's memory settings, the memory model), and the
test plan's systemd preparation.

The programs that run on an amphora are the shell files in ``scripts/`` (package data, checked
by shellcheck in lint), sent as ``sh -s`` input. Imports no other wing.
"""
