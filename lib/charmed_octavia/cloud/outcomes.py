"""Outcomes shared by the idempotent create functions (created, reused, or a conflict), the
error for bad input, and how an error is told in one line (naming the service a failed
request went to, by the connection's catalog: ``catalog``)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from charmed_octavia.cloud import catalog
from charmed_octavia.cloud.catalog import Endpoint

Action = Literal["created", "reused"]

# Characters that would start a new line in a log, a result or a file (C0 controls and DEL).
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# How much of a bad value a message quotes: enough to recognise it, never a 10 kB echo.
SHOWN_LIMIT = 64


class InvalidParameter(ValueError):
    """A value given by the operator is unusable; nothing was created or changed."""


class ConflictError(RuntimeError):
    """A resource with the same name or id exists and differs; nothing was changed."""

    def __init__(self, kind: str, name: str, differences: Sequence[str]) -> None:
        self.kind = kind
        self.name = name
        self.differences = list(differences)
        super().__init__(
            f"{kind} {shown(name)} already exists and differs: {'; '.join(self.differences)}"
        )


@dataclasses.dataclass(frozen=True)
class Ensured:
    """A resource that now exists as asked: ``action`` says whether this call created it."""

    kind: str
    id: str
    name: str
    action: Action
    attributes: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def created(self) -> bool:
        return self.action == "created"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "action": self.action,
            "attributes": dict(self.attributes),
        }


def differences(wanted: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """``field: existing X, wanted Y`` for every field whose value differs."""
    return [
        f"{key}: existing {actual.get(key)!r}, wanted {value!r}"
        for key, value in wanted.items()
        if actual.get(key) != value
    ]


def shown(value: object) -> str:
    """``value`` quoted for a message: its repr, cut to ``SHOWN_LIMIT`` characters."""
    text = repr(value)
    if len(text) <= SHOWN_LIMIT:
        return text
    return f"{text[: SHOWN_LIMIT - 1]}\u2026 ({len(str(value))} characters)"


def check_text(label: str, value: str, *, max_length: int = 255) -> str:
    """A free-text value (a description): a string of at most ``max_length`` characters on
    one line."""
    if not isinstance(value, str):
        raise InvalidParameter(f"{label} must be text, not {shown(value)}")
    if CONTROL.search(value):
        raise InvalidParameter(f"{label} must be one line without control characters")
    if len(value) > max_length:
        raise InvalidParameter(f"{label} is longer than {max_length} characters")
    return value


def check_name(kind: str, name: str, *, max_length: int = 255) -> str:
    """A resource's name: one line, no surrounding spaces. ``kind`` is what it names
    ("keypair") or the parameter that holds it ("lb-name")."""
    label = kind if kind.endswith("name") else f"{kind} name"
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter(f"{label} must not be empty")
    check_text(label, name, max_length=max_length)
    if name != name.strip():
        raise InvalidParameter(f"{label} {shown(name)} has leading or trailing spaces")
    return name


def describe_error(error: BaseException, endpoints: Sequence[Endpoint] | None = None) -> str:
    """One line saying what went wrong: the message, and an openstacksdk error's details.

    A request that failed says first which service it went to, by the catalog's
    ``endpoints`` (by default those of the enclosing ``catalog.naming``): the one that is
    unreachable, did not answer in time, failed its API version discovery, or answered with an
    error status (and, when its answer says so, that it could not reach its database, Keystone
    or another service of the catalog)."""
    known = catalog.in_use() if endpoints is None else tuple(endpoints)
    text = str(error).strip() or type(error).__name__
    details = getattr(error, "details", None)
    if details and str(details) not in text:
        text = f"{text}: {details}"
    told = (
        _connection_failure(error, text, known)
        or _http_failure(error, text, known)
        or _discovery_failure(error, text, known)
    )
    return " ".join((told or text).split())


def answer_timed_out(error: BaseException) -> bool:
    """Whether ``error`` is a request that was sent but not answered in time (keystoneauth
    raises ConnectTimeout for both: only the cause tells a read timeout)."""
    from keystoneauth1 import exceptions as ksa
    from requests import exceptions as rex

    return isinstance(error, ksa.ConnectTimeout) and isinstance(error.__context__, rex.ReadTimeout)


# keystoneauth's messages, each with the URL the request went to.
_FAILED_URL = re.compile(
    r"(?:Unable to establish connection to|Request to|SSL exception connecting to|"
    r"Unexpected exception for) (https?://\S+?)(?=:\s|\s|$)"
)
# A server's own error text, naming the URL it could not reach.
_UNREACHABLE_URL = re.compile(r"Unable to establish connection to (https?://\S+?)(?=:\s|\s|$)")
_SOCKET_ERROR = re.compile(r"\[Errno -?\d+\] ([^'\"()\[\]]+)")
_READ_TIMEOUT = re.compile(r"read timeout=(\d+(?:\.\d+)?)")
# Where a service that does not answer a change in time is likely waiting, by service type.
_UNANSWERED_CHANGE = {
    "load-balancer": "an Octavia API blocks on a change while its message queue (RabbitMQ), "
    "through which it hands the change to its worker, is unreachable",
}
_CHANGES = ("POST", "PUT", "PATCH", "DELETE")
# How a service's answer says that its database is unreachable (oslo.db, PyMySQL, MySQL).
_DATABASE_DOWN = re.compile(
    r"DBConnectionError|Can't connect to MySQL server|Lost connection to MySQL server|"
    r"MySQL server has gone away|Can't connect to local MySQL server"
)
# keystonemiddleware's 503 while Keystone is unreachable (webob's text: the rest of it, "The
# Keystone service is temporarily unavailable", may be cut off by keystoneauth).
_KEYSTONE_UNAVAILABLE = "The server is currently unavailable"
_NO_VERSION = re.compile(r"The (\S+) service for \S* exists but does not have any supported")


def _where(url: str, known: Sequence[Endpoint]) -> tuple[str, Endpoint | None]:
    endpoint = catalog.service_at(url, known)
    if endpoint is not None:
        return f"{endpoint.label} at {endpoint.url}", endpoint
    parts = re.match(r"[a-z]+://[^/?#]*", url)
    return (parts.group(0) if parts else url), None


def _connection_failure(error: BaseException, text: str, known: Sequence[Endpoint]) -> str | None:
    """An unreachable or silent service: keystoneauth's connection errors, whose cause (the
    requests error) holds the request."""
    from keystoneauth1 import exceptions as ksa

    if not isinstance(error, ksa.ConnectionError):
        return None
    cause = error.__context__
    request = getattr(cause, "request", None)
    url = getattr(request, "url", None)
    if not isinstance(url, str):
        found = _FAILED_URL.search(text)
        if found is None:
            return None
        url = found.group(1)
    method = getattr(request, "method", None)
    target = f"{method} {url}" if isinstance(method, str) else url
    where, endpoint = _where(url, known)
    if answer_timed_out(error):
        seconds = _READ_TIMEOUT.search(str(cause))
        within = f"within {float(seconds.group(1)):g} s" if seconds else "in time"
        hint = _UNANSWERED_CHANGE.get(endpoint.service_type) if endpoint else None
        told = f"{where} did not answer {target} {within}"
        return f"{told} ({hint})" if hint and method in _CHANGES else told
    return f"{where} is unreachable ({_reason(error, cause)}): {target}"


def _reason(error: BaseException, cause: BaseException | None) -> str:
    from keystoneauth1 import exceptions as ksa

    socket_error = _SOCKET_ERROR.search(str(cause) if cause is not None else str(error))
    if socket_error:
        return socket_error.group(1).strip().lower()
    if isinstance(error, ksa.ConnectTimeout):
        return "connection timed out"
    if isinstance(error, ksa.SSLError):
        return "TLS failed"
    return "connection failed"


def _http_failure(error: BaseException, text: str, known: Sequence[Endpoint]) -> str | None:
    """A service that answered with an error status (openstacksdk's and keystoneauth's HTTP
    errors carry the URL)."""
    url = getattr(error, "url", None)
    status = getattr(error, "status_code", None) or getattr(error, "http_status", None)
    if not isinstance(url, str) or status is None:
        return None
    endpoint = catalog.service_at(url, known)
    if endpoint is None:
        return None
    cause = _cause(endpoint, text, known)
    return f"{endpoint.label} at {endpoint.url} answered {status}{cause}: {text}"


def _cause(endpoint: Endpoint, text: str, known: Sequence[Endpoint]) -> str:
    """What a service's error answer says it could not reach."""
    if _DATABASE_DOWN.search(text):
        return f" ({endpoint.project} could not reach its database)"
    if _KEYSTONE_UNAVAILABLE in text:
        return (
            " (503 Service Unavailable: how an OpenStack API answers while it cannot reach "
            "Keystone to validate the token)"
        )
    for found in _UNREACHABLE_URL.finditer(text):
        other = catalog.service_at(found.group(1), known)
        if other is not None and other.service_type != endpoint.service_type:
            return f" ({endpoint.project} could not reach {other.label} at {other.url})"
    return ""


def _proxy_service_type(error: BaseException) -> str | None:
    """The service type of the innermost openstacksdk proxy call (``conn.key_manager.X``...)
    that ``error`` came out of: an error of a service's version discovery names no URL."""
    try:
        from openstack.proxy import Proxy
    except ImportError:
        return None
    found = None
    frame = error.__traceback__
    while frame is not None:
        owner = frame.tb_frame.f_locals.get("self")
        if isinstance(owner, Proxy) and getattr(owner, "service_type", None):
            found = owner.service_type
        frame = frame.tb_next
    return found


def _discovery_failure(error: BaseException, text: str, known: Sequence[Endpoint]) -> str | None:
    """openstacksdk's first request to a service discovers its API version; when that fails
    the error names the service type at most ("The key-manager service ... does not have any
    supported versions"), or nothing (keystoneauth's "Bad version data returned")."""
    from keystoneauth1 import exceptions as ksa

    found = _NO_VERSION.search(text)
    if found is None and not isinstance(error, ksa.DiscoveryFailure):
        return None
    service_type = found.group(1) if found else _proxy_service_type(error)
    endpoint = catalog.service_of_type(service_type, known) if service_type else None
    if endpoint is None:
        return None
    cause = _cause(endpoint, text, known) or (
        " (it is unreachable, or has no version this client supports)" if found else ""
    )
    return f"{endpoint.label} at {endpoint.url} failed its API version discovery{cause}: {text}"


def redact(text: str, secrets: Sequence[str], mask: str = "***") -> str:
    """``text`` with every secret masked, also as it appears inside a URL (percent-quoted,
    with ``+`` for spaces) or in octavia.conf (``$`` doubled), longest first."""
    from urllib.parse import quote, quote_plus

    forms = set()
    for secret in secrets:
        if secret:
            forms.update(
                {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
                | {secret.replace("$", "$$")}
            )
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, mask)
    return text
