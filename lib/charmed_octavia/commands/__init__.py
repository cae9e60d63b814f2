"""The actions as plain functions, and the ``octavia-sru`` command that runs them anywhere.

One definition serves both front ends: ``schema`` reads each action's parameters from
``actions.yaml`` (the file Juju reads), ``params`` holds the typed classes they load into,
and ``flavor_commands``, ``plan_commands`` and ``amphora_commands`` do the work, returning an
``Outcome`` (results, reports, failure) that the charm turns into action results and
``cli`` into output and an exit code. ``workspace`` is what a command gets from where it runs.

May import ``cloud``, ``amphora``, ``plan`` and ``unit`` (the facts of the machine it runs
on); never ``ops``.
"""
