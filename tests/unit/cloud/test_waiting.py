"""Waiting with backoff, a deadline and fail-fast on ERROR, on a fake clock."""

from __future__ import annotations

import pytest
from charmed_octavia.cloud.waiting import Backoff, ResourceFailed, WaitTimeout, wait_for, wait_gone


class FakeClock:
    """A fake clock: sleeping advances time instantly, so waits are tested without delay.

    A fake because real time would make these tests slow and their timing flaky.
    """

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _sequence(states):
    it = iter(states)
    return lambda: next(it)


def test_waits_with_growing_intervals_until_done():
    # Arrange
    clock = FakeClock()
    fetch = _sequence(["PENDING_CREATE"] * 5 + ["ACTIVE"])

    # Act
    result = wait_for(
        "lb",
        fetch,
        state=str,
        done=lambda s: s == "ACTIVE",
        fault=lambda s: None,
        timeout=60,
        clock=clock,
        backoff=Backoff(initial=0.5, factor=2, maximum=3),
    )

    # Assert
    assert result == "ACTIVE"
    assert clock.sleeps == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_error_state_fails_fast_with_the_fault():
    # Arrange
    clock = FakeClock()
    fetch = _sequence(["PENDING_CREATE", "ERROR"])

    # Act
    with pytest.raises(ResourceFailed) as caught:
        wait_for(
            "load balancer x",
            fetch,
            state=str,
            done=lambda s: s == "ACTIVE",
            fault=lambda s: "provisioning ERROR: no valid host" if s == "ERROR" else None,
            timeout=600,
            clock=clock,
        )

    # Assert: one sleep, not the whole timeout.
    assert len(clock.sleeps) == 1
    assert "no valid host" in str(caught.value)
    assert caught.value.what == "load balancer x"


def test_timeout_names_the_last_state_and_does_not_overrun():
    # Arrange
    clock = FakeClock()
    start = clock.now

    # Act
    with pytest.raises(WaitTimeout) as caught:
        wait_for(
            "pool p",
            lambda: "PENDING_UPDATE",
            state=lambda s: f"provisioning {s}",
            done=lambda s: False,
            fault=lambda s: None,
            timeout=10,
            clock=clock,
        )

    # Assert
    assert caught.value.last == "provisioning PENDING_UPDATE"
    assert clock.now - start == pytest.approx(10)


def test_timeout_says_who_did_not_act_when_stuck_knows():
    # Arrange
    clock = FakeClock()

    # Act
    with pytest.raises(WaitTimeout) as caught:
        wait_for(
            "load balancer x",
            lambda: "PENDING_CREATE",
            state=lambda s: f"provisioning {s}",
            done=lambda s: False,
            fault=lambda s: None,
            timeout=5,
            clock=clock,
            stuck=lambda s: f"the worker did not process it (still {s})",
        )

    # Assert
    assert str(caught.value) == (
        "load balancer x did not settle within 5 s: the worker did not process it "
        "(still PENDING_CREATE)"
    )
    assert caught.value.why == "the worker did not process it (still PENDING_CREATE)"
    assert caught.value.last == "provisioning PENDING_CREATE"


def test_wait_gone_timeout_says_who_did_not_act():
    # Arrange
    clock = FakeClock()

    # Act
    with pytest.raises(WaitTimeout) as caught:
        wait_gone(
            "lb",
            lambda: "PENDING_DELETE",
            state=str,
            fault=lambda s: None,
            timeout=3,
            clock=clock,
            stuck=lambda s: f"nobody deleted it (still {s})",
        )

    # Assert
    assert (
        str(caught.value)
        == "lb did not settle within 3 s: nobody deleted it (still PENDING_DELETE)"
    )


def test_wait_gone_returns_when_fetch_says_none():
    # Arrange
    clock = FakeClock()
    fetch = _sequence(["PENDING_DELETE", "PENDING_DELETE", None])

    # Act
    wait_gone("lb", fetch, state=str, fault=lambda s: None, timeout=30, clock=clock)

    # Assert
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize("kwargs", [{"initial": 0}, {"factor": 0.5}, {"initial": 2, "maximum": 1}])
def test_invalid_backoff_is_refused(kwargs):
    with pytest.raises(ValueError, match="invalid backoff"):
        Backoff(**kwargs)


def test_non_positive_timeout_is_refused():
    with pytest.raises(ValueError, match="timeout"):
        wait_for("x", lambda: 1, state=str, done=bool, fault=lambda s: None, timeout=0)
