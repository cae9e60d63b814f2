"""FakeHookTools: the Juju hook tools a packed charm's hooks call, answered from a state file.

A named fake at the one boundary that cannot run here, the Juju unit agent. Each tool behaves
as Juju's does for the arguments ops passes (``--format=json``, ``-r <id>``, ``--app``, ``--file
-``, ``--``): relation data by unit and by application (application data writable by the
leader only), config and action parameters with the defaults of config.yaml and actions.yaml,
``network-get``, status and logs, the workload version, ``leader-get`` (the leader settings
of the state), application secrets (``secret-add``, ``secret-get``, ``secret-set``: every
revision kept, each read answered with the latest, as ``--refresh`` does; every unit of the
owning application reads them, the leader alone adds or updates them, and, as in Juju, the
owner's units get no ``secret-changed``: a change reaches them by the peer relation, whose
application data and secrets ``PackedUnit.share_from`` hands from one unit's state to another's,
as the controller does). ``action-set``
refuses keys Juju refuses. State is a JSON file (``$FAKE_STATE``); every call is recorded
there, and a tool this fake does not know fails and is recorded under ``unknown``.

    python -m tests.packed.hooktools <tool> [args...]
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.juju_rules import ARG_MAX, RESULT_KEY

TOOLS = (
    "action-fail",
    "action-get",
    "action-log",
    "action-set",
    "application-version-set",
    "config-get",
    "is-leader",
    "juju-log",
    "leader-get",
    "network-get",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-model-get",
    "relation-set",
    "secret-add",
    "secret-get",
    "secret-set",
    "status-get",
    "status-set",
)


class HookToolError(Exception):
    """What Juju would print before exiting non-zero."""


@contextmanager
def _state() -> Iterator[dict[str, Any]]:
    path = Path(os.environ["FAKE_STATE"])
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = json.loads(path.read_text())
        yield state
        path.write_text(json.dumps(state, indent=1, sort_keys=True))


def _options(args: list[str]) -> tuple[dict[str, str | bool], list[str]]:
    """Flags (``-r X``, ``--app``, ``--format=json``, ``--file -``) and the positionals."""
    flags: dict[str, str | bool] = {}
    rest: list[str] = []
    it = iter(args)
    for arg in it:
        if arg == "--":
            rest.extend(it)
        elif arg in ("-r", "--file", "--log-level", "--label", "--description", "--owner"):
            flags[arg.lstrip("-")] = next(it)
        elif arg.startswith("--") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            flags[key] = value
        elif arg.startswith("--"):
            flags[arg[2:]] = True
        else:
            rest.append(arg)
    return flags, rest


def _yaml_defaults(state: dict[str, Any], name: str, section: str | None) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load((Path(state["charm_dir"]) / name).read_text()) or {}
    if section is not None:
        data = (data.get(section) or {}).get("params") or {}
    return {k: v["default"] for k, v in data.items() if v.get("default") is not None}


def _relation(state: dict[str, Any], flags: dict[str, str | bool]) -> dict[str, Any]:
    rid = str(flags.get("r") or os.environ.get("JUJU_RELATION_ID", ""))
    # "-r 3" and "-r identity-service:3" name the same relation.
    by_number = {key.rpartition(":")[2]: key for key in state["relations"]}
    rid = by_number.get(rid, rid)
    if rid not in state["relations"]:
        raise HookToolError(f'invalid value "{rid}" for option -r: relation not found')
    return state["relations"][rid]


def _relation_get(state: dict[str, Any], flags: dict[str, str | bool], rest: list[str]) -> Any:
    rel = _relation(state, flags)
    if rest:
        key, who = [*rest, "-", ""][:2]
    else:
        key, who = "-", os.environ.get("JUJU_REMOTE_UNIT", "")
    if flags.get("app"):
        # A peer relation's application data is the application's own, shared by its units.
        bags = {rel["remote_app"]: rel["remote_app_data"], state["app"]: rel["local_app"]}
    else:
        bags = {state["unit"]: rel["local_unit"], **rel["units"]}
    if who not in bags:
        raise HookToolError(f"cannot read relation settings: {who!r} is not in relation")
    if who == state["app"] and not (state["leader"] or rel.get("peer")):
        raise HookToolError("permission denied: only the leader reads its own application data")
    bag = bags[who]
    return bag if key == "-" else bag.get(key)


def _relation_set(state: dict[str, Any], flags: dict[str, str | bool]) -> None:
    rel = _relation(state, flags)
    if flags.get("file") != "-":
        raise HookToolError("FakeHookTools: relation-set takes its data as --file -")
    data = json.loads(sys.stdin.read() or "{}")
    if flags.get("app") and not state["leader"]:
        raise HookToolError("cannot write application data: this unit is not the leader")
    bag = rel["local_app"] if flags.get("app") else rel["local_unit"]
    for key, value in data.items():
        if value == "":
            bag.pop(key, None)
        else:
            bag[key] = value


def _network(state: dict[str, Any]) -> dict[str, Any]:
    address = state["address"]
    network = ".".join(address.split(".")[:3]) + ".0/24"
    return {
        "bind-addresses": [
            {
                "mac-address": "",
                "interface-name": "eth0",
                "addresses": [{"hostname": "", "value": address, "cidr": network}],
            }
        ],
        "egress-subnets": [f"{address}/32"],
        "ingress-addresses": [address],
    }


def _secret_content(items: list[str]) -> dict[str, str]:
    """``key=value`` and ``key#file=path`` arguments (ops passes values in files)."""
    content = {}
    for item in items:
        key, _, value = item.partition("=")
        if key.endswith("#file"):
            key, value = key.removesuffix("#file"), Path(value).read_text()
        content[key] = value
    return content


def _secret(state: dict[str, Any], secret_id: str) -> dict[str, Any]:
    # ops may name a secret "secret:ID" or "secret://MODEL/ID".
    found = state.setdefault("secrets", {}).get(secret_id.rpartition("/")[2].rpartition(":")[2])
    if found is None:
        raise HookToolError(f'secret "{secret_id}" not found')
    return found


def _run_secret_tool(tool: str, state: dict[str, Any], flags: dict[str, Any], rest: list[str]):
    if tool == "secret-add":
        if flags.get("owner") == "application" and not state["leader"]:
            raise HookToolError("permission denied: only the leader adds application secrets")
        secrets = state.setdefault("secrets", {})
        secret_id = f"d{len(secrets):019d}"
        secrets[secret_id] = {
            "owner": flags.get("owner", "application"),
            "label": flags.get("label", ""),
            "revisions": [_secret_content(rest)],
        }
        return f"secret:{secret_id}"
    secret = _secret(state, rest[0])
    if tool == "secret-set":
        if not state["leader"]:
            raise HookToolError("permission denied: only the leader updates application secrets")
        secret["revisions"].append({**secret["revisions"][-1], **_secret_content(rest[1:])})
        return None
    # secret-get: this fake's units always track the latest revision.
    return secret["revisions"][-1]


def _action_set(state: dict[str, Any], rest: list[str]) -> None:
    for item in rest:
        key, _, value = item.partition("=")
        if not RESULT_KEY.fullmatch(key):
            raise HookToolError(
                f'key "{key}" must start and end with lowercase alphanumeric, and contain '
                "only lowercase alphanumeric, hyphens and periods"
            )
        if len(item.encode()) > ARG_MAX:
            raise HookToolError(f"argument list too long: {key} has {len(item)} characters")
        state["action"]["results"][key] = value


def _run(tool: str, state: dict[str, Any], args: list[str]) -> Any:
    flags, rest = _options(args)
    if tool == "config-get":
        config = _yaml_defaults(state, "config.yaml", "options") | state["config"]
        return config.get(rest[0]) if rest else config
    if tool == "is-leader":
        return state["leader"]
    if tool == "relation-ids":
        return [rid for rid, rel in state["relations"].items() if rel["endpoint"] == rest[0]]
    if tool == "relation-list":
        rel = _relation(state, flags)
        return rel["remote_app"] if flags.get("app") else sorted(rel["units"])
    if tool == "relation-get":
        return _relation_get(state, flags, rest)
    if tool == "relation-set":
        return _relation_set(state, flags)
    if tool == "relation-model-get":
        return {"uuid": state["model_uuid"]}
    if tool == "network-get":
        return _network(state)
    if tool == "status-set":
        entry = {"status": rest[0], "message": rest[1] if len(rest) > 1 else ""}
        state["statuses"].append({"application": flags.get("application") == "True", **entry})
        return None
    if tool == "status-get":
        last = state["statuses"][-1] if state["statuses"] else {"status": "unknown"}
        return {"status": last["status"], "message": last.get("message", ""), "status-data": {}}
    if tool == "application-version-set":
        state["workload_version"] = " ".join(rest)
        return None
    if tool == "juju-log":
        state["log"].append([str(flags.get("log-level", "INFO")), " ".join(rest)])
        return None
    if tool == "leader-get":
        # Leader settings: a charm that replaced a reactive one finds the old one's here.
        return state.get("leader_settings", {})
    if tool.startswith("secret-"):
        return _run_secret_tool(tool, state, flags, rest)
    return _run_action_tool(tool, state, rest)


def _run_action_tool(tool: str, state: dict[str, Any], rest: list[str]) -> Any:
    action = state.get("action")
    if action is None:
        raise HookToolError(f"{tool}: not running an action")
    if tool == "action-get":
        params = _yaml_defaults(state, "actions.yaml", action["name"]) | action["params"]
        return params.get(rest[0]) if rest else params
    if tool == "action-set":
        return _action_set(state, rest)
    if tool == "action-fail":
        action["failed"] = " ".join(rest) or "action failed without reason given"
        return None
    if tool == "action-log":
        action["log"].append(" ".join(rest))
        return None
    raise HookToolError(f"FakeHookTools: {tool} is not faked")


def main(argv: list[str]) -> int:
    tool, *args = argv
    with _state() as state:
        state["calls"].append([tool, *args])
        if tool not in TOOLS:
            state["unknown"].append([tool, *args])
            print(f"FakeHookTools: {tool} is not faked", file=sys.stderr)
            return 1
        try:
            answer = _run(tool, state, args)
        except HookToolError as exc:
            print(f"ERROR {exc}", file=sys.stderr)
            return 1
    if isinstance(answer, str) and "--format=json" not in args:
        print(answer)  # as secret-add prints the new secret's id
    elif answer is not None or "--format=json" in args:
        print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
