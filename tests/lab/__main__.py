"""Command line of the lab: ``python -m tests.lab up|down|status|env``.

``up`` starts a detached lab (stopped by ``down`` or, at the latest, by its watchdog after
``LAB_TTL`` seconds, default 2 h) and records it as the current lab; the other commands act on
the current lab, or on ``--dir``/``LAB_DIR``.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
from pathlib import Path

from tests.lab import procs
from tests.lab.control import DEFAULT_TTL, SERVICES, Lab, LabError, attach
from tests.lab.venv import cache_dir


def _pointer() -> Path:
    return cache_dir() / "current-lab"


def _lab_dir(args: argparse.Namespace) -> Path:
    import os

    chosen = args.dir or os.environ.get("LAB_DIR")
    if chosen:
        return Path(chosen)
    try:
        return Path(_pointer().read_text().strip())
    except OSError:
        raise LabError("no current lab (run `python -m tests.lab up` first)") from None


def _env_lines(state: dict) -> list[str]:
    values = {
        "OS_CLIENT_CONFIG_FILE": state["clouds_yaml"],
        "LAB_DIR": state["dir"],
        "LAB_OCTAVIA_CONF": state["octavia_conf"],
        "LAB_VENV_PYTHON": state["python"],
        # OVN's northbound database, for ovn-nbctl --db=$LAB_OVN_NB.
        "LAB_OVN_NB": f"tcp:127.0.0.1:{state['ports']['ovn_nb']}",
    }
    if state.get("ca_file"):
        # The TLS lab's CA (clouds.yaml's cacert names it), for curl --cacert and the like.
        values["LAB_CA_FILE"] = state["ca_file"]
    return [f"export {k}={shlex.quote(str(v))}" for k, v in values.items()]


def cmd_up(args: argparse.Namespace) -> int:
    lab = Lab(base_dir=args.base_dir, ttl=args.ttl, detached=True, tls=args.tls)
    lab.up()
    _pointer().parent.mkdir(parents=True, exist_ok=True)
    _pointer().write_text(str(lab.dir) + "\n")
    print(
        f"lab up in {lab.timings['up']:.1f}s, stops by itself after {lab.ttl:.0f}s",
        file=sys.stderr,
    )
    print("\n".join(_env_lines(attach(lab.dir))))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    lab_dir = _lab_dir(args)
    procs.teardown_from_state(lab_dir)
    with contextlib.suppress(OSError):
        if Path(_pointer().read_text().strip()) == lab_dir:
            _pointer().unlink()
    print(f"lab in {lab_dir} stopped")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = attach(_lab_dir(args))
    healthy = True
    for name in (*SERVICES, "epmd"):
        info = state.get("services", {}).get(name)
        if not info or not info.get("pgid"):
            print(f"{name:16} not started")
            healthy = False
            continue
        alive = procs.group_is_ours(int(info["pgid"]), info.get("start"))
        port = info.get("port")
        # TCP, or UDP (the health manager's heartbeat port)
        listening = (
            (procs.port_open(int(port)) or procs.udp_bound(int(port))) if port and alive else None
        )
        word = "running" if alive else "STOPPED"
        extra = "" if port is None else f" port {port} {'open' if listening else 'closed'}"
        print(f"{name:16} {word} pgid {info['pgid']}{extra}")
        healthy = healthy and alive
    return 0 if healthy else 1


def cmd_env(args: argparse.Namespace) -> int:
    print("\n".join(_env_lines(attach(_lab_dir(args)))))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a lab and print its environment")
    up.add_argument("--base-dir", type=Path, help="parent of the lab's temporary directory")
    up.add_argument("--ttl", type=float, default=None, help=f"seconds (default {DEFAULT_TTL:.0f})")
    up.add_argument(
        "--tls", action="store_true", help="every API over https, with a lab CA of its own"
    )
    up.set_defaults(func=cmd_up)
    for name, func, text in (
        ("down", cmd_down, "stop the lab and remove its directory"),
        ("status", cmd_status, "show the lab's services"),
        ("env", cmd_env, "print export lines, OS_CLIENT_CONFIG_FILE (clouds.yaml) first"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--dir", type=Path, help="the lab directory (default: current lab)")
        p.set_defaults(func=func)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
