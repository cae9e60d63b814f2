"""Everything of the Octavia charm that is not Juju glue.

No module here imports ops or Juju hook tools: they take plain values, so the
charm's actions and an operator's own scripts use them alike.
"""
