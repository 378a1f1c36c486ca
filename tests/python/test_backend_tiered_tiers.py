"""TieredBackend's two tiers: what goes into this worker's L1, for how long, and
in which namespace; its own invalidations; its counters."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from fastapi_caching_route import MemoryBackend, RedisBackend, StoredResponse, TieredBackend

pytestmark = pytest.mark.anyio


async def _listening(backend: TieredBackend) -> None:
    # L1 is used fully only while subscribed to invalidations.
    await backend.get("warm-up")
    for _ in range(500):
        if backend.listening:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the invalidation listener did not subscribe")


def _entry(*, lifetime: float = 0.0, age: float = 0.0) -> StoredResponse:
    return StoredResponse(
        200,
        ((b"content-type", b"text/plain"),),
        b"tier",
        "text/plain",
        stored_at=time.time() - age,
        lifetime=lifetime,
    )


async def test_an_l1_fill_lives_no_longer_than_the_entry_has_left(redis_url: str) -> None:
    writer = RedisBackend.from_url(redis_url)
    backend = TieredBackend(RedisBackend.from_url(redis_url), l1_ttl=60)
    try:
        await _listening(backend)
        # 0.5 s of lifetime, 0.3 s of it gone: L1 may keep it 0.2 s, not l1_ttl.
        await writer.set("GET /short", _entry(lifetime=0.5, age=0.3))
        await writer.set("GET /long", _entry(lifetime=0.0))  # no lifetime: l1_ttl
        await writer.set("GET /fresh", _entry(lifetime=60, age=1))  # 59 s left
        assert await backend.get("GET /short") is not None
        assert await backend.get("GET /long") is not None
        assert await backend.get("GET /fresh") is not None
        assert backend.stats()["l1_fills"] == 3
        await asyncio.sleep(0.4)
        assert backend.l1.get_nowait("GET /short") is None
        assert backend.l1.get_nowait("GET /long") is not None
        assert backend.l1.get_nowait("GET /fresh") is not None
    finally:
        await writer.close()
        await backend.close()


async def test_set_keeps_l1_within_the_ttl_and_redis_for_the_ttl(redis_url: str) -> None:
    backend = TieredBackend(RedisBackend.from_url(redis_url), l1_ttl=60)
    try:
        await _listening(backend)
        assert await backend.set("GET /t", _entry(), namespace="n", ttl=0.2)
        assert backend.l1.get_nowait("GET /t", "n") is not None
        assert backend.l1.get_nowait("GET /t") is None  # its own namespace only
        expiry = await backend.l2.client.pttl(backend.l2.redis_key("GET /t", "n"))
        assert 0 < expiry <= 200
        await asyncio.sleep(0.3)
        assert backend.get_nowait("GET /t", "n") is None
    finally:
        await backend.close()


async def test_delete_and_clear_act_on_this_workers_tiers_in_their_namespace(
    redis_url: str,
) -> None:
    backend = TieredBackend(RedisBackend.from_url(redis_url))
    other = RedisBackend.from_url(redis_url)
    try:
        await _listening(backend)
        for namespace in ("n", None):
            await backend.set("GET /d", _entry(), namespace=namespace)
        assert await backend.delete("GET /d", "n") == 1
        assert backend.get_nowait("GET /d", "n") is None
        assert await other.get("GET /d", "n") is None
        assert backend.get_nowait("GET /d") is not None
        await backend.set("GET /c", _entry(), namespace="n")
        assert await backend.clear("n") == 1
        assert backend.get_nowait("GET /c", "n") is None
        assert await other.get("GET /c", "n") is None
        assert backend.get_nowait("GET /d") is not None
        assert await other.get("GET /d") is not None
        assert backend.stats()["invalidations_received"] == 0  # its own messages
    finally:
        await other.close()
        await backend.close()


async def test_stats_hold_l1_counters_l2_counters_and_its_own(redis_url: str) -> None:
    backend = TieredBackend(RedisBackend.from_url(redis_url))
    try:
        stats = backend.stats()
        assert {"rejected_values", "skipped_breaker_open"} <= stats["l2"].keys()
        assert {"hits", "entries", "l1_fills", "invalidations_received"} <= stats.keys()
    finally:
        await backend.close()


async def test_failures_of_both_tiers_are_reported_and_counted() -> None:
    down = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    backend = TieredBackend(RedisBackend(down), l1=MemoryBackend(max_bytes=1))
    try:
        assert await backend.set("GET /x", _entry()) is False  # neither tier kept it
        assert await backend.set("GET /y", _entry()) is False
        assert backend.stats()["l2_store_errors"] == 2
    finally:
        await backend.close()


async def test_l1_lookups_pick_the_variant_of_the_request(redis_url: str) -> None:
    backend = TieredBackend(RedisBackend.from_url(redis_url))
    try:
        await _listening(backend)  # subscribing drops L1: not in the middle of the test
        for language in ("en", "de"):
            variant = StoredResponse(
                200,
                ((b"content-type", b"text/plain"),),
                language.encode(),
                "text/plain",
                stored_at=time.time(),
                lifetime=60,
                vary=("accept-language",),
                secondary=f"accept-language={language}",
            )
            assert await backend.set("GET /v", variant, ttl=60)
        for language in ("de", "en"):
            found = backend.get_nowait("GET /v", headers=[(b"accept-language", language.encode())])
            assert found is not None and found.body == language.encode()
        assert backend.get_nowait("GET /v", headers=[(b"accept-language", b"fr")]) is None
        # get() answers from L1 too: a variant only there (not in Redis) is found.
        await backend.l2.delete("GET /v")
        found = await backend.get("GET /v", headers=[(b"accept-language", b"de")])
        assert found is not None and found.body == b"de"
    finally:
        await backend.close()
