"""OpenStack through openstacksdk: connections, outcomes and errors, waiting, Nova flavors,
Octavia flavorprofiles and flavors, keypairs, Barbican secrets, TLS bundles and load balancers.

Every function takes an openstacksdk ``Connection`` (or plain values) and returns plain data;
openstacksdk itself is imported inside the functions that call it. Imports no other wing.
"""
