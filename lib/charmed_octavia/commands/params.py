"""The typed parameters of each action: the library's own specs where their fields are the
action's, and the classes below where the action's values differ in form.

Every class validates itself when made (``ValueError``, saying which parameter and why), so
the charm's ``load_params(..., errors="fail")`` and ``octavia-sru``'s option parsing both refuse
bad input before anything connects to the cloud. ``PARAMS`` names each action's class.
"""

from __future__ import annotations

import dataclasses

from charmed_octavia.cloud import flavors
from charmed_octavia.cloud.flavors import FlavorProfileSpec, parse_flavor_data
from charmed_octavia.plan.params import PlanParams


@dataclasses.dataclass(frozen=True)
class CreateFlavorProfileParams:
    """create-flavorprofile's parameters: ``flavor-data`` is JSON text, the spec's a mapping."""

    name: str
    compute_flavor: str
    provider: str = FlavorProfileSpec.provider
    flavor_data: str = "{}"

    def __post_init__(self) -> None:
        self.spec()

    def spec(self) -> FlavorProfileSpec:
        return FlavorProfileSpec(
            name=self.name,
            compute_flavor=self.compute_flavor,
            provider=self.provider,
            flavor_data=parse_flavor_data(self.flavor_data),
        )


@dataclasses.dataclass(frozen=True)
class StoreTlsBundleParams:
    name: str = "xxlarge.devstack.p12"
    common_name: str = "xxlarge.devstack"
    bundle: str = dataclasses.field(default="", repr=False)
    days: int = 365

    def __post_init__(self) -> None:
        from charmed_octavia.cloud import tls
        from charmed_octavia.cloud.outcomes import check_name

        check_name("secret", self.name)
        if self.bundle:
            # Decoding also proves it is an unencrypted PKCS#12 with a key and a certificate.
            tls.decode_bundle(self.bundle)
        else:
            tls.validate_common_name(self.common_name)
            tls.validate_days(self.days)


@dataclasses.dataclass(frozen=True)
class CleanupParams:
    run_id: str = ""

    def __post_init__(self) -> None:
        if self.run_id:
            from charmed_octavia.plan.records import validate_run_id

            validate_run_id(self.run_id)


@dataclasses.dataclass(frozen=True)
class PrepareParams:
    loadbalancer: str = ""
    concurrency: int = 10
    timeout: int = 30

    def __post_init__(self) -> None:
        if self.loadbalancer:
            from charmed_octavia.cloud.outcomes import check_name

            check_name("loadbalancer", self.loadbalancer)
        if not 1 <= self.concurrency <= 100:
            raise ValueError("concurrency must be between 1 and 100")
        if not 1 <= self.timeout <= 3600:
            raise ValueError("timeout must be from 1 to 3600 seconds")


@dataclasses.dataclass(frozen=True)
class CheckParams(PrepareParams):
    since: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        from charmed_octavia.amphora.check import parse_since

        parse_since(self.since)


PARAMS: dict[str, type] = {
    "create-flavor": flavors.NovaFlavorSpec,
    "create-flavorprofile": CreateFlavorProfileParams,
    "create-lb-flavor": flavors.LbFlavorSpec,
    "create-xxlarge-flavor": flavors.XxlargeSpec,
    "store-tls-bundle": StoreTlsBundleParams,
    "run-test-plan": PlanParams,
    "cleanup-test-plan": CleanupParams,
    "check-amphorae": CheckParams,
    "prepare-amphora": PrepareParams,
}
