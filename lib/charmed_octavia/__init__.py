"""The Octavia charm's library: everything that is not Juju glue, in four wings.

- ``unit``: the charm's machine side (config, ``openstack-origin``, relation data, the rendered
  files, packages and services on the unit).
- ``cloud``: OpenStack through openstacksdk (connections, flavors, keypairs, Barbican, TLS
  bundles, load balancers, waiting for them).
- ``amphora``: amphorae over SSH (discovery, the SSH fan-out, what a check collects and how it
  is judged: kernel OOM reports, haproxy's memory settings, the memory model).
- ``plan``: the SRU test plan of LP #2119987 as a table of steps, its records, cleanup,
  verdict and report.

Import rules (checked in lint by ``tests/lint/house_rules.py``): no module here imports
``ops`` or the charm; ``cloud`` and ``amphora`` import no other wing; ``unit`` may import
``cloud``, never ``amphora`` or ``plan``; ``plan`` may import ``cloud`` and ``amphora``, never
``unit``. A new concern goes to the wing whose side it is on; if it needs two wings, to the
one allowed to import the other.
"""
