"""TieredBackend: in-process L1 in front of Redis, invalidations across workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from conftest import Calls, caching_router, make_app, open_client

from fastapi_caching_route import (
    FastAPICache,
    MemoryBackend,
    RedisBackend,
    StoredResponse,
    TieredBackend,
)

pytestmark = pytest.mark.anyio

ENTRY = StoredResponse(200, ((b"content-type", b"text/plain"),), b"shared", "text/plain")


@pytest.fixture
async def workers(redis_url: str) -> AsyncIterator[tuple[TieredBackend, TieredBackend]]:
    """Two workers' backends on one Redis, both listening for invalidations."""
    first = TieredBackend(RedisBackend.from_url(redis_url))
    second = TieredBackend(RedisBackend.from_url(redis_url))
    await first.get("warm-up")  # starts the listeners
    await second.get("warm-up")
    await _both_subscribed(redis_url)
    yield first, second
    await first.close()
    await second.close()


async def _both_subscribed(redis_url: str) -> None:
    # Waits (bounded) until both listeners are subscribed, so no message is lost.
    client = aioredis.Redis.from_url(redis_url)
    try:
        for _ in range(200):
            counts = await client.pubsub_numsub("fcr:invalidations")
            if counts and counts[0][1] >= 2:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the invalidation listeners did not subscribe")
    finally:
        await client.aclose()


async def _eventually_gone(backend: TieredBackend, key: str) -> bool:
    for _ in range(200):
        if backend.l1.get_nowait(key) is None:
            return True
        await asyncio.sleep(0.01)
    return False


async def test_a_worker_finds_what_another_stored_and_keeps_it_in_l1(
    workers: tuple[TieredBackend, TieredBackend],
) -> None:
    first, second = workers
    assert await first.set("GET /s", ENTRY, ttl=60)
    assert second.l1.get_nowait("GET /s") is None
    found = await second.get("GET /s")
    assert found is not None and found.body == b"shared"
    assert second.l1.get_nowait("GET /s") is not None
    assert second.stats()["l1_fills"] == 1


async def test_invalidations_reach_every_worker(
    workers: tuple[TieredBackend, TieredBackend],
) -> None:
    first, second = workers
    await first.set("GET /d", ENTRY)
    await first.set("GET /c1", ENTRY, namespace="n")
    await second.get("GET /d")
    await second.get("GET /c1", namespace="n")
    assert await first.delete("GET /d") == 1
    assert await _eventually_gone(second, "GET /d")
    assert await first.clear("n") == 1
    for _ in range(200):
        if second.l1.get_nowait("GET /c1", "n") is None:
            break
        await asyncio.sleep(0.01)
    assert second.l1.get_nowait("GET /c1", "n") is None
    assert second.stats()["invalidations_received"] == 2


async def test_the_shared_tier_failing_leaves_l1_serving() -> None:
    down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    backend = TieredBackend(RedisBackend(down))
    assert await backend.set("GET /l", ENTRY)
    assert (await backend.get("GET /l")) is not None
    assert backend.stats()["l2_store_errors"] == 1
    await backend.close()


async def test_an_app_on_the_tiered_backend(redis_url: str) -> None:
    backend = TieredBackend(RedisBackend.from_url(redis_url))
    cache = FastAPICache(backend)
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/t")
    def endpoint() -> str:
        calls()
        return "t"

    async with open_client(make_app(router)) as client:
        statuses = [(await client.get("/t")).headers["x-cache"] for _ in range(4)]
    assert statuses == ["MISS", "HIT", "HIT", "HIT"]
    assert calls.count == 1
    raw = await backend.l2.client.get(backend.l2.redis_key("GET /t"))
    assert raw is not None  # the shared tier has it for other workers
    await backend.close()


def test_tiered_needs_a_redis_backend() -> None:
    with pytest.raises(TypeError, match="l2"):
        TieredBackend(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="l1_ttl"):
        TieredBackend(RedisBackend(aioredis.Redis()), l1_ttl=0)


async def test_entries_too_large_for_l1_are_served_from_redis(redis_url: str) -> None:
    # Found by the shared-store benchmark: an L1 miss must still ask Redis.
    backend = TieredBackend(RedisBackend.from_url(redis_url), l1=MemoryBackend(max_bytes=1))
    cache = FastAPICache(backend)
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/big")
    def endpoint() -> str:
        calls()
        return "stored only in Redis"

    async with open_client(make_app(router)) as client:
        statuses = [(await client.get("/big")).headers.get("x-cache") for _ in range(4)]
    assert statuses == ["MISS", "HIT", "HIT", "HIT"]
    assert calls.count == 1
    await backend.close()


async def test_close_stops_a_listener_caught_while_connecting(redis_url: str) -> None:
    # redis-py can swallow a cancellation that lands during its connection
    # handshake; close() must still end (a single cancel() hung here).
    for steps in range(0, 30, 3):
        backend = TieredBackend(RedisBackend.from_url(redis_url))
        await backend.get("warm-up")  # starts the listener
        for _ in range(steps):
            await asyncio.sleep(0)
        await asyncio.wait_for(backend.close(), timeout=30)
        assert backend.get_nowait("warm-up") is None
