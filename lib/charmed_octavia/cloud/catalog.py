"""Which service of the cloud a URL belongs to: the endpoints of a connection's catalog, read
from the token it already holds (never a request, so also while Keystone is down), and the
identity URL it authenticates at.

``naming(conn)`` makes every error described inside it (``outcomes.describe_error``) name the
services of that connection's catalog; outside it, or before the first token, only what the
caller passes (or the identity URL) is known.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

# The project behind each service type, for the text a person reads; a type not listed here
# is called by its catalog name.
PROJECTS = {
    "identity": "Keystone",
    "compute": "Nova",
    "load-balancer": "Octavia",
    "key-manager": "Barbican",
    "network": "Neutron",
    "image": "Glance",
    "block-storage": "Cinder",
    "volumev3": "Cinder",
    "placement": "Placement",
}
_V2_URL_KEYS = ("publicURL", "internalURL", "adminURL")


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One endpoint of the catalog: its service's type and name, and its URL."""

    service_type: str
    name: str
    url: str

    @property
    def project(self) -> str:
        """The service as a person calls it: Nova, Octavia, ... or its catalog name."""
        known = PROJECTS.get(self.service_type)
        if known:
            return known
        return (self.name[:1].upper() + self.name[1:]) if self.name else "the service"

    @property
    def label(self) -> str:
        """``Nova (compute)``: the project and the service type."""
        return f"{self.project} ({self.service_type})" if self.service_type else self.project


def _catalog_entries(auth: Any) -> list[dict[str, Any]]:
    access = getattr(auth, "auth_ref", None)  # the token held, None before the first one
    if access is None:
        return []
    catalog = getattr(access.service_catalog, "catalog", None)
    return [e for e in catalog or [] if isinstance(e, dict)]


def endpoints(conn: Any) -> tuple[Endpoint, ...]:
    """Every endpoint the connection knows without a request: the identity URL it
    authenticates at, and each endpoint (every interface and region) of its token's catalog.
    Empty for anything that is not an openstacksdk connection with an identity plugin."""
    try:
        auth = conn.session.auth
    except AttributeError:
        return ()
    found: list[Endpoint] = []
    auth_url = getattr(auth, "auth_url", None)
    if isinstance(auth_url, str) and auth_url:
        found.append(Endpoint("identity", "keystone", auth_url))
    for entry in _catalog_entries(auth):
        for endpoint in entry.get("endpoints") or []:
            urls = [endpoint.get("url")] + [endpoint.get(k) for k in _V2_URL_KEYS]
            for url in urls:
                if isinstance(url, str) and url:
                    found.append(Endpoint(entry.get("type", ""), entry.get("name", ""), url))
    return tuple(dict.fromkeys(found))


def _path(url: str) -> str:
    return urlsplit(url).path.rstrip("/") + "/"


def service_at(url: str, known: Sequence[Endpoint]) -> Endpoint | None:
    """The endpoint ``url`` was sent to: same scheme, host and port, and the longest endpoint
    path that starts the URL's path; or the only service at that host and port; else None."""
    try:
        wanted = urlsplit(url)
        same = [
            e
            for e in known
            if (urlsplit(e.url).scheme, urlsplit(e.url).netloc.lower())
            == (wanted.scheme, wanted.netloc.lower())
        ]
    except ValueError:
        return None
    if not wanted.netloc:
        return None
    path = _path(url)
    prefixed = [e for e in same if path.startswith(_path(e.url))]
    if prefixed:
        return max(prefixed, key=lambda e: len(_path(e.url)))
    if len({e.service_type for e in same}) == 1:
        return same[0]
    return None


def service_of_type(service_type: str, known: Sequence[Endpoint]) -> Endpoint | None:
    """The first endpoint of ``service_type``, or None."""
    return next((e for e in known if e.service_type == service_type), None)


_IN_USE: contextvars.ContextVar[Callable[[], tuple[Endpoint, ...]] | None] = (
    contextvars.ContextVar("charmed_octavia_catalog", default=None)
)


@contextlib.contextmanager
def naming(conn: Any) -> Iterator[None]:
    """Within this block, errors described without endpoints name the services of ``conn``'s
    catalog as it is when the error is described (a token got inside the block counts)."""
    token = _IN_USE.set(lambda: endpoints(conn))
    try:
        yield
    finally:
        _IN_USE.reset(token)


def in_use() -> tuple[Endpoint, ...]:
    """The endpoints of the connection of the innermost ``naming`` block, or none."""
    current = _IN_USE.get()
    return current() if current is not None else ()
