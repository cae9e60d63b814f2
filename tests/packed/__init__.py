"""The packed charm: its lock, its build with charmcraft for each platform, what each .charm
holds, and its own dispatch run as Juju runs it under the base's bare CPython."""
