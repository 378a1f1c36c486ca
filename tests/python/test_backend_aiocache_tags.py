"""AiocacheBackend's tag index: what it records, how long it and the softened
entries live, namespaces, and values in the cache that are not responses.

Lifetimes are read as Redis PTTLs, on an aiocache RedisCache over the test
``redis-server`` (a SimpleMemoryCache does not tell them); its ttls are floats
(aiocache 0.12 stores an int one with redis-py's deprecated SETEX).
"""

from __future__ import annotations

import asyncio
import hashlib
import pickle
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from aiocache import RedisCache, SimpleMemoryCache
from aiocache.serializers import PickleSerializer

from fastapi_caching_route import AiocacheBackend, StoredResponse, _core
from fastapi_caching_route.backends import aiocache as adapter

pytestmark = pytest.mark.anyio

NOW = 1_700_000_000.0


def entry(
    *tags: str,
    body: bytes = b"x",
    lifetime: float = 60.0,
    swr: float = 3600.0,
    stored_at: float | None = None,
    vary: tuple[str, ...] = (),
    secondary: str = "",
) -> StoredResponse:
    return StoredResponse(
        200,
        ((b"content-type", b"text/plain"), (b"etag", b'"e"')),
        body,
        "text/plain",
        stored_at=time.time() if stored_at is None else stored_at,
        last_modified=1_600_000_000,
        lifetime=lifetime,
        unbounded=lifetime <= 0,
        stale_while_revalidate=swr,
        vary=vary,
        secondary=secondary,
        tags=tags,
    )


def reuse(found: StoredResponse | None) -> str:
    assert found is not None
    return _core.decide_reuse(found.timing, time.time(), True)[0]


class OnRedis:
    """An AiocacheBackend on an aiocache RedisCache, and a client reading its PTTLs."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.cache = RedisCache(
            endpoint=parts.hostname, port=parts.port, serializer=PickleSerializer()
        )
        self.backend = AiocacheBackend(self.cache)
        self.client = aioredis.Redis.from_url(url)

    async def pttl(self, key: str) -> int:
        return int(await self.client.pttl(self.cache.build_key(key)))

    async def close(self) -> None:
        # Not cache.close(): aiocache 0.12 calls redis-py's deprecated close().
        await self.cache.client.aclose()
        await self.client.aclose()


def expiring_within(ms: int) -> set[int]:
    """The PTTLs of a key that expires within ``ms`` (-2: it has expired already)."""
    return {-2, *range(ms + 1)}


@pytest.fixture
async def on_redis(redis_url: str) -> AsyncIterator[OnRedis]:
    made = OnRedis(redis_url)
    yield made
    await made.close()


async def test_soft_invalidation_never_keeps_an_entry_past_its_stored_ttl(
    on_redis: OnRedis,
) -> None:
    backend = on_redis.backend
    assert await backend.set("GET /one", entry("a"), ttl=60.0)
    assert await backend.set("GET /both", entry("a", "b"), ttl=60.0)  # in two indexes
    assert await backend.set("GET /twice", entry("a"), ttl=60.0)
    assert await backend.set("GET /twice", entry("a"), ttl=60.0)  # indexed again
    assert await backend.invalidate_tags(["a", "b"], soft=True) == 3
    for key in ("GET /one", "GET /both", "GET /twice"):
        assert reuse(await backend.get(key)) == "stale_while_revalidate"
        # Its stale window is an hour, but it was stored for a minute.
        assert 0 < await on_redis.pttl(key) <= 60_000, key


async def test_a_key_indexed_under_two_tags_is_softened_for_the_later_expiry(
    on_redis: OnRedis,
) -> None:
    backend = on_redis.backend
    # Each key was stored for a minute under both tags, then for 600 s under
    # one; the two keys hold the later expiry in opposite indexes, so the order
    # the tags are read in does not matter.
    assert await backend.set("GET /a-later", entry("a", "b"), ttl=60.0)
    assert await backend.set("GET /a-later", entry("a"), ttl=600.0)
    assert await backend.set("GET /b-later", entry("a", "b"), ttl=60.0)
    assert await backend.set("GET /b-later", entry("b"), ttl=600.0)
    assert await backend.invalidate_tags(["a", "b"], soft=True) == 2
    for key in ("GET /a-later", "GET /b-later"):
        assert reuse(await backend.get(key)) == "stale_while_revalidate"
        assert await on_redis.pttl(key) > 60_000, key  # not cut to the first store's minute


async def test_a_tag_index_expires_with_its_longest_lived_key(on_redis: OnRedis) -> None:
    backend = on_redis.backend
    assert await backend.set("GET /short", entry("t"), ttl=0.9)
    assert await on_redis.pttl("fcr:tag:t") in expiring_within(900)
    assert await backend.set("GET /long", entry("t"), ttl=60.0)
    assert 900 < await on_redis.pttl("fcr:tag:t") <= 60_000
    assert await backend.set("GET /kept", entry("t"))  # no ttl: nor has the index
    assert await on_redis.pttl("fcr:tag:t") == -1


async def test_a_soft_invalidation_keeps_an_entry_for_its_stale_window_only(
    on_redis: OnRedis,
) -> None:
    backend = on_redis.backend
    backend.keep_stale = 0.0
    assert await backend.set("GET /w", entry("t", swr=0.9), ttl=600.0)
    assert await backend.invalidate_tags(["t"], soft=True) == 1
    found = await backend.get("GET /w")
    assert found is None or reuse(found) != "fresh"  # (None: its window is over already)
    assert await on_redis.pttl("GET /w") in expiring_within(900)  # its stale window, not 600 s


async def test_an_entry_stale_already_is_left_as_it_is(on_redis: OnRedis) -> None:
    backend = on_redis.backend
    stale = entry("t", lifetime=60.0, swr=0.0, stored_at=time.time() - 120)
    assert await backend.set("GET /old", stale)  # kept without expiry
    assert await backend.invalidate_tags(["t"], soft=True) == 1  # counted
    assert await on_redis.pttl("GET /old") == -1  # not rewritten with keep_stale's ttl


async def test_invalidations_in_a_namespace_stay_in_it() -> None:
    backend = AiocacheBackend(SimpleMemoryCache())
    # The namespace's entries first: each reads and writes that namespace's index.
    assert await backend.set("GET /a", entry("t"), namespace="n", ttl=600)
    assert await backend.set("GET /b", entry("t"), namespace="n", ttl=600)
    assert await backend.set("GET /a", entry("t"), ttl=600)
    assert await backend.set("GET /r", entry("t"), ttl=600)
    assert await backend.invalidate_tags(["t"], namespace="n", soft=True) == 2
    for key in ("GET /a", "GET /b"):
        assert reuse(await backend.get(key, "n")) == "stale_while_revalidate"
    assert await backend.invalidate_tags(["t"], namespace="n") == 2
    assert await backend.get("GET /a", "n") is None
    for key in ("GET /a", "GET /r"):  # the root namespace's, untouched
        assert reuse(await backend.get(key)) == "fresh"
    assert await backend.invalidate_tags(["t"]) == 2  # its index was kept
    assert await backend.get("GET /r") is None


async def test_the_index_keeps_each_key_until_its_latest_possible_expiry() -> None:
    # An index is read, changed and written back: an entry written last may be
    # the one stored for longer, so a key's record never shrinks.
    cache = SimpleMemoryCache()
    backend = AiocacheBackend(cache)
    assert await backend.set("GET /shorter", entry("t"), ttl=600)
    assert await backend.set("GET /shorter", entry("t"), ttl=5)
    assert await backend.set("GET /forever", entry("t"), ttl=600)
    assert await backend.set("GET /forever", entry("t"))  # no ttl: never expires
    assert await backend.set("GET /then", entry("t"))
    assert await backend.set("GET /then", entry("t"), ttl=600)
    index = await cache.get("fcr:tag:t")
    assert index["keys"]["GET /shorter"] > time.time() + 500
    assert index["keys"]["GET /forever"] is None
    assert index["keys"]["GET /then"] is None


async def test_a_tags_index_key_is_the_tag_or_the_sha256_of_a_long_one() -> None:
    # Other processes sharing the cache find an index by this key.
    cache = SimpleMemoryCache()
    backend = AiocacheBackend(cache)
    longest, hashed = "t" * 200, "t" * 201
    assert await backend.set("GET /l", entry(longest, hashed), ttl=600)
    digest = hashlib.sha256(hashed.encode()).hexdigest()
    for key in ("fcr:tag:" + longest, "fcr:tag:#" + digest):
        index = await cache.get(key)
        assert index is not None and list(index["keys"]) == ["GET /l"], key


async def test_values_that_are_not_responses_count_for_nothing() -> None:
    # Another writer sharing the cache may leave anything at an indexed key.
    cache = SimpleMemoryCache()
    backend = AiocacheBackend(cache)
    for key in ("GET /text", "GET /variants"):
        assert await backend.set(key, entry("t"), ttl=600)
    await cache.set("GET /text", {"content": "not bytes", "raw_headers": [], "status_code": 200})
    await cache.set("GET /variants", {"vary": ["accept"], "variants": None})
    assert await backend.invalidate_tags(["t"], soft=True) == 0


async def test_an_entry_whose_tags_are_normalized_keeps_everything_else() -> None:
    backend = AiocacheBackend(SimpleMemoryCache())
    asked = [(b"accept-language", b"en")]
    vary = ("accept-language",)
    stored = entry("a", "b", "a", vary=vary, secondary=_core.secondary_key(vary, asked))
    assert await backend.set("GET /n", stored, ttl=600)
    found = await backend.get("GET /n", headers=asked)
    assert found is not None and found.tags == ("a", "b")
    assert (found.status_code, found.raw_headers, found.body, found.media_type) == (
        stored.status_code,
        stored.raw_headers,
        stored.body,
        stored.media_type,
    )
    assert (found.last_modified, found.timing) == (stored.last_modified, stored.timing)
    assert (found.vary, found.secondary) == (stored.vary, stored.secondary)
    assert await backend.get("GET /n", headers=[(b"accept-language", b"de")]) is None


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


async def test_a_key_leaves_its_tags_index_when_its_ttl_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(NOW)
    monkeypatch.setattr(adapter, "time", clock)  # the adapter's clock only
    cache = SimpleMemoryCache()
    backend = AiocacheBackend(cache)
    assert await backend.set("GET /ends", entry("t", stored_at=NOW), ttl=10)
    assert await backend.set("GET /stays", entry("t", stored_at=NOW), ttl=600)
    clock.now = NOW + 10  # the first one's ttl ends; another writer (0.6.0) stores that key
    await cache.set("GET /ends", entry(body=b"untagged", stored_at=NOW).to_cached_response())
    assert await backend.invalidate_tags(["t"]) == 1
    found = await backend.get("GET /ends")
    assert found is not None and found.body == b"untagged"


class SizeLimitedCache(SimpleMemoryCache):  # type: ignore[misc]
    """Refuses a value over 1000 bytes (set answers False), as memcached one over its limit."""

    async def set(self, key: str, value: Any, *args: Any, **kwargs: Any) -> bool:
        if len(pickle.dumps(value)) > 1000:
            return False
        return bool(await super().set(key, value, *args, **kwargs))


async def test_an_entry_the_cache_refused_is_not_indexed() -> None:
    backend = AiocacheBackend(SizeLimitedCache())
    assert not await backend.set("GET /big", entry("t", body=b"x" * 10_000), ttl=600)
    assert await backend.set("GET /big", entry(body=b"small"), ttl=600)  # stored untagged
    assert await backend.invalidate_tags(["t"]) == 0
    assert await backend.get("GET /big") is not None


async def test_concurrent_invalidations_of_a_tag_count_each_entry_once() -> None:
    backend = AiocacheBackend(SimpleMemoryCache())
    for i in range(10):
        assert await backend.set(f"GET /{i}", entry("t"), ttl=600)
    # Both may read the index and the entries before either deletes them: an
    # entry the other one deleted is not counted twice.
    counts = await asyncio.gather(*(backend.invalidate_tags(["t"]) for _ in range(2)))
    assert sum(counts) == 10


async def test_an_entry_with_tags_none_is_stored_untagged() -> None:
    # As in the other backends, None reads as no tags.
    backend = AiocacheBackend(SimpleMemoryCache())
    untagged = StoredResponse(200, (), b"x", None, tags=None)  # type: ignore[arg-type]
    assert await backend.set("GET /none", untagged, ttl=600)
    found = await backend.get("GET /none")
    assert found is not None and found.tags == ()
