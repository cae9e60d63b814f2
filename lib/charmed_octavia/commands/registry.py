"""Every action: its typed parameters and the function that runs it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from charmed_octavia.commands import amphora_commands, flavor_commands, plan_commands
from charmed_octavia.commands.params import PARAMS
from charmed_octavia.commands.workspace import Outcome, Workspace


@dataclasses.dataclass(frozen=True)
class Command:
    name: str
    params: type
    run: Callable[[Any, Workspace], Outcome]


_RUN: dict[str, Callable[[Any, Workspace], Outcome]] = {
    "create-flavor": flavor_commands.create_flavor,
    "create-flavorprofile": flavor_commands.create_flavorprofile,
    "create-lb-flavor": flavor_commands.create_lb_flavor,
    "create-xxlarge-flavor": flavor_commands.create_xxlarge_flavor,
    "store-tls-bundle": flavor_commands.store_tls_bundle,
    "run-test-plan": plan_commands.run_test_plan,
    "cleanup-test-plan": plan_commands.cleanup_test_plan,
    "check-amphorae": amphora_commands.check_amphorae,
    "prepare-amphora": amphora_commands.prepare_amphora,
}
COMMANDS: dict[str, Command] = {
    name: Command(name, PARAMS[name], run) for name, run in _RUN.items()
}
