"""TieredBackend: an invalidation reaches other workers in its own namespace.

A delete or clear is applied to this worker's L1 and published; every other
worker applies it to the same namespace of its L1. Applied in another
namespace, it would leave the deleted entry served there for up to ``l1_ttl``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from conftest import Calls, caching_router, make_app, open_client
from fastapi.responses import PlainTextResponse
from redis.exceptions import ConnectionError as RedisConnectionError

from fastapi_caching_route import (
    FastAPICache,
    RedisBackend,
    StoredResponse,
    TieredBackend,
)

pytestmark = pytest.mark.anyio

CHANNEL = "fcr:invalidations"
ENTRY = StoredResponse(200, ((b"content-type", b"text/plain"),), b"tiered", "text/plain")


@pytest.fixture
async def workers(redis_url: str) -> AsyncIterator[tuple[TieredBackend, TieredBackend]]:
    """Two workers' backends on one Redis, both subscribed to the invalidations."""
    first = TieredBackend(RedisBackend.from_url(redis_url), channel=CHANNEL)
    second = TieredBackend(RedisBackend.from_url(redis_url), channel=CHANNEL)
    try:
        await first.get("warm-up")  # starts the listeners
        await second.get("warm-up")
        await _subscribed(redis_url, first, second)
        yield first, second
    finally:
        await first.close()
        await second.close()


async def _subscribed(redis_url: str, *backends: TieredBackend) -> None:
    """Until Redis counts the subscriptions and each backend knows it listens."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        for _ in range(500):
            counts = await client.pubsub_numsub(CHANNEL)
            subscribed = bool(counts) and counts[0][1] >= len(backends)
            if subscribed and all(backend.listening for backend in backends):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the invalidation listeners did not subscribe")
    finally:
        await client.aclose()


async def _received(backend: TieredBackend, count: int) -> None:
    for _ in range(500):
        if backend.stats()["invalidations_received"] >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} invalidation(s) were not received")


async def test_a_delete_in_a_namespace_reaches_that_namespace_of_other_workers(
    workers: tuple[TieredBackend, TieredBackend],
) -> None:
    first, second = workers
    assert await first.set("GET /n", ENTRY, namespace="n", ttl=60)
    found = await second.get("GET /n", namespace="n")  # now in the second worker's L1
    assert found is not None and found.body == b"tiered"
    assert second.l1.get_nowait("GET /n", "n") is not None
    # The same key in the root namespace of the second worker's L1, to be left alone.
    second.l1.set_nowait("GET /n", ENTRY, ttl=60)

    assert await first.delete("GET /n", namespace="n") == 1
    await _received(second, 1)
    assert second.l1.get_nowait("GET /n", "n") is None
    assert await second.get("GET /n", namespace="n") is None  # gone from Redis too
    assert second.l1.get_nowait("GET /n") is not None  # another namespace: untouched


async def test_a_clear_of_a_namespace_spares_other_namespaces_of_other_workers(
    workers: tuple[TieredBackend, TieredBackend],
) -> None:
    first, second = workers
    for namespace in ("n", "m"):
        await first.set("GET /c", ENTRY, namespace=namespace, ttl=60)
        assert await second.get("GET /c", namespace=namespace) is not None

    assert await first.clear("n") == 1
    await _received(second, 1)
    assert second.l1.get_nowait("GET /c", "n") is None
    assert second.l1.get_nowait("GET /c", "m") is not None


async def test_invalidate_cached_of_a_route_namespace_reaches_every_worker(
    redis_url: str,
) -> None:
    # The same through the public API: two workers serving one app's route.
    backends = [TieredBackend(RedisBackend.from_url(redis_url), channel=CHANNEL) for _ in "ab"]
    caches = [FastAPICache(backend) for backend in backends]
    calls = Calls()
    apps = []
    for cache in caches:
        router = caching_router()

        @cache(namespace="items", key_builder=lambda request: "items-key")
        @router.get("/items")
        def items() -> dict[str, int]:
            calls()
            return {"calls": calls.count}

        apps.append(make_app(router))
    try:
        for backend in backends:
            await backend.get("warm-up")  # starts its listener
        await _subscribed(redis_url, *backends)
        async with open_client(apps[0]) as one, open_client(apps[1]) as two:
            assert (await one.get("/items")).headers["x-cache"] == "MISS"
            assert (await two.get("/items")).headers["x-cache"] == "HIT"  # via Redis, into L1
            assert backends[1].l1.get_nowait("items-key", "items") is not None
            assert await caches[0].invalidate_cached("items-key", namespace="items") == 1
            await _received(backends[1], 1)
            after = await two.get("/items")
        assert after.headers["x-cache"] == "MISS"
        assert after.json() == {"calls": 2}
    finally:
        for backend in backends:
            await backend.close()


def _route_in(cache: FastAPICache, namespace: str | None, body: str) -> Any:
    router = caching_router()

    @cache(namespace=namespace)
    @router.get("/same")
    def same() -> PlainTextResponse:
        return PlainTextResponse(body)

    return make_app(router)


async def test_the_l1_hit_path_looks_in_the_routes_namespace(redis_url: str) -> None:
    # Two routes with the same key in different namespaces: each answers its own.
    backend = TieredBackend(RedisBackend.from_url(redis_url), channel=CHANNEL)
    cache = FastAPICache(backend)
    root, named = _route_in(cache, None, "root"), _route_in(cache, "n", "named")
    try:
        async with open_client(root) as one, open_client(named) as two:
            answers = []
            for client in (one, one, two, two):
                response = await client.get("/same")
                answers.append((response.text, response.headers["x-cache"]))
        assert answers == [("root", "MISS"), ("root", "HIT"), ("named", "MISS"), ("named", "HIT")]
    finally:
        await backend.close()


async def test_the_root_namespace_named_or_not_is_one_namespace(redis_url: str) -> None:
    # A delete in the root namespace called by its name holds back reads of the
    # key made without a name while Redis has not taken the delete.
    backend = TieredBackend(RedisBackend.from_url(redis_url, namespace="app"), channel=CHANNEL)
    writer = RedisBackend.from_url(redis_url, namespace="app")
    client: Any = backend.l2.client
    real_evalsha = client.evalsha

    async def evalsha(*args: Any, **kwargs: Any) -> Any:
        raise RedisConnectionError("Redis is down")

    try:
        await backend.get("warm-up")  # starts the listener: L1 fills once subscribed
        await _subscribed(redis_url, backend)
        assert await writer.set("GET /k", ENTRY, ttl=60)
        found = await backend.get("GET /k")
        assert found is not None and found.body == b"tiered"
        client.evalsha = evalsha  # the Redis delete (a script) fails
        assert await backend.delete("GET /k", namespace="app") == 1  # this worker's L1 copy
        client.evalsha = real_evalsha
        assert backend.stats()["invalidations_pending"] == 1
        assert await writer.get("GET /k") is not None  # Redis still has it ...
        assert await backend.get("GET /k") is None  # ... but this worker does not read it
        assert await backend.get("GET /k", namespace="app") is None
    finally:
        await writer.close()
        await backend.close()
