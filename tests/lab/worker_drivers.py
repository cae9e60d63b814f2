"""One lab's Octavia controllers pointed, for a while, at what a test brings: a lab amphora's
drivers (``LabAmphora.octavia_overrides``), a keypair's name.

Bringing a lab up takes about a minute; rewriting octavia.conf and restarting the three
controller processes that run the worker's flows (the worker, the health manager and
housekeeping) takes seconds. The API reads none of these options and keeps running. On exit
octavia.conf is as it was and the three are restarted with it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from tests.lab.control import Lab
from tests.lab.files import merge_sections, read_ini, write_ini

# The processes that load the amphora, compute and certificate drivers.
CONTROLLERS = ("octavia-worker", "octavia-health-manager", "octavia-housekeeping")


@contextlib.contextmanager
def overridden(lab: Lab, overrides: Mapping[str, Mapping[str, str]]) -> Iterator[Lab]:
    """``lab`` with ``overrides`` layered on its octavia.conf and its controllers restarted
    on them, until the exit. The lab's worker must have been started with the drivers'
    modules on its path (``Lab(worker_pythonpath=...)``)."""
    saved = lab.octavia_conf.read_bytes()
    write_ini(lab.octavia_conf, merge_sections(read_ini(lab.octavia_conf), overrides))
    try:
        lab.restart_services(CONTROLLERS)
        yield lab
    finally:
        lab.octavia_conf.write_bytes(saved)
        lab.restart_services(CONTROLLERS)
