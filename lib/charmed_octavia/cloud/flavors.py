"""Idempotent Nova flavor, Octavia flavorprofile and Octavia flavor creation.

An identical existing resource is reused; one with the same name (or Nova id) that differs
raises ``ConflictError`` listing every difference, before anything is created. Every spec
validates itself when it is made (``InvalidParameter``), so an action's parameters load
straight into it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from typing import TYPE_CHECKING, Any

from charmed_octavia.cloud.outcomes import (
    ConflictError,
    Ensured,
    InvalidParameter,
    check_name,
    check_text,
    differences,
    shown,
)

if TYPE_CHECKING:
    from openstack.connection import Connection

# Nova accepts ids of ASCII word characters, dots, dashes and spaces (nova.api.validation).
_NOVA_ID = re.compile(r"(?! )[A-Za-z0-9_. -]{1,255}(?<! )")
# Nova and Octavia keep these in 32-bit signed integer columns.
INT32_MAX = 2**31 - 1
# Octavia's flavor_data column holds 4096 characters; JSON nested deeper than this is no
# flavor profile Octavia knows.
FLAVOR_DATA_MAX = 4096
FLAVOR_DATA_DEPTH = 8
# Octavia's provider drivers are entry-point names: lowercase words ("amphora", "ovn").
_PROVIDER = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def check_provider(provider: str) -> str:
    check_name("provider", provider, max_length=64)
    if not _PROVIDER.fullmatch(provider):
        raise InvalidParameter(f"provider {shown(provider)} is not a provider driver's name")
    return provider


def check_nova_id(label: str, value: str) -> str:
    """A Nova flavor id: ASCII word characters, dots, dashes and inner spaces."""
    if not _NOVA_ID.fullmatch(value):
        raise InvalidParameter(f"{label} {shown(value)} has characters Nova refuses")
    return value


def check_int(label: str, value: object, low: int, high: int = INT32_MAX) -> int:
    """An integer from ``low`` to ``high`` (a bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParameter(
            f"{label} must be an integer from {low} to {high}, not {shown(value)}"
        )
    return value


@dataclasses.dataclass(frozen=True)
class NovaFlavorSpec:
    name: str
    ram: int
    disk: int
    vcpus: int
    id: str = ""
    public: bool = True
    # Not compared when reusing: the test plan writes its run id here.
    description: str | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        check_name("Nova flavor", self.name)
        for field, value, minimum in (
            ("ram", self.ram, 1),
            ("disk", self.disk, 0),
            ("vcpus", self.vcpus, 1),
        ):
            check_int(field, value, minimum)
        if self.id:
            check_nova_id("Nova flavor id", self.id)
        if self.description is not None:
            check_text("Nova flavor description", self.description)

    def wanted(self) -> dict[str, Any]:
        wanted: dict[str, Any] = {
            "name": self.name,
            "ram": self.ram,
            "disk": self.disk,
            "vcpus": self.vcpus,
            "public": self.public,
        }
        if self.id:
            wanted["id"] = self.id
        return wanted


@dataclasses.dataclass(frozen=True)
class FlavorProfileSpec:
    name: str
    compute_flavor: str
    provider: str = "amphora"
    # Extra flavor data merged with {"compute_flavor": ...}.
    flavor_data: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        check_name("flavorprofile", self.name)
        check_provider(self.provider)
        if not self.compute_flavor.strip():
            raise InvalidParameter("compute-flavor must name a Nova flavor (id or name)")
        check_text("compute-flavor", self.compute_flavor)
        if "compute_flavor" in self.flavor_data and (
            self.flavor_data["compute_flavor"] != self.compute_flavor
        ):
            raise InvalidParameter(
                "flavor-data sets compute_flavor to "
                f"{shown(self.flavor_data['compute_flavor'])} but compute-flavor is "
                f"{shown(self.compute_flavor)}"
            )


@dataclasses.dataclass(frozen=True)
class LbFlavorSpec:
    name: str
    flavorprofile: str
    description: str = ""
    enabled: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        check_name("Octavia flavor", self.name)
        if not self.flavorprofile.strip():
            raise InvalidParameter("flavorprofile must name a flavorprofile (id or name)")
        check_text("flavorprofile", self.flavorprofile)
        check_text("description", self.description)


def _refuse_constant(name: str) -> None:
    raise InvalidParameter(f"flavor-data holds {name}, which is not JSON")


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def parse_flavor_data(text: str) -> dict[str, Any]:
    """The ``flavor-data`` parameter: a JSON object Octavia can store, or a clear error."""
    if len(text) > FLAVOR_DATA_MAX:
        raise InvalidParameter(
            f"flavor-data is longer than Octavia's {FLAVOR_DATA_MAX} characters"
        )
    try:
        value = json.loads(text or "{}", parse_constant=_refuse_constant)
    except json.JSONDecodeError as e:
        raise InvalidParameter(f"flavor-data is not valid JSON: {e}") from None
    except RecursionError:
        raise InvalidParameter("flavor-data is nested too deeply") from None
    if not isinstance(value, dict):
        raise InvalidParameter(f"flavor-data must be a JSON object, not {type(value).__name__}")
    if _depth(value) > FLAVOR_DATA_DEPTH:
        raise InvalidParameter(f"flavor-data is nested deeper than {FLAVOR_DATA_DEPTH} levels")
    return value


# ---- Nova flavor -------------------------------------------------------------------------


def _nova_flavor_view(flavor: Any) -> dict[str, Any]:
    return {
        "id": str(flavor.id),
        "name": flavor.name,
        "ram": flavor.ram,
        "disk": flavor.disk,
        "vcpus": flavor.vcpus,
        "public": bool(flavor.is_public),
        "description": flavor.description,
    }


def get_nova_flavor(conn: Connection, flavor_id: str) -> dict[str, Any] | None:
    from openstack import exceptions

    try:
        return _nova_flavor_view(conn.compute.get_flavor(flavor_id))
    except exceptions.NotFoundException:
        return None


def nova_flavors_named(conn: Connection, name: str) -> list[dict[str, Any]]:
    # "none" lists public and private flavors alike (admin), so a private one is not missed.
    flavors = conn.compute.flavors(details=True, is_public="none")
    return [_nova_flavor_view(f) for f in flavors if f.name == name]


def resolve_nova_flavor(conn: Connection, id_or_name: str) -> dict[str, Any]:
    """The Nova flavor with this id, else the one with this name; clear error otherwise."""
    found = get_nova_flavor(conn, id_or_name)
    if found is not None:
        return found
    named = nova_flavors_named(conn, id_or_name)
    if not named:
        raise InvalidParameter(f"no Nova flavor with id or name {shown(id_or_name)}")
    return named[0]


def find_nova_flavor(conn: Connection, spec: NovaFlavorSpec) -> dict[str, Any] | None:
    """The identical existing flavor, None when there is none; ConflictError if one differs."""
    spec.validate()
    wanted = spec.wanted()
    by_id = get_nova_flavor(conn, spec.id) if spec.id else None
    if by_id is not None:
        diff = differences(wanted, by_id)
        if diff:
            raise ConflictError("Nova flavor", f"id {spec.id}", diff)
        return by_id
    named = nova_flavors_named(conn, spec.name)
    if named:
        diff = differences(wanted, named[0])
        if diff:
            raise ConflictError("Nova flavor", spec.name, diff)
        return named[0]
    return None


def ensure_nova_flavor(conn: Connection, spec: NovaFlavorSpec) -> Ensured:
    existing = find_nova_flavor(conn, spec)
    if existing is not None:
        return Ensured("nova-flavor", existing["id"], existing["name"], "reused", existing)
    created = create_nova_flavor(conn, spec)
    return Ensured("nova-flavor", created["id"], created["name"], "created", created)


def create_nova_flavor(conn: Connection, spec: NovaFlavorSpec) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "name": spec.name,
        "ram": spec.ram,
        "disk": spec.disk,
        "vcpus": spec.vcpus,
        "is_public": spec.public,
    }
    if spec.id:
        attrs["id"] = spec.id
    if spec.description:
        attrs["description"] = spec.description
    return _nova_flavor_view(conn.compute.create_flavor(**attrs))


# ---- Octavia flavorprofile ---------------------------------------------------------------


def _profile_view(profile: Any) -> dict[str, Any]:
    data = profile.flavor_data
    if isinstance(data, str):
        with contextlib.suppress(json.JSONDecodeError):
            data = json.loads(data)
    return {
        "id": profile.id,
        "name": profile.name,
        "provider": profile.provider_name,
        "flavor_data": data,
    }


def flavorprofiles_named(conn: Connection, name: str) -> list[dict[str, Any]]:
    return [_profile_view(p) for p in conn.load_balancer.flavor_profiles(name=name)]


def all_flavorprofiles(conn: Connection) -> list[dict[str, Any]]:
    return [_profile_view(p) for p in conn.load_balancer.flavor_profiles()]


def resolve_flavorprofile(conn: Connection, id_or_name: str) -> dict[str, Any]:
    for profile in all_flavorprofiles(conn):
        if id_or_name == profile["id"]:
            return profile
    named = flavorprofiles_named(conn, id_or_name)
    if len(named) > 1:
        raise InvalidParameter(
            f"{len(named)} flavorprofiles are named {shown(id_or_name)}: give the id instead"
        )
    if not named:
        raise InvalidParameter(f"no flavorprofile with id or name {shown(id_or_name)}")
    return named[0]


def find_flavorprofile(
    conn: Connection, spec: FlavorProfileSpec, compute_flavor_id: str | None
) -> dict[str, Any] | None:
    """The identical existing flavorprofile (for this Nova flavor id), or None; a same-named
    one that differs raises ConflictError. ``compute_flavor_id`` None means the Nova flavor
    does not exist yet, so any same-named profile conflicts."""
    spec.validate()
    flavor_data = {**spec.flavor_data, "compute_flavor": compute_flavor_id or spec.compute_flavor}
    wanted = {"provider": spec.provider, "flavor_data": flavor_data}
    named = flavorprofiles_named(conn, spec.name)
    for existing in named:
        if compute_flavor_id is not None and not differences(wanted, existing):
            return existing
    if named:
        # Octavia allows duplicate names; the first one's differences explain the refusal.
        raise ConflictError("flavorprofile", spec.name, differences(wanted, named[0]))
    return None


def ensure_flavorprofile(conn: Connection, spec: FlavorProfileSpec) -> Ensured:
    spec.validate()
    # Octavia's amphora driver looks compute_flavor up by id: a name is resolved here.
    nova_flavor = resolve_nova_flavor(conn, spec.compute_flavor)
    existing = find_flavorprofile(conn, spec, nova_flavor["id"])
    if existing is not None:
        return Ensured("flavorprofile", existing["id"], spec.name, "reused", existing)
    view = create_flavorprofile(conn, spec, nova_flavor["id"])
    return Ensured("flavorprofile", view["id"], spec.name, "created", view)


def create_flavorprofile(
    conn: Connection, spec: FlavorProfileSpec, compute_flavor_id: str
) -> dict[str, Any]:
    flavor_data = {**spec.flavor_data, "compute_flavor": compute_flavor_id}
    created = conn.load_balancer.create_flavor_profile(
        name=spec.name, provider_name=spec.provider, flavor_data=json.dumps(flavor_data)
    )
    return _profile_view(created)


# ---- Octavia flavor ----------------------------------------------------------------------


def _lb_flavor_view(flavor: Any) -> dict[str, Any]:
    return {
        "id": flavor.id,
        "name": flavor.name,
        "flavorprofile_id": flavor.flavor_profile_id,
        "description": flavor.description or "",
        "enabled": bool(flavor.is_enabled),
    }


def lb_flavors_named(conn: Connection, name: str) -> list[dict[str, Any]]:
    return [_lb_flavor_view(f) for f in conn.load_balancer.flavors(name=name)]


def find_lb_flavor(
    conn: Connection, spec: LbFlavorSpec, flavorprofile_id: str | None
) -> dict[str, Any] | None:
    """The identical existing Octavia flavor or None; ConflictError if the name is taken by a
    different one (``flavorprofile_id`` None: the profile does not exist yet)."""
    spec.validate()
    wanted = {
        "flavorprofile_id": flavorprofile_id or spec.flavorprofile,
        "description": spec.description,
        "enabled": spec.enabled,
    }
    named = lb_flavors_named(conn, spec.name)
    if not named:
        return None
    diff = differences(wanted, named[0])
    if diff:
        raise ConflictError("Octavia flavor", spec.name, diff)
    return named[0]


def ensure_lb_flavor(conn: Connection, spec: LbFlavorSpec) -> Ensured:
    spec.validate()
    profile = resolve_flavorprofile(conn, spec.flavorprofile)
    existing = find_lb_flavor(conn, spec, profile["id"])
    if existing is not None:
        return Ensured("lb-flavor", existing["id"], spec.name, "reused", existing)
    view = create_lb_flavor(conn, spec, profile["id"])
    return Ensured("lb-flavor", view["id"], spec.name, "created", view)


def create_lb_flavor(conn: Connection, spec: LbFlavorSpec, flavorprofile_id: str):
    created = conn.load_balancer.create_flavor(
        name=spec.name,
        flavor_profile_id=flavorprofile_id,
        description=spec.description,
        is_enabled=spec.enabled,
    )
    return _lb_flavor_view(created)


# ---- the three of the SRU test plan ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class XxlargeSpec:
    """The test plan's m1.xxlarge / o1.xxlarge / o1.xxlarge, every value overridable."""

    nova_flavor_name: str = "m1.xxlarge"
    ram: int = 32768
    disk: int = 10
    vcpus: int = 4
    nova_flavor_id: str = "10"
    public: bool = True
    flavorprofile_name: str = "o1.xxlarge"
    provider: str = FlavorProfileSpec.provider
    lb_flavor_name: str = "o1.xxlarge"
    description: str = "Extra large LB"
    nova_description: str | None = None

    def __post_init__(self) -> None:
        self.validate()

    def nova(self) -> NovaFlavorSpec:
        return NovaFlavorSpec(
            name=self.nova_flavor_name,
            ram=self.ram,
            disk=self.disk,
            vcpus=self.vcpus,
            id=self.nova_flavor_id,
            public=self.public,
            description=self.nova_description,
        )

    def profile(self, compute_flavor: str) -> FlavorProfileSpec:
        return FlavorProfileSpec(
            name=self.flavorprofile_name, compute_flavor=compute_flavor, provider=self.provider
        )

    def lb_flavor(self, flavorprofile_id: str) -> LbFlavorSpec:
        return LbFlavorSpec(
            name=self.lb_flavor_name,
            flavorprofile=flavorprofile_id,
            description=self.description,
        )

    def validate(self) -> None:
        self.nova().validate()
        self.profile(self.nova_flavor_id or self.nova_flavor_name).validate()
        self.lb_flavor("-").validate()


def check_xxlarge(conn: Connection, spec: XxlargeSpec) -> None:
    """Raise ConflictError if any of the three would conflict; read-only."""
    spec.validate()
    nova = find_nova_flavor(conn, spec.nova())
    nova_id = nova["id"] if nova else None
    profile = find_flavorprofile(conn, spec.profile(nova_id or "<new>"), nova_id)
    profile_id = profile["id"] if profile else None
    find_lb_flavor(conn, spec.lb_flavor(profile_id or "<new>"), profile_id)


def ensure_xxlarge(conn: Connection, spec: XxlargeSpec) -> list[Ensured]:
    """The three resources in order. Every conflict is found before anything is created; if
    a creation fails anyway, what this call created is deleted again before re-raising."""
    check_xxlarge(conn, spec)
    results: list[Ensured] = []
    try:
        nova = ensure_nova_flavor(conn, spec.nova())
        results.append(nova)
        profile = ensure_flavorprofile(conn, spec.profile(nova.id))
        results.append(profile)
        results.append(ensure_lb_flavor(conn, spec.lb_flavor(profile.id)))
    except Exception:
        for ensured in reversed(results):
            if ensured.created:
                delete_created(conn, ensured.kind, ensured.id)
        raise
    return results


def delete_created(conn: Connection, kind: str, resource_id: str) -> bool:
    """Delete one flavor-ish resource by id; False when it was already gone."""
    from openstack import exceptions

    try:
        if kind == "nova-flavor":
            conn.compute.delete_flavor(resource_id, ignore_missing=False)
        elif kind == "flavorprofile":
            conn.load_balancer.delete_flavor_profile(resource_id, ignore_missing=False)
        elif kind == "lb-flavor":
            conn.load_balancer.delete_flavor(resource_id, ignore_missing=False)
        else:
            raise ValueError(f"not a flavor kind: {kind}")
    except exceptions.NotFoundException:
        return False
    return True
