"""The actions that act on this application's units alone (not ``octavia-sru`` commands).

``HANDLERS`` maps an action's name to its handler, which gets the event and the charm
(``UnitHost``): ``charm.py``'s dispatch consults it beside ``actions.HANDLERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import amphora_certs
import ops
from charmed_octavia.unit import amphora_pki, pki
from charmed_octavia.unit.config import CharmConfig


class UnitHost(Protocol):
    """What the unit actions need of the charm."""

    @property
    def unit(self) -> ops.Unit: ...

    @property
    def model(self) -> ops.Model: ...

    def peer_app_data(self) -> ops.RelationDataContent | None:
        """The peer relation's application data, None before the relation exists."""
        ...

    def apply_amphora_pki(self, content: dict[str, str]) -> None:
        """Render ``content`` (the secret's new revision) on this unit now."""
        ...


def rotate_amphora_certs(event: ops.ActionEvent, host: UnitHost, config: CharmConfig) -> None:
    """A new controller client certificate (and key), signed by the same controller CA."""
    if not host.unit.is_leader():
        event.fail("rotate-amphora-certs runs on the leader unit (it owns the PKI secret)")
        return
    if amphora_certs.operator_owned(config):
        event.fail(
            "the lb-mgmt-* options are set: the operator owns those certificates; set a new "
            "lb-mgmt-controller-cert instead"
        )
        return
    shared = host.peer_app_data()
    secret = amphora_certs.secret(host.model, shared) if shared is not None else None
    if shared is None or secret is None:
        event.fail("no generated amphora PKI yet: wait for the leader to settle, then retry")
        return
    renewed = amphora_pki.renew_controller(secret.get_content(refresh=True))
    secret.set_content(renewed)
    serial = amphora_certs.controller_serial(renewed)
    shared[amphora_certs.CONTROLLER_SERIAL] = serial
    host.apply_amphora_pki(renewed)
    ends = dict(pki.expiries(amphora_pki.material(renewed)))
    event.set_results(
        {
            "controller-cert-serial": serial,
            "controller-cert-expires": ends["controller certificate"].isoformat(),
        }
    )


Handler = Callable[[ops.ActionEvent, UnitHost, CharmConfig], None]
HANDLERS: dict[str, Handler] = {"rotate-amphora-certs": rotate_amphora_certs}
