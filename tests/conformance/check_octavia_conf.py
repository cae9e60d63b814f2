# pyright: reportMissingImports=false, reportAttributeAccessIssue=false
# (runs in the lab venv, which has Octavia and oslo.*; the dev venv does not)
"""Check an octavia.conf against Octavia's own option definitions; run with Octavia's python.

Usage: python check_octavia_conf.py /path/to/octavia.conf [--value SECTION.OPTION ...]

Registers what an Octavia service registers (octavia.common.config, with oslo.db, the
keystoneauth session/adapter options of [service_auth] and [neutron]), plus what its
middleware and libraries register at run time: keystonemiddleware's auth_token, oslo.messaging,
oslo.middleware, oslo.log, and the auth plugin options of the configured ``auth_type`` (as
keystoneauth registers them when it loads the plugin). Then every section and option written
in the file must be registered (by its current name) and every value must parse.

Prints a JSON report; exits 0 when the file conforms, 1 when it does not, 2 on usage errors.
``--value`` adds each named option's value as Octavia reads it (for tests: it may be secret).
"""

from __future__ import annotations

import configparser
import contextlib
import json
import sys


def main(path: str, wanted: list[str]) -> int:
    import octavia.common.config  # noqa: F401 - registers Octavia's options on cfg.CONF
    from keystoneauth1 import loading as ks_loading
    from oslo_config import cfg

    conf = cfg.CONF
    import keystonemiddleware.auth_token
    import oslo_log.log
    import oslo_messaging.opts
    import oslo_middleware.opts

    def register(groups):
        for group, opts in groups:
            name = getattr(group, "name", group) or "DEFAULT"
            for opt in opts:
                # Same name, different definition: the service's own one wins.
                with contextlib.suppress(cfg.DuplicateOptError):
                    conf.register_opt(opt, group=None if name == "DEFAULT" else name)

    register(keystonemiddleware.auth_token.list_opts())
    register(oslo_messaging.opts.list_opts())
    register(oslo_middleware.opts.list_opts())
    oslo_log.log.register_options(conf)

    try:
        conf(args=[], project="octavia", default_config_files=[path], default_config_dirs=[])
    except cfg.Error as e:  # a required option that does not parse stops oslo here
        print(json.dumps({"ok": False, "values": {}, "bad_values": [str(e)], "sections": []}))
        return 1

    # keystoneauth registers a plugin's options when a section names it in auth_type.
    for group in ("keystone_authtoken", "service_auth", "neutron"):
        auth_type = conf[group].auth_type
        if auth_type:
            ks_loading.register_auth_conf_options(conf, group)
            for opt in ks_loading.get_auth_plugin_conf_options(auth_type):
                with contextlib.suppress(cfg.DuplicateOptError):
                    conf.register_opt(opt, group=group)

    parser = configparser.RawConfigParser(strict=True, default_section="__none__")
    parser.optionxform = str  # type: ignore[assignment]
    with open(path) as stream:
        parser.read_file(stream)

    unknown_sections: list[str] = []
    unknown_options: list[str] = []
    bad_values: list[str] = []
    checked = 0
    for section in parser.sections():
        if section == "DEFAULT":
            names = {opt.dest for opt in conf._opts.values() for opt in [opt["opt"]]}
            group = conf
        else:
            if section not in conf:
                unknown_sections.append(section)
                continue
            group = conf[section]
            names = {info["opt"].dest for info in conf._groups[section]._opts.values()}
        for option in parser.options(section):
            if option not in names:
                unknown_options.append(f"{section}.{option}")
                continue
            try:
                getattr(group, option)
            except (cfg.Error, ValueError) as e:  # unparsable, or "$name" naming no option
                bad_values.append(f"{section}.{option}: {type(e).__name__}")
            checked += 1
    values = {}
    for name in wanted:
        section, _, option = name.partition(".")
        try:
            values[name] = getattr(conf if section == "DEFAULT" else conf[section], option)
        except (cfg.Error, ValueError) as e:
            values[name] = f"<{type(e).__name__}>"
    report = {
        "values": values,
        "ok": not (unknown_sections or unknown_options or bad_values),
        "checked_options": checked,
        "sections": parser.sections(),
        "unknown_sections": unknown_sections,
        "unknown_options": unknown_options,
        "bad_values": bad_values,
    }
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or (len(args) > 1 and args[1] != "--value"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(args[0], args[2:]))
