"""CircuitBreaker (backends/redis.py): closed, open, half-open.

A success can be recorded while the breaker is open -- deletes and clears do
not ask ``allows()``, and calls already in flight when it opened can still
succeed -- so half-opening must not trust the failure count it finds: one
failed try after the cooldown opens the breaker again at once.
"""

from __future__ import annotations

import pytest

from fastapi_caching_route import CircuitBreaker
from fastapi_caching_route.backends import redis as redis_backend


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(redis_backend.time, "monotonic", fake.monotonic)
    return fake


def test_a_success_while_open_does_not_keep_the_half_open_breaker_closed(clock: Clock) -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=5.0)
    for _ in range(3):
        breaker.failed()
    assert not breaker.allows()
    breaker.succeeded()  # e.g. a delete, which does not ask allows()
    assert not breaker.allows()  # still open: only the cooldown closes it
    clock.now += 5.0
    assert breaker.allows()  # half-open: one try
    breaker.failed()
    assert not breaker.allows()  # that try failed: open again, not 1 failure of 3


def test_it_opens_after_threshold_consecutive_failures(clock: Clock) -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=5.0)
    breaker.failed()
    breaker.failed()
    breaker.succeeded()  # a success resets the count
    breaker.failed()
    breaker.failed()
    assert breaker.allows()
    breaker.failed()
    assert not breaker.allows()


def test_it_stays_open_for_the_whole_cooldown(clock: Clock) -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=5.0)
    breaker.failed()  # at 1000.0
    clock.now = 1004.999
    assert not breaker.allows()
    clock.now = 1005.0
    assert breaker.allows()


def test_a_successful_try_after_the_cooldown_closes_it(clock: Clock) -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=5.0)
    for _ in range(3):
        breaker.failed()
    clock.now += 5.0
    assert breaker.allows()
    breaker.succeeded()
    breaker.failed()
    breaker.failed()
    assert breaker.allows()  # closed again: it takes threshold failures to open
    breaker.failed()
    assert not breaker.allows()
