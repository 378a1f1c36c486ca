"""TieredBackend's subscription and background work: the heartbeat that tells a
silent subscription from a quiet one, what a lost subscription does and says,
the retries of invalidations Redis did not take, and what close() leaves behind."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from fastapi_caching_route import RedisBackend, StoredResponse, TieredBackend

pytestmark = pytest.mark.anyio

DEADLINE = 30.0  # seconds a condition may take to come true on a busy machine
_ENTRY = StoredResponse(200, ((b"content-type", b"text/plain"),), b"own", "text/plain")
LOST = "the cache invalidation listener lost its subscription: L1 dropped until it is back"


async def _eventually(condition: Callable[[], bool]) -> bool:
    # Polls with a generous deadline (never a timing assertion).
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def _records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "fastapi_caching_route" and r.msg == message]


class _Pings:
    """Stands in for the listener's ping and never sends it, so nothing answers:
    records, for each ping, how many losses were counted before it and whether
    the listener was subscribed."""

    def __init__(self, backend: TieredBackend) -> None:
        self.backend = backend
        self.seen: list[tuple[int, bool]] = []
        self.subscriptions: list[Any] = []

    async def __call__(self, pubsub: Any) -> None:
        self.subscriptions.append(pubsub)
        self.seen.append((self.backend.stats()["listener_losses"], self.backend.listening))

    def while_subscribed(self, losses: int) -> int:
        return sum(1 for counted, listening in self.seen if counted == losses and listening)


async def test_two_unanswered_pings_lose_the_subscription_each_time(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fastapi_caching_route")
    backend = TieredBackend(RedisBackend.from_url(redis_url), channel="fcr:test-pings")
    pings = _Pings(backend)
    backend._ping = pings  # type: ignore[method-assign]
    backend._heartbeat = 0.05
    backend._reconnect_delay = 0.05
    try:
        await backend.get("warm-up")  # starts the listener
        assert await _eventually(lambda: backend.stats()["listener_losses"] >= 2)
    finally:
        await backend.close()
    # Subscribed, the listener pings after each silent heartbeat and gives the
    # subscription up at the third silence: two pings per loss, each loss counted once.
    assert (pings.while_subscribed(0), pings.while_subscribed(1)) == (2, 2)
    assert all(isinstance(pubsub, PubSub) for pubsub in pings.subscriptions)
    # One warning (the next ones within the interval are held back), without a traceback.
    [warning] = _records(caplog, LOST)
    assert warning.levelno == logging.WARNING and not warning.exc_info


class _SlowPubSub(PubSub):
    """A subscription whose first two reads find nothing, as on a slow network:
    the confirmation of the subscription arrives after two heartbeats."""

    silent_reads = 2

    async def get_message(self, *args: Any, **kwargs: Any) -> Any:
        if self.silent_reads:
            self.silent_reads -= 1
            await asyncio.sleep(0.01)
            return None
        return await super().get_message(*args, **kwargs)


async def test_a_slow_subscription_is_not_given_up_before_the_third_silence(
    redis_url: str,
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    client.pubsub = lambda **kwargs: _SlowPubSub(client.connection_pool, **kwargs)  # type: ignore[method-assign]
    backend = TieredBackend(RedisBackend(client), channel="fcr:test-slow")
    backend._heartbeat = 0.05
    backend._reconnect_delay = 0.05
    try:
        await backend.get("warm-up")
        # Two silent reads, each followed by a ping; then the confirmation.
        assert await _eventually(lambda: backend.listening)
        assert backend.stats()["listener_losses"] == 0
    finally:
        await backend.close()


async def test_a_lost_subscription_leaves_the_worker_not_listening(redis_url: str) -> None:
    backend = TieredBackend(RedisBackend.from_url(redis_url), channel="fcr:test-lost")
    backend._ping = _Pings(backend)  # type: ignore[method-assign]
    backend._heartbeat = 0.05
    backend._reconnect_delay = 60.0  # no new subscription during the test
    try:
        await backend.get("warm-up")
        assert await _eventually(lambda: backend.listening)
        assert await _eventually(lambda: backend.stats()["listener_losses"] == 1)
        assert backend.listening is False
        assert backend.stats()["listening"] is False
    finally:
        await backend.close()


async def test_stats_say_whether_the_worker_listens(redis_url: str) -> None:
    backend = TieredBackend(RedisBackend.from_url(redis_url))
    try:
        assert backend.stats()["listening"] is False
        await backend.get("warm-up")
        assert await _eventually(lambda: backend.stats()["listening"] is True)
    finally:
        await backend.close()


async def test_close_is_no_lost_subscription_and_leaves_no_task(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fastapi_caching_route")
    before = asyncio.all_tasks()
    backend = TieredBackend(RedisBackend.from_url(redis_url))
    await backend.get("warm-up")
    assert await _eventually(lambda: backend.listening)
    await backend.close()
    assert backend.stats()["listener_losses"] == 0
    assert backend.listening is False
    assert _records(caplog, LOST) == []
    assert asyncio.all_tasks() - before - {asyncio.current_task()} == set()


def _unreachable() -> RedisBackend:
    # No retries: each command to the closed port fails at once.
    return RedisBackend(
        aioredis.Redis(
            host="127.0.0.1",
            port=1,
            socket_connect_timeout=0.2,
            socket_timeout=0.2,
            retry=Retry(NoBackoff(), 0),
        )
    )


async def test_close_stops_the_retries_and_says_what_it_could_not_send(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="fastapi_caching_route")
    before = asyncio.all_tasks()
    backend = TieredBackend(_unreachable(), l1_ttl=30)
    backend._retry_delay = 60.0  # the retrier waits through the whole test
    await backend.delete("GET /a")
    await backend.delete("GET /b")
    assert backend.stats()["invalidations_pending"] == 2
    await backend.close()
    assert asyncio.all_tasks() - before - {asyncio.current_task()} == set()
    [warning] = [
        r
        for r in caplog.records
        if r.name == "fastapi_caching_route" and "before closing" in r.getMessage()
    ]
    assert warning.getMessage() == (
        "2 cache invalidation(s) could not be sent to Redis before closing: "
        "other workers may serve the invalidated entries for up to l1_ttl"
    )


async def test_invalidations_held_back_by_two_outages_are_each_sent_and_reported(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fastapi_caching_route")
    backend = TieredBackend(RedisBackend.from_url(redis_url))
    backend._retry_delay = 0.05
    client: Any = backend.l2.client
    real_publish = client.publish
    down = True

    async def publish(*args: Any) -> Any:
        if down:
            raise RedisConnectionError("Redis is down")
        return await real_publish(*args)

    client.publish = publish
    sent = "pending cache invalidations were sent to Redis"
    try:
        for outage, key in enumerate(("GET /first", "GET /second"), 1):
            down = True
            assert await backend.delete(key) == 0
            assert backend.stats()["invalidations_pending"] == 1
            down = False
            # The retrier sends it once Redis takes it, and says so once.
            assert await _eventually(lambda: backend.stats()["invalidations_pending"] == 0)
            assert await _eventually(lambda n=outage: len(_records(caplog, sent)) == n)
            assert backend.stats()["invalidations_resent"] == outage
    finally:
        await backend.close()


class _StubbornPubSub(PubSub):
    """A subscription that swallows the first cancellation while it connects,
    as redis-py can; the next one ends it."""

    async def subscribe(self, *args: Any, **kwargs: Any) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        await asyncio.Event().wait()


async def test_close_ends_a_listener_that_swallows_a_cancellation(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    client.pubsub = lambda **kwargs: _StubbornPubSub(client.connection_pool, **kwargs)  # type: ignore[method-assign]
    backend = TieredBackend(RedisBackend(client), channel="fcr:test-stubborn")
    await backend.get("warm-up")  # starts the listener, which hangs in subscribe
    await asyncio.sleep(0.05)
    await asyncio.wait_for(backend.close(), timeout=DEADLINE)


async def test_this_workers_responses_stay_in_l1_briefly_until_it_listens(
    redis_url: str,
) -> None:
    # Not subscribed, a worker may miss invalidations: its own responses stay in
    # L1 for _suspect_ttl at most; subscribed, for the ttl.
    listening = TieredBackend(RedisBackend.from_url(redis_url), channel="fcr:test-suspect")
    alone = TieredBackend(_unreachable())
    try:
        await listening.get("warm-up")
        assert await _eventually(lambda: listening.listening)
        for backend in (listening, alone):
            backend._suspect_ttl = 0.05
            await backend.set("GET /own", _ENTRY, ttl=60)
            assert backend.l1.get_nowait("GET /own") is not None
        await asyncio.sleep(0.3)
        assert listening.l1.get_nowait("GET /own") is not None
        assert alone.l1.get_nowait("GET /own") is None
    finally:
        await listening.close()
        await alone.close()


async def test_every_read_while_not_subscribed_is_withheld_from_l1_and_counted(
    redis_url: str,
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    client.pubsub = lambda **kwargs: _StubbornPubSub(client.connection_pool, **kwargs)  # type: ignore[method-assign]
    backend = TieredBackend(RedisBackend(client), channel="fcr:test-never")
    writer = RedisBackend.from_url(redis_url)
    try:
        for key in ("GET /one", "GET /two"):
            assert await writer.set(key, _ENTRY, ttl=60)
            assert await backend.get(key) is not None  # answered from Redis ...
            assert backend.l1.get_nowait(key) is None  # ... never kept: not subscribed
        stats = backend.stats()
        assert (stats["l1_fills"], stats["l1_fills_withheld"]) == (0, 2)
    finally:
        await writer.close()
        await backend.close()
