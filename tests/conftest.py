"""Test-wide set-up shared by every suite."""

import charmhelpers.osplatform

# charmhelpers 1.2.1 only knows Ubuntu and CentOS and raises at import on Debian; the
# charm runs on Ubuntu, so tests say so.
charmhelpers.osplatform.get_platform = lambda: "ubuntu"


def _libyaml_for_ops_testing() -> None:
    """ops.testing parses the charm's metadata.yaml, config.yaml and actions.yaml for every
    Context and writes them out again for every run, with PyYAML's pure-Python loader and
    dumper: two fifths of the unit suite's time. libyaml's (what ops itself uses) read and
    write the same documents."""
    import importlib
    import types

    import yaml

    if not getattr(yaml, "__with_libyaml__", False):
        return
    fast = types.SimpleNamespace(
        **{k: getattr(yaml, k) for k in dir(yaml) if not k.startswith("__")},
    )
    fast.safe_load = lambda stream: yaml.load(stream, Loader=yaml.CSafeLoader)
    fast.safe_dump = lambda data, stream=None, **kw: yaml.dump(
        data, stream, Dumper=yaml.CSafeDumper, **kw
    )
    for name in ("scenario.state", "scenario._runtime"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if getattr(module, "yaml", None) is yaml:
            module.yaml = fast  # type: ignore[attr-defined]


_libyaml_for_ops_testing()
