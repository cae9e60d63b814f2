"""The SRU test plan of LP #2119987: parameters, the table of steps, the run, its records and
ownership marks, cleanup, the verdict and the report.

May import the ``cloud`` and ``amphora`` wings; never ``unit`` (the charm hands the unit's facts
in as a ``PlanContext``).
"""
