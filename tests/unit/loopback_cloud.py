"""A cloud on loopback for the unit tests of how failures are told: a real openstacksdk
connection whose token (held, never fetched) lists the endpoints a test gives, each a port of
127.0.0.1 that refuses connections, accepts and never answers, or gives one recorded answer.

The recorded answers are those of the lab's services with a dependency stopped (their texts
are quoted in ``tests/integration/test_faults.py``'s table); the lab suite checks the same
descriptions against the real services.
"""

from __future__ import annotations

import contextlib
import datetime
import http.server
import json
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from keystoneauth1 import access, session
from keystoneauth1.identity import v3
from openstack.connection import Connection

# The project of each service type, as a catalog names it.
CATALOG_NAMES = {
    "identity": "keystone",
    "compute": "nova",
    "load-balancer": "octavia",
    "key-manager": "barbican",
}


def closed_port() -> int:
    """A port of 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a service blocked on another)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


T = TypeVar("T")


def returns_within(seconds: float, call: Callable[[], T], what: str) -> T:
    """``call()``'s result, failing the test if it has not returned after ``seconds``: a
    call that hangs on a silent service is stopped by its own timeouts, or is a defect."""
    got: list[T] = []
    worker = threading.Thread(target=lambda: got.append(call()), daemon=True)
    worker.start()
    worker.join(timeout=seconds)
    assert not worker.is_alive(), f"{what} hangs on a service that does not answer"
    (result,) = got
    return result


@contextlib.contextmanager
def answering(status: int, body: Any, **by_path: tuple[int, Any]) -> Iterator[int]:
    """A port that answers every request ``status`` with the JSON ``body``; or, for a path
    given as ``by_path`` (``root`` for ``/``), that path's (status, body). A body may be a
    function of the port (for the links of a version document)."""
    answers = {("/" if k == "root" else k): v for k, v in by_path.items()}

    def answer(method: str, path: str, request: Any, port: int) -> tuple[int, Any]:
        del method, request
        code, content = answers.get(path.split("?")[0], (status, body))
        return code, content(port) if callable(content) else content

    with json_server(answer) as port:
        yield port


# answer(method, path with query, JSON body or None, the server's port) -> (status, JSON).
Answer = Callable[[str, str, Any, int], tuple[int, Any]]


@contextlib.contextmanager
def json_server(answer: Answer) -> Iterator[int]:
    """A port of 127.0.0.1 whose every request ``answer`` answers (``None``: an empty body);
    stopped when the block ends."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(length)) if length else None
            code, content = answer(self.command, self.path, request, port)
            data = b"" if content is None else json.dumps(content).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


def _token(catalog: Mapping[str, str]) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = "%Y-%m-%dT%H:%M:%S.000000Z"
    domain = {"id": "default", "name": "Default"}
    return {
        "token": {
            "issued_at": now.strftime(stamp),
            "expires_at": (now + datetime.timedelta(hours=1)).strftime(stamp),
            "methods": ["password"],
            "user": {"id": "u1", "name": "admin", "domain": domain},
            "project": {"id": "p1", "name": "admin", "domain": domain},
            "roles": [{"id": "r1", "name": "admin"}],
            "catalog": [
                {
                    "id": f"s-{service_type}",
                    "type": service_type,
                    "name": CATALOG_NAMES.get(service_type, service_type),
                    "endpoints": [
                        {
                            "id": f"e-{service_type}",
                            "interface": "public",
                            "region": "RegionOne",
                            "region_id": "RegionOne",
                            "url": url,
                        }
                    ],
                }
                for service_type, url in catalog.items()
            ],
        }
    }


def connection(
    auth_url: str, catalog: Mapping[str, str] | None = None, timeout: float | None = None
) -> Connection:
    """An openstacksdk connection authenticating at ``auth_url``; with ``catalog`` (service
    type -> URL) it already holds a token listing those endpoints, so it asks Keystone for
    nothing until the token expires."""
    plugin = v3.Password(
        auth_url=auth_url,
        username="admin",
        password="unused",  # never sent: the token is held
        project_name="admin",
        user_domain_id="default",
        project_domain_id="default",
    )
    if catalog is not None:
        plugin.auth_ref = access.create(body=_token(catalog), auth_token="t0ken")
    return Connection(session=session.Session(auth=plugin, timeout=timeout))
