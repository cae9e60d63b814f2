"""Polling a cloud resource until it settles: backoff, a deadline, fail fast on ERROR."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


class WaitTimeout(TimeoutError):
    """The resource did not settle before the deadline; ``why``, when known, says who did not
    act on it (it then tells the last state itself)."""

    def __init__(self, what: str, timeout: float, last: str, why: str | None = None) -> None:
        told = f": {why}" if why else f" (last seen: {last})"
        super().__init__(f"{what} did not settle within {timeout:g} s{told}")
        self.what = what
        self.last = last
        self.why = why


class ResourceFailed(RuntimeError):
    """The resource reached a failed state; ``fault`` says what the cloud reported."""

    def __init__(self, what: str, fault: str) -> None:
        super().__init__(f"{what} failed: {fault}")
        self.what = what
        self.fault = fault


@dataclasses.dataclass(frozen=True)
class Backoff:
    """Poll intervals: ``initial`` growing by ``factor`` up to ``maximum`` seconds.

    The first polls are short because the noop and the real Octavia both settle most
    changes within a second or two; long provisioning (a booting amphora) reaches
    ``maximum`` and stops hammering the API.
    """

    initial: float = 0.1
    factor: float = 1.6
    maximum: float = 5.0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.factor < 1 or self.maximum < self.initial:
            raise ValueError(f"invalid backoff {self}")

    def intervals(self):
        interval = self.initial
        while True:
            yield interval
            interval = min(self.maximum, interval * self.factor)


DEFAULT_BACKOFF = Backoff()


def wait_for(
    what: str,
    fetch: Callable[[], T],
    *,
    state: Callable[[T], str],
    done: Callable[[T], bool],
    fault: Callable[[T], str | None],
    timeout: float,
    clock: Clock = SYSTEM_CLOCK,
    backoff: Backoff = DEFAULT_BACKOFF,
    stuck: Callable[[T], str | None] | None = None,
) -> T:
    """Poll ``fetch`` until ``done``; raise ``ResourceFailed`` when ``fault`` returns a reason.

    ``fetch`` may raise: the error propagates (a vanished resource is the caller's to judge).
    The deadline is checked before each sleep so a wait never overruns it by a whole interval.
    At the deadline, ``stuck`` (of the last value) may say who did not act on the resource.
    """
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    deadline = clock.monotonic() + timeout
    intervals = backoff.intervals()
    while True:
        current = fetch()
        reason = fault(current)
        if reason is not None:
            raise ResourceFailed(what, reason)
        if done(current):
            return current
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            raise WaitTimeout(what, timeout, state(current), stuck(current) if stuck else None)
        clock.sleep(min(next(intervals), remaining))


def wait_gone(
    what: str,
    fetch: Callable[[], T | None],
    *,
    state: Callable[[T], str],
    fault: Callable[[T], str | None],
    timeout: float,
    clock: Clock = SYSTEM_CLOCK,
    backoff: Backoff = DEFAULT_BACKOFF,
    stuck: Callable[[T], str | None] | None = None,
) -> None:
    """Poll until ``fetch`` returns None (deleted); fail fast on a fault; ``stuck`` as for
    ``wait_for``."""

    def done(value: T | None) -> bool:
        return value is None

    def state_or_gone(value: T | None) -> str:
        return "deleted" if value is None else state(value)

    def fault_or_none(value: T | None) -> str | None:
        return None if value is None else fault(value)

    def stuck_or_none(value: T | None) -> str | None:
        return None if value is None or stuck is None else stuck(value)

    wait_for(
        what,
        fetch,
        state=state_or_gone,
        done=done,
        fault=fault_or_none,
        timeout=timeout,
        clock=clock,
        backoff=backoff,
        stuck=stuck_or_none,
    )
