"""One program on many amphorae over SSH: concurrently, with a bound and a deadline each.

Amphorae reached through one endpoint (one SSH server, as the lab maps them) with one recorded
host key share a connection, a session each. A failing amphora never stops the others: its
result says why (``unreachable`` or ``error``); the job's handler judges the others' output.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shlex
import time
from collections.abc import Callable, Iterable
from typing import Any

from charmed_octavia.amphora import ssh
from charmed_octavia.amphora.discovery import Amphora
from charmed_octavia.amphora.results import AmphoraResult

# Below OpenSSH's default MaxSessions of 10.
SESSIONS_PER_CONNECTION = 8

Handler = Callable[[AmphoraResult, ssh.CommandResult], None]


@dataclasses.dataclass(frozen=True)
class Job:
    """A program to run on every amphora: the script (``sh -s`` input), its arguments, the
    deadline per amphora and the handler that fills each result from the program's output."""

    script: str
    args: list[str]
    timeout: float
    handle: Handler


@dataclasses.dataclass
class _Shared:
    """What every connection of one fan-out shares."""

    settings: ssh.SSHSettings
    client_key: Any
    host_keys: ssh.HostKeyStore
    record_lock: asyncio.Lock
    slots: asyncio.Semaphore
    # Taken while a group acquires all of its slots at once, so that groups cannot deadlock.
    acquiring: asyncio.Lock


def remote_command(settings: ssh.SSHSettings, script_args: list[str]) -> str:
    command = shlex.join(["sh", "-s", "--", *script_args])
    # A real amphora logs in as an unprivileged user with passwordless sudo.
    return command if settings.username == "root" else f"sudo -n {command}"


async def _group(amps: list[Amphora], shared: _Shared, job: Job) -> list[AmphoraResult]:
    """Run the job on amphorae of one endpoint and one recorded host key, one connection."""
    first = amps[0]
    assert first.lb_network_ip is not None
    host, port = shared.settings.endpoint(first.lb_network_ip)
    results = [
        AmphoraResult(amp.id, amp.loadbalancer_id, ssh.format_endpoint(host, port), "error", "")
        for amp in amps
    ]
    async with shared.acquiring:
        for _ in amps:
            await shared.slots.acquire()
    started = time.monotonic()
    try:
        outputs = await asyncio.wait_for(
            ssh.run_commands(
                amphora_ids=[amp.id for amp in amps],
                host=host,
                port=port,
                username=shared.settings.username,
                client_key=shared.client_key,
                host_keys=shared.host_keys,
                record_lock=shared.record_lock,
                command=remote_command(shared.settings, job.args),
                stdin=job.script,
                connect_timeout=job.timeout,
            ),
            job.timeout,
        )
    except ssh.SSHFailure as exc:
        for result in results:
            result.verdict, result.reason = exc.kind, exc.reason
    except (asyncio.TimeoutError, TimeoutError):
        for result in results:
            result.verdict = "unreachable"
            result.reason = f"no answer from {result.address} within {job.timeout:g} s"
    except Exception as exc:  # one amphora's failure must not stop the others
        for result in results:
            result.verdict, result.reason = "error", f"{type(exc).__name__}: {exc}"
    else:
        for result, output in zip(results, outputs, strict=True):
            if isinstance(output, ssh.SSHFailure):
                result.verdict, result.reason = output.kind, output.reason
            else:
                job.handle(result, output)
    finally:
        for _ in amps:
            shared.slots.release()
    for result in results:
        result.seconds = time.monotonic() - started
    return results


def _groups(
    amps: list[Amphora], settings: ssh.SSHSettings, store: ssh.HostKeyStore, size: int
) -> list[list[int]]:
    """Indexes into ``amps``: by endpoint and recorded host key, at most ``size`` each."""
    by_key: dict[tuple[str, int, str], list[int]] = {}
    for index, amp in enumerate(amps):
        assert amp.lb_network_ip is not None
        host, port = settings.endpoint(amp.lb_network_ip)
        known = store.get(amp.id)
        recorded = known.export_public_key("openssh").decode() if known is not None else ""
        by_key.setdefault((host, port, recorded), []).append(index)
    return [
        members[i : i + size] for members in by_key.values() for i in range(0, len(members), size)
    ]


def run_all(
    amphorae: Iterable[Amphora], settings: ssh.SSHSettings, job: Job, concurrency: int
) -> list[AmphoraResult]:
    """The job's result for every amphora, in the order given."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if job.timeout <= 0:
        raise ValueError("timeout must be positive")
    amps = list(amphorae)
    client_key = ssh.load_client_key(settings.private_key_path)
    store = ssh.HostKeyStore(settings.known_hosts_path)
    results: dict[int, AmphoraResult] = {}
    reachable: list[Amphora] = []
    positions: list[int] = []
    for index, amp in enumerate(amps):
        if amp.lb_network_ip:
            reachable.append(amp)
            positions.append(index)
        else:
            results[index] = AmphoraResult(
                amp.id, amp.loadbalancer_id, None, "unreachable", "amphora has no lb_network_ip"
            )
    groups = _groups(reachable, settings, store, min(SESSIONS_PER_CONNECTION, concurrency))

    async def main() -> list[list[AmphoraResult]]:
        shared = _Shared(
            settings=settings,
            client_key=client_key,
            host_keys=store,
            record_lock=asyncio.Lock(),
            slots=asyncio.Semaphore(concurrency),
            acquiring=asyncio.Lock(),
        )
        return list(
            await asyncio.gather(
                *(_group([reachable[i] for i in group], shared, job) for group in groups)
            )
        )

    for group, got in zip(groups, asyncio.run(main()), strict=True):
        for index, result in zip(group, got, strict=True):
            results[positions[index]] = result
    return [results[i] for i in range(len(amps))]


def load_script(name: str) -> str:
    """A program of ``scripts/`` (package data), as the text sent to ``sh -s``."""
    from importlib import resources

    # One name per joinpath: Python 3.10's Traversable takes no more.
    return (
        resources.files("charmed_octavia.amphora").joinpath("scripts").joinpath(name).read_text()
    )
