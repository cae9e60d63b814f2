"""SSH to amphorae with asyncssh: the unit's key pair and host keys trusted on first use.

asyncssh (not paramiko) because checking dozens of amphorae is I/O-bound: one event loop
runs every connection with a bound on concurrency and a deadline per host, with no threads.

Host keys are recorded per amphora id (not per address: a management address is reused by
the next amphora) in an OpenSSH-format known-hosts file whose host field is the amphora id.
A recorded key is enforced during key exchange; a different key is refused, never replaced.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncssh

# The unit's amphora key pair and the host keys it trusts, inside the charm's SSH directory.
KEY_NAME = "id_amphora"
KNOWN_HOSTS_NAME = "known_hosts"
KEY_COMMENT = "charmed-octavia-amphora"
# Algorithms every amphora image's OpenSSH (Ubuntu 22.04: 8.9, 24.04: 9.6) offers by default,
# cheapest first for the client. AES-GCM before chacha20-poly1305: asyncssh builds three
# ChaCha20 cipher contexts per packet, AES-GCM is one OpenSSL call (a third less client CPU
# over 50 amphorae). No compression: a check's output is small, zlib costs both ends.
KEX_ALGS = ["curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256"]
ENCRYPTION_ALGS = [
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
]


@dataclasses.dataclass(frozen=True)
class SSHSettings:
    """How to reach amphorae. ``address_map`` maps an ``lb_network_ip`` to (host, port)."""

    private_key_path: Path
    known_hosts_path: Path
    username: str = "ubuntu"
    address_map: Mapping[str, tuple[str, int]] = dataclasses.field(default_factory=dict)
    port: int = 22

    @classmethod
    def in_directory(cls, directory: Path) -> SSHSettings:
        """The unit's settings: its key pair and known hosts in ``directory``."""
        return cls(
            private_key_path=Path(directory) / KEY_NAME,
            known_hosts_path=Path(directory) / KNOWN_HOSTS_NAME,
        )

    def endpoint(self, lb_network_ip: str) -> tuple[str, int]:
        return self.address_map.get(lb_network_ip, (lb_network_ip, self.port))


def _tighten_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o077:
        directory.chmod(0o700)


def ensure_keypair(directory: Path) -> tuple[Path, str]:
    """The amphora SSH key of this unit, created once: (private key path, public key line).

    The key is ed25519, written mode 0600 inside a 0700 directory; an existing key is kept.
    """
    import asyncssh

    directory = Path(directory)
    _tighten_dir(directory)
    private = directory / KEY_NAME
    if not private.exists():
        key = asyncssh.generate_private_key("ssh-ed25519", comment=KEY_COMMENT)
        data = key.export_private_key("openssh")
        # O_EXCL: two concurrent callers cannot both write; the loser reads the winner's key.
        try:
            fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
    if private.stat().st_mode & 0o077:
        private.chmod(0o600)
    return private, public_key_line(private)


def public_key_line(private: Path) -> str:
    """The OpenSSH public-key line of the private key at ``private``, with a comment."""
    key = load_client_key(private)
    public = key.export_public_key("openssh").decode().strip()
    if len(public.split()) < 3:
        public = f"{public} {KEY_COMMENT}"
    return public


class HostKeyStore:
    """Host keys per amphora id, in an OpenSSH known-hosts file (mode 0600).

    Every line is checked whenever the file is read: a line that is not ``<amphora id>
    <key type> <base64 key>`` (or the file itself being unreadable) is an ``SSHFailure``
    naming the file and the line, never a guess at what the line meant.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _repair(self, where: str, problem: str) -> SSHFailure:
        return SSHFailure(
            "error",
            f"known-hosts file {where} {problem}; fix or delete that line (or the file) and "
            "run again: an amphora without a line has its host key recorded on the next "
            "contact, so a deleted line loses that protection for it",
        )

    def _lines(self) -> list[str]:
        try:
            return self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except UnicodeDecodeError:
            raise self._repair(str(self.path), "is not UTF-8 text") from None
        except OSError as exc:
            problem = f"cannot be read ({exc.strerror or type(exc).__name__})"
            raise self._repair(str(self.path), problem) from None

    def _entries(self) -> dict[str, asyncssh.SSHKey]:
        import asyncssh

        entries: dict[str, asyncssh.SSHKey] = {}
        for number, line in enumerate(self._lines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split()
            where = f"{self.path} line {number}"
            if len(parts) < 3:
                raise self._repair(where, "is not '<amphora id> <key type> <key>'")
            try:
                entries[parts[0]] = asyncssh.import_public_key(f"{parts[1]} {parts[2]}")
            except (asyncssh.KeyImportError, ValueError):
                raise self._repair(where, "does not hold a readable public key") from None
        return entries

    def get(self, amphora_id: str) -> asyncssh.SSHKey | None:
        return self._entries().get(amphora_id)

    def record(self, amphora_id: str, key: asyncssh.SSHKey) -> None:
        """Add the key of a first-seen amphora (atomic replace, so readers see whole files)."""
        if not amphora_id or any(c.isspace() for c in amphora_id):
            raise ValueError(f"invalid amphora id {amphora_id!r}")
        self._entries()  # a damaged file is reported, not rewritten around
        lines = [line for line in self._lines() if line.split()[:1] != [amphora_id]]
        lines.append(f"{amphora_id} {key.export_public_key('openssh').decode().strip()}")
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".known_hosts.")
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)


def format_endpoint(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets as in a URL (``[fc00::1]:22``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclasses.dataclass
class CommandResult:
    exit_status: int | None
    stdout: str
    stderr: str


class SSHFailure(Exception):
    """Why a host could not be used; ``kind`` is "unreachable" or "error"."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def fingerprint(key: asyncssh.SSHKey) -> str:
    return key.get_fingerprint("sha256")


async def run_commands(
    *,
    amphora_ids: list[str],
    host: str,
    port: int,
    username: str,
    client_key: asyncssh.SSHKey,
    host_keys: HostKeyStore,
    record_lock: asyncio.Lock,
    command: str,
    stdin: str | None = None,
    connect_timeout: float,
) -> list[CommandResult | SSHFailure]:
    """Run ``command`` once per amphora id, each in its own session of one connection.

    For amphorae reached through the same endpoint (the same SSH server): the ids must share
    one recorded host key, or have none (then the server's key is recorded for each). A
    connection failure raises ``SSHFailure``; a failed session is returned in its place.
    """
    import asyncssh

    where = format_endpoint(host, port)
    known = host_keys.get(amphora_ids[0])
    # A recorded key is enforced by asyncssh during key exchange; no record: accept and record.
    known_hosts: Any = ([known], [], []) if known is not None else None
    try:
        conn = await asyncssh.connect(
            host,
            port,
            username=username,
            client_keys=[client_key],
            known_hosts=known_hosts,
            agent_path=None,
            config=[],
            kex_algs=KEX_ALGS,
            encryption_algs=ENCRYPTION_ALGS,
            compression_algs=["none"],
            connect_timeout=connect_timeout,
            login_timeout=connect_timeout,
        )
    except asyncssh.HostKeyNotVerifiable:
        assert known is not None
        raise SSHFailure(
            "error",
            f"host key changed: {where} did not offer the key recorded for amphora "
            f"{amphora_ids[0]} ({fingerprint(known)}) in {host_keys.path}; refused. Remove "
            "that line only if the amphora was legitimately rebuilt.",
        ) from None
    except asyncssh.PermissionDenied:
        raise SSHFailure("error", f"SSH key refused by {where} for user {username!r}") from None
    except asyncssh.DisconnectError as exc:
        reason = f"SSH to {where} disconnected: {exc.reason}"
        raise SSHFailure("unreachable", reason) from None
    except (asyncio.TimeoutError, TimeoutError):
        raise SSHFailure("unreachable", f"SSH to {where} timed out") from None
    except OSError as exc:
        reason = f"cannot connect to {where}: {exc.strerror or exc}"
        raise SSHFailure("unreachable", reason) from None

    async def session(amphora_id: str) -> CommandResult | SSHFailure:
        try:
            result = await conn.run(command, input=stdin, check=False)
        except (asyncssh.Error, OSError) as exc:
            return SSHFailure("error", f"SSH session on {where} failed: {exc}")
        return CommandResult(
            exit_status=result.exit_status,
            stdout=_text(result.stdout),
            stderr=_text(result.stderr),
        )

    async with conn:
        if known is None:
            server_key = conn.get_server_host_key()
            if server_key is not None:
                async with record_lock:
                    for amphora_id in amphora_ids:
                        host_keys.record(amphora_id, server_key)
        results = list(await asyncio.gather(*(session(a) for a in amphora_ids)))
    return results


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def load_client_key(path: Path) -> asyncssh.SSHKey:
    """Read the private key; errors name the file and the way out, never its content."""
    import asyncssh

    path = Path(path)
    remedy = (
        "remove it to have the charm make a new key pair; amphorae built with the old public "
        "key then refuse the new one until they are rebuilt (amp-ssh-key-name)"
    )
    try:
        return asyncssh.read_private_key(path)
    except FileNotFoundError:
        raise SSHFailure("error", f"SSH private key {path} does not exist") from None
    except OSError as exc:  # unreadable (permissions), a directory, an I/O error
        reason = f"SSH private key {path} cannot be read ({exc.strerror or type(exc).__name__})"
        raise SSHFailure("error", reason) from None
    except (asyncssh.KeyImportError, ValueError):
        empty = path.stat().st_size == 0
        what = "is empty" if empty else "cannot be read as an unencrypted private key"
        raise SSHFailure("error", f"SSH private key {path} {what}; {remedy}") from None
