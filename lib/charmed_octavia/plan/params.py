"""What a test-plan run is given: the operator's parameters (``PlanParams``, validated before
anything is created) and the unit's or the lab's facts (``PlanContext``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from charmed_octavia.amphora.check import HAPROXY_DIR
from charmed_octavia.cloud import flavors, tls
from charmed_octavia.cloud.flavors import check_int
from charmed_octavia.cloud.keypairs import validate_keypair_name
from charmed_octavia.cloud.outcomes import InvalidParameter, check_name, check_text, shown
from charmed_octavia.cloud.waiting import SYSTEM_CLOCK, Clock
from charmed_octavia.plan.records import (
    GENERATED_RUN_ID_LENGTH,
    secret_name,
    validate_run_id,
)

if TYPE_CHECKING:
    from charmed_octavia.amphora.ssh import SSHSettings

Progress = Callable[[str], None]

LB_ALGORITHMS = ("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP")
POOL_PROTOCOLS = ("HTTP", "HTTPS", "PROXY", "PROXYV2", "TCP")
# Longest wait a run accepts (a day): beyond it a typo, not a slow cloud.
MAX_TIMEOUT = 86400
# Barbican keeps a secret's name in 255 characters.
SECRET_NAME_MAX = 255


def no_progress(message: str) -> None:
    del message


@dataclasses.dataclass(frozen=True)
class PlanParams:
    """Every value the bug's test plan hard-codes, with the plan's value as default (the
    flavors' are ``flavors.XxlargeSpec``'s). Validated when made (``InvalidParameter``)."""

    run_id: str = ""
    keypair_name: str = "amphora-backdoor"
    nova_flavor_name: str = flavors.XxlargeSpec.nova_flavor_name
    ram: int = flavors.XxlargeSpec.ram
    disk: int = flavors.XxlargeSpec.disk
    vcpus: int = flavors.XxlargeSpec.vcpus
    nova_flavor_id: str = flavors.XxlargeSpec.nova_flavor_id
    flavorprofile_name: str = flavors.XxlargeSpec.flavorprofile_name
    provider: str = flavors.XxlargeSpec.provider
    lb_flavor_name: str = flavors.XxlargeSpec.lb_flavor_name
    lb_flavor_description: str = flavors.XxlargeSpec.description
    tls_secret_name: str = "xxlarge.devstack.p12"  # noqa: S105 - a secret's name
    common_name: str = "xxlarge.devstack"
    lb_name: str = "lb1-xxlarge"
    vip_subnet: str = "ext_net_subnet"
    listener_name: str = "thttps"
    listener_port: int = 443
    connection_limit: int = -1
    pool_name: str = "xxlarge_p1"
    lb_algorithm: str = "ROUND_ROBIN"
    pool_protocol: str = "HTTP"
    reload_count: int = 0
    prepare_amphora: bool = True
    check_amphorae: bool = True
    lb_timeout: float = 1800
    step_timeout: float = 600
    keep_resources: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.run_id:
            validate_run_id(self.run_id)
        validate_keypair_name(self.keypair_name, "keypair-name")
        for label, name in (
            ("lb-name", self.lb_name),
            ("listener-name", self.listener_name),
            ("pool-name", self.pool_name),
            ("tls-secret-name", self.tls_secret_name),
            ("vip-subnet", self.vip_subnet),
        ):
            check_name(label, name)
        # The secret's name carries the run id: both must fit before anything is created.
        run_id = self.run_id or "x" * GENERATED_RUN_ID_LENGTH
        if len(secret_name(self.tls_secret_name, run_id)) > SECRET_NAME_MAX:
            raise InvalidParameter(
                f"tls-secret-name is too long: with the run id, the secret's name exceeds "
                f"Barbican's {SECRET_NAME_MAX} characters"
            )
        check_text("lb-flavor-description", self.lb_flavor_description)
        self.xxlarge().validate()
        tls.validate_common_name(self.common_name)
        check_int("listener-port", self.listener_port, 1, 65535)
        check_int("connection-limit", self.connection_limit, -1)
        check_int("reload-count", self.reload_count, 0, 50)
        if self.lb_algorithm not in LB_ALGORITHMS:
            raise InvalidParameter(f"lb-algorithm {shown(self.lb_algorithm)} is not supported")
        if self.pool_protocol not in POOL_PROTOCOLS:
            raise InvalidParameter(f"pool-protocol {shown(self.pool_protocol)} is not supported")
        for label, value in (("lb-timeout", self.lb_timeout), ("step-timeout", self.step_timeout)):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 < value <= MAX_TIMEOUT
            ):
                raise InvalidParameter(
                    f"{label} must be a positive number of seconds, at most {MAX_TIMEOUT}"
                )

    def xxlarge(self, nova_description: str | None = None) -> flavors.XxlargeSpec:
        return flavors.XxlargeSpec(
            nova_flavor_name=self.nova_flavor_name,
            ram=self.ram,
            disk=self.disk,
            vcpus=self.vcpus,
            nova_flavor_id=self.nova_flavor_id,
            flavorprofile_name=self.flavorprofile_name,
            provider=self.provider,
            lb_flavor_name=self.lb_flavor_name,
            description=self.lb_flavor_description,
            nova_description=nova_description,
        )

    def to_dict(self) -> dict[str, Any]:
        return {f.name.replace("_", "-"): getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclasses.dataclass
class PlanContext:
    """What the plan needs besides the connection: plain values from the unit or the lab."""

    state_dir: Path
    series: str = ""
    origin: str = ""
    package_versions: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # [controller_worker] amp_ssh_key_name of the octavia.conf in use.
    amp_ssh_key_name: str = ""
    # OpenSSH public-key line uploaded as the keypair; None skips the keypair step.
    public_key: str | None = None
    # None: the amphora steps report that they did not run.
    amphora_ssh: SSHSettings | None = None
    # Where the amphorae keep <lb id>/haproxy.cfg.
    amphora_haproxy_dir: str = HAPROXY_DIR
    # The kernel log is read from the plan's start minus this margin (the amphora's clock may
    # differ from this machine's).
    oom_since_margin: float = 60.0
    progress: Progress = no_progress
    clock: Clock = SYSTEM_CLOCK
    # Where the cloud is, for the report (no credentials).
    cloud_label: str = ""
