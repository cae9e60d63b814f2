"""The charm's machine side: typed config, ``openstack-origin``, the relations' data, the
files the services read, and the packages and services on the unit.

Nothing here imports ``ops``: ``charm/charm.py`` hands in plain values and a ``Workload``.
May use charmhelpers (imported only where packages change) and the ``cloud`` wing; never
imports ``amphora`` or ``plan``.
"""
