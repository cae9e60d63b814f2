"""create-flavor, create-flavorprofile, create-lb-flavor, create-xxlarge-flavor and
store-tls-bundle: one resource (or three) ensured from validated parameters."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from charmed_octavia.cloud import barbican, flavors, tls
from charmed_octavia.cloud.outcomes import describe_error
from charmed_octavia.commands.params import CreateFlavorProfileParams, StoreTlsBundleParams
from charmed_octavia.commands.workspace import Outcome, Workspace, connected, failed

if TYPE_CHECKING:
    from openstack.connection import Connection

    from charmed_octavia.cloud.outcomes import Ensured


def text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def flat(values: Mapping[str, Any]) -> dict[str, str]:
    """Juju action results hold strings: every value as text, hyphenated keys."""
    return {key.replace("_", "-"): text(v) for key, v in values.items()}


def ensured_results(ensured: Ensured) -> dict[str, Any]:
    return {
        "action": ensured.action,
        "id": ensured.id,
        "name": ensured.name,
        "attributes": flat(ensured.attributes),
    }


def _ensure_one(
    command: str,
    label: str,
    ensure: Callable[[Connection], Ensured],
    ws: Workspace,
    extra: Callable[[Ensured], dict[str, str]] | None = None,
) -> Outcome:
    try:
        with connected(ws) as conn:
            ensured = ensure(conn)
    except Exception as e:
        return failed(command, describe_error(e))
    ws.progress(f"{label} {ensured.name} ({ensured.id}) {ensured.action}")
    results = ensured_results(ensured)
    if extra is not None:
        results["attributes"].update(extra(ensured))
    return Outcome(results=results)


def create_flavor(spec: flavors.NovaFlavorSpec, ws: Workspace) -> Outcome:
    return _ensure_one(
        "create-flavor", "Nova flavor", lambda c: flavors.ensure_nova_flavor(c, spec), ws
    )


def create_flavorprofile(params: CreateFlavorProfileParams, ws: Workspace) -> Outcome:
    spec = params.spec()
    return _ensure_one(
        "create-flavorprofile",
        "flavorprofile",
        lambda c: flavors.ensure_flavorprofile(c, spec),
        ws,
        # The merged flavor data as Octavia holds it, as JSON text (results are strings).
        extra=lambda ensured: {
            "flavor-data": json.dumps(ensured.attributes.get("flavor_data"), sort_keys=True)
        },
    )


def create_lb_flavor(spec: flavors.LbFlavorSpec, ws: Workspace) -> Outcome:
    return _ensure_one(
        "create-lb-flavor", "Octavia flavor", lambda c: flavors.ensure_lb_flavor(c, spec), ws
    )


def create_xxlarge_flavor(spec: flavors.XxlargeSpec, ws: Workspace) -> Outcome:
    try:
        with connected(ws) as conn:
            ensured = flavors.ensure_xxlarge(conn, spec)
    except Exception as e:
        return failed("create-xxlarge-flavor", describe_error(e))
    results: dict[str, Any] = {}
    for item in ensured:
        ws.progress(f"{item.kind} {item.name} ({item.id}) {item.action}")
        results[item.kind] = ensured_results(item)
    return Outcome(results=results)


def store_tls_bundle(params: StoreTlsBundleParams, ws: Workspace) -> Outcome:
    try:
        # The parameters were checked; what cryptography still refuses fails the command too.
        if params.bundle:
            bundle = tls.decode_bundle(params.bundle)
        else:
            bundle = tls.generate_bundle(params.common_name, days=params.days)
    except ValueError as e:
        return failed("store-tls-bundle", describe_error(e))
    if bundle.generated:
        ws.progress(f"generated a CA and a certificate for {params.common_name}")
    else:
        ws.progress(f"storing the given bundle ({bundle.subject})")
    try:
        with connected(ws) as conn:
            stored = barbican.store_bundle(conn, params.name, bundle)
    except Exception as e:
        return failed("store-tls-bundle", describe_error(e))
    return Outcome(
        results={
            "secret-href": stored.href,
            "secret-id": stored.id,
            "name": stored.name,
            "certificate": flat(bundle.to_dict()),
        }
    )
