"""TieredBackend: invalidations Redis did not take, and messages from other workers.

While an invalidation is pending (applied to this worker's L1, not yet taken
by Redis), reads of what it covers are not answered from Redis, and reads of
anything else are. A later invalidation that Redis takes settles exactly the
pending ones it covers. Messages on the channel are applied as older workers
send them too, and malformed ones are ignored.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from fastapi_caching_route import (
    CircuitBreaker,
    RedisBackend,
    StoredResponse,
    TieredBackend,
    _core,
)

pytestmark = pytest.mark.anyio

CHANNEL = "fcr:test-pending"
DEADLINE = 30.0  # seconds a condition may take to come true on a busy machine


def entry(*tags: str, body: bytes = b"x") -> StoredResponse:
    return StoredResponse(
        200,
        ((b"content-type", b"text/plain"),),
        body,
        "text/plain",
        stored_at=time.time(),
        lifetime=600.0,
        stale_while_revalidate=600.0,
        tags=tags,
    )


def reuse(found: StoredResponse | None) -> str:
    assert found is not None
    return str(_core.decide_reuse(found.timing, time.time(), True)[0])


async def _eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


class Outage:
    """Makes this worker's Redis refuse what an invalidation sends (the delete
    and tag scripts, UNLINK, PUBLISH) while on; reads still work, so what Redis
    holds can be seen."""

    def __init__(self, client: Any) -> None:
        self.on = False
        for name in ("evalsha", "unlink", "publish"):
            real = getattr(client, name)
            setattr(client, name, self._guard(real))

    def _guard(self, real: Callable[..., Any]) -> Callable[..., Any]:
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            if self.on:
                raise RedisConnectionError("Redis is down")
            return await real(*args, **kwargs)

        return guarded


@pytest.fixture
async def worker(
    redis_url: str,
) -> AsyncIterator[tuple[TieredBackend, RedisBackend, Outage]]:
    """A subscribed worker that never retries on its own (the tests decide when
    Redis takes invalidations), its Outage switch, and a writer to Redis."""
    # A breaker that stays closed: reads keep going to Redis during the outage.
    shared = RedisBackend(
        aioredis.Redis.from_url(redis_url), breaker=CircuitBreaker(threshold=1000)
    )
    backend = TieredBackend(shared, channel=CHANNEL)
    backend._retry_delay = 3600.0
    writer = RedisBackend.from_url(redis_url)
    outage = Outage(shared.client)
    await backend.get("warm-up")
    assert await _eventually(lambda: backend.listening)
    try:
        yield backend, writer, outage
    finally:
        outage.on = False
        await writer.close()
        await backend.close()


async def test_a_pending_invalidation_holds_back_only_what_it_covers(
    worker: tuple[TieredBackend, RedisBackend, Outage],
) -> None:
    backend, writer, outage = worker
    for key, namespace, tags in (
        ("GET /a", None, ()),
        ("GET /b", None, ()),
        ("GET /a", "n", ()),
        ("GET /t", None, ("t",)),
        ("GET /u", None, ("u",)),
    ):
        assert await writer.set(key, entry(*tags), namespace=namespace, ttl=600)

    outage.on = True
    await backend.delete("GET /a")
    assert backend.stats()["invalidations_pending"] == 1
    assert await writer.get("GET /a") is not None  # Redis still has it ...
    assert await backend.get("GET /a") is None  # ... this worker does not read it
    assert await backend.get("GET /b") is not None  # another key
    assert await backend.get("GET /a", namespace="n") is not None  # another namespace
    assert await backend.get("GET /u") is not None  # an entry with tags

    await backend.invalidate_tags(["t"])
    assert await backend.get("GET /t") is None  # carries the pending tag
    assert await backend.get("GET /u") is not None

    await backend.clear("n")
    assert await writer.get("GET /a", namespace="n") is not None
    assert await backend.get("GET /a", namespace="n") is None  # its namespace is pending
    assert await backend.get("GET /b") is not None
    assert backend.stats()["invalidations_pending"] == 3


async def test_an_invalidation_redis_takes_settles_only_the_pending_ones_it_covers(
    worker: tuple[TieredBackend, RedisBackend, Outage],
) -> None:
    backend, writer, outage = worker

    def pending() -> int:
        return int(backend.stats()["invalidations_pending"])

    outage.on = True
    await backend.delete("GET /a")
    outage.on = False
    await backend.delete("GET /b")  # another key: /a stays pending
    assert pending() == 1

    assert await writer.set("GET /m", entry(), namespace="m", ttl=600)
    outage.on = True
    await backend.delete("GET /m", namespace="m")
    outage.on = False
    assert pending() == 2
    await backend.clear()  # the root namespace: settles /a, not m's /m
    assert pending() == 1
    assert await backend.get("GET /m", namespace="m") is None  # still held back

    outage.on = True
    await backend.invalidate_tags(["t"], soft=True)
    outage.on = False
    assert pending() == 2
    await backend.invalidate_tags(["t"])  # hard covers soft
    assert pending() == 1
    await backend.clear("m")
    assert pending() == 0


async def _publish(redis_url: str, *messages: dict[str, Any] | str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        for message in messages:
            data = message if isinstance(message, str) else json.dumps(message)
            await client.publish(CHANNEL, data)
    finally:
        await client.aclose()


async def test_messages_of_other_workers_are_applied_as_they_come(
    worker: tuple[TieredBackend, RedisBackend, Outage], redis_url: str
) -> None:
    # As an older worker sends them: no origin, the root namespace as null, no "soft".
    backend = worker[0]
    for key, tags in (("GET /k", ()), ("GET /hard", ("h",)), ("GET /n", ())):
        backend.l1.set_nowait(key, entry(*tags), ttl=600)
    backend.l1.set_nowait("GET /n", entry(), namespace="n", ttl=600)
    await _publish(
        redis_url,
        {"namespace": None, "key": "GET /k"},
        {"namespace": None, "tags": ["h"]},
        {"namespace": "n", "key": "*"},
    )
    assert await _eventually(lambda: backend.stats()["invalidations_received"] == 3)
    assert backend.l1.get_nowait("GET /k") is None
    assert backend.l1.get_nowait("GET /hard") is None  # hard: removed, not softened
    assert backend.l1.get_nowait("GET /n", "n") is None  # a clear of its namespace
    assert backend.l1.get_nowait("GET /n") is not None


async def test_malformed_messages_are_ignored(
    worker: tuple[TieredBackend, RedisBackend, Outage], redis_url: str
) -> None:
    backend = worker[0]
    backend.l1.set_nowait("GET /t", entry("t"), ttl=600)
    backend.l1.set_nowait("GET /k", entry(), ttl=600)
    await _publish(
        redis_url,
        {"namespace": None, "tags": ["t"], "soft": "yes"},
        {"namespace": None, "tags": "t"},
        {"namespace": 7, "key": "GET /k"},
        {"namespace": None, "key": 7},
        {"namespace": None},
        "not json",
        {"namespace": None, "key": "GET /last"},  # a valid one, applied after the others
    )
    assert await _eventually(lambda: backend.stats()["invalidations_received"] == 1)
    assert reuse(backend.l1.get_nowait("GET /t")) == "fresh"
    assert backend.l1.get_nowait("GET /k") is not None


async def test_deferred_invalidations_are_counted_merged_and_bounded(
    worker: tuple[TieredBackend, RedisBackend, Outage], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fastapi_caching_route")
    backend, writer, outage = worker

    def pending() -> int:
        return int(backend.stats()["invalidations_pending"])

    outage.on = True
    await backend.delete("GET /a")
    await backend.delete("GET /b")
    await backend.delete("GET /c", namespace="m")
    assert (pending(), backend.stats()["invalidations_deferred"]) == (3, 3)
    await backend.clear()  # covers what is pending in its namespace, not in m
    assert pending() == 2
    await backend.delete("GET /a")
    assert pending() == 3

    # Bounded: beyond the limit, what is pending becomes clears of its namespaces.
    backend._retry_limit = 4
    await backend.delete("GET /d", namespace="m")
    assert pending() == 4  # at the limit, not beyond
    assert [r for r in caplog.records if "waiting for Redis" in r.getMessage()] == []
    assert await writer.set("GET /other", entry(), namespace="m", ttl=600)
    await backend.delete("GET /e", namespace="p")
    assert pending() == 3  # the root namespace, m and p
    assert backend.stats()["invalidations_deferred"] == 7
    assert await writer.get("GET /other", namespace="m") is not None
    assert await backend.get("GET /other", namespace="m") is None  # m is cleared when sent
    [warning] = [r for r in caplog.records if "waiting for Redis" in r.getMessage()]
    assert warning.getMessage() == (
        "more than 4 cache invalidations are waiting for Redis: "
        "their namespaces will be cleared instead"
    )
    deferred = (
        "the shared tier did not take a cache invalidation: applied to this worker's L1, "
        "sent again in the background"
    )
    assert [r.getMessage() for r in caplog.records if r.msg == deferred] == [deferred]


async def test_once_an_invalidation_is_done_the_key_is_read_from_redis_again(
    worker: tuple[TieredBackend, RedisBackend, Outage],
) -> None:
    backend, writer, _ = worker
    for round in range(2):
        assert await writer.set("GET /again", entry(body=b"%d" % round), ttl=600)
        found = await backend.get("GET /again")
        assert found is not None and found.body == b"%d" % round
        assert await backend.delete("GET /again") == 1
    # Two invalidations of one key at once: both end, and nothing stays in flight.
    assert await writer.set("GET /again", entry(), ttl=600)
    assert sorted(await asyncio.gather(*(backend.delete("GET /again") for _ in range(2)))) == [0, 1]
    assert await writer.set("GET /again", entry(body=b"back"), ttl=600)
    found = await backend.get("GET /again")
    assert found is not None and found.body == b"back"


async def test_a_cancelled_invalidation_stays_pending(
    worker: tuple[TieredBackend, RedisBackend, Outage],
) -> None:
    backend = worker[0]
    client: Any = backend.l2.client
    real_publish = client.publish
    publishing = asyncio.Event()

    async def hanging_publish(*args: Any) -> Any:
        publishing.set()
        await asyncio.Event().wait()  # Redis never answers

    client.publish = hanging_publish
    call = asyncio.ensure_future(backend.delete("GET /c"))
    await asyncio.wait_for(publishing.wait(), DEADLINE)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    client.publish = real_publish
    assert backend.stats()["invalidations_pending"] == 1  # sent again later


async def test_tag_invalidations_act_in_their_namespace_in_both_tiers(
    worker: tuple[TieredBackend, RedisBackend, Outage],
) -> None:
    backend, writer, _ = worker
    for namespace in ("n", None):
        assert await backend.set("GET /t", entry("t"), namespace=namespace, ttl=600)
    assert await backend.invalidate_tags(["t"], namespace="n") == 1
    assert backend.l1.get_nowait("GET /t", "n") is None
    assert await writer.get("GET /t", namespace="n") is None
    assert backend.l1.get_nowait("GET /t") is not None  # the root namespace: untouched
    assert await writer.get("GET /t") is not None


async def test_an_open_breaker_defers_invalidations_and_says_why(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fastapi_caching_route")
    shared = RedisBackend(aioredis.Redis.from_url(redis_url), breaker=CircuitBreaker(threshold=1))
    backend = TieredBackend(shared, channel=CHANNEL)
    backend._retry_delay = 3600.0
    try:
        shared.breaker.failed()  # open: Redis is not asked
        assert await backend.delete("GET /b") == 0
        assert backend.stats()["invalidations_pending"] == 1
        [warning] = [r for r in caplog.records if "did not take" in r.getMessage()]
        assert warning.exc_info is not None
        assert str(warning.exc_info[1]) == "the shared tier's circuit breaker is open"
    finally:
        await backend.close()


async def test_closing_sends_every_pending_invalidation_not_settled_meanwhile(
    worker: tuple[TieredBackend, RedisBackend, Outage], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fastapi_caching_route")
    backend, _, outage = worker
    outage.on = True
    for key in ("GET /a", "GET /b", "GET /c"):
        await backend.delete(key)
    outage.on = False
    assert backend.stats()["invalidations_pending"] == 3
    # close() sends what is pending; while it sends /a, /b is invalidated again
    # and settled by that call: close() skips it and still sends /c.
    client: Any = backend.l2.client
    real_publish = client.publish
    first = asyncio.Event()
    go_on = asyncio.Event()

    async def publish(*args: Any) -> Any:
        if not first.is_set():
            first.set()
            await go_on.wait()
        return await real_publish(*args)

    client.publish = publish
    closing = asyncio.ensure_future(backend.close())
    await asyncio.wait_for(first.wait(), DEADLINE)
    await backend.delete("GET /b")
    go_on.set()
    await closing
    assert backend.stats()["invalidations_pending"] == 0
    assert [r for r in caplog.records if "before closing" in r.getMessage()] == []
