"""Tags (surrogate keys) in every backend: invalidate_tags hard and soft.

Each test runs on the native store, Redis, the aiocache adapter and the
tiered backend; the tiered tests at the end run two workers on one Redis.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiocache import SimpleMemoryCache
from redis.exceptions import ConnectionError as RedisConnectionError

from fastapi_caching_route import (
    AiocacheBackend,
    CacheBackend,
    MemoryBackend,
    RedisBackend,
    StoredResponse,
    TieredBackend,
    _core,
)
from fastapi_caching_route.backends.base import normalized_tags

pytestmark = pytest.mark.anyio

KINDS = ("memory", "redis", "aiocache", "tiered")
DEADLINE = 30.0  # seconds a condition may take to come true on a busy machine
ODD_TAGS = (
    "path:/items/1",
    "path:/items/1?x=%2F&y={z}",
    "{hash}:tag*[]?\\",
    "caf\u00e9 \u65e5\u672c \U0001f600",
    " spaces\tand\nnewlines ",
    "",
    "t" * 10_000,
)


def entry(
    *tags: str,
    body: bytes = b"x",
    lifetime: float = 60.0,
    swr: float = 30.0,
    vary: tuple[str, ...] = (),
    secondary: str = "",
) -> StoredResponse:
    return StoredResponse(
        200,
        ((b"content-type", b"text/plain"), (b"etag", b'"e"')),
        body,
        "text/plain",
        stored_at=time.time(),
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


@pytest.fixture(params=KINDS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[CacheBackend]:
    kind = request.param
    made: CacheBackend
    if kind == "memory":
        made = MemoryBackend()
    elif kind == "aiocache":
        made = AiocacheBackend(SimpleMemoryCache())
    else:
        url = request.getfixturevalue("redis_url")
        made = RedisBackend.from_url(url)
        if kind == "tiered":
            made = TieredBackend(made)
    yield made
    if isinstance(made, (RedisBackend, TieredBackend)):
        await made.close()


async def test_hard_invalidation_removes_the_tagged_entries_and_counts_them(
    backend: CacheBackend,
) -> None:
    assert await backend.set("GET /1", entry("items", "item:1"), ttl=600)
    assert await backend.set("GET /2", entry("items", "item:2"), ttl=600)
    assert await backend.set("GET /3", entry("other"), ttl=600)
    assert await backend.set("GET /4", entry())
    assert await backend.set("GET /1", entry("items"), namespace="elsewhere")
    assert await backend.invalidate_tags(["item:1"]) == 1
    assert await backend.get("GET /1") is None
    assert await backend.get("GET /2") is not None
    assert await backend.invalidate_tags(["items", "item:2"]) == 1
    assert await backend.get("GET /2") is None
    assert await backend.get("GET /3") is not None
    assert await backend.get("GET /4") is not None
    assert await backend.get("GET /1", namespace="elsewhere") is not None  # namespaces apart
    assert await backend.invalidate_tags(["items"]) == 0
    assert await backend.invalidate_tags([]) == 0
    assert await backend.invalidate_tags(["items"], namespace="elsewhere") == 1


async def test_soft_invalidation_keeps_entries_stale_within_their_window(
    backend: CacheBackend,
) -> None:
    assert await backend.set("GET /s", entry("t", body=b"kept"), ttl=600)
    assert await backend.set("GET /u", entry("t", lifetime=0, swr=0))  # fresh until invalidated
    assert await backend.set("GET /f", entry("other"), ttl=600)
    assert reuse(await backend.get("GET /s")) == "fresh"
    assert await backend.invalidate_tags(["t"], soft=True) == 2
    found = await backend.get("GET /s")
    assert found is not None and found.body == b"kept" and found.tags == ("t",)
    assert reuse(found) == "stale_while_revalidate"  # served stale while one refresh runs
    assert found.stale_while_revalidate == 30.0
    assert reuse(await backend.get("GET /u")) == "revalidate"  # no window: revalidated
    assert reuse(await backend.get("GET /f")) == "fresh"
    # Already stale: counted, left as it is; then a hard one removes them.
    assert await backend.invalidate_tags(["t"], soft=True) == 2
    assert await backend.invalidate_tags(["t"]) == 2
    assert await backend.get("GET /s") is None


async def test_a_soft_invalidation_keeps_the_entry_for_its_stale_window_only(
    backend: CacheBackend,
) -> None:
    backend.keep_stale = 0.0
    assert await backend.set("GET /w", entry("t", swr=0.2), ttl=600)
    assert await backend.invalidate_tags(["t"], soft=True) == 1
    # Its store lifetime is now its stale window (keep_stale 0), not 600 s.
    deadline = time.monotonic() + DEADLINE
    while await backend.get("GET /w") is not None:
        assert time.monotonic() < deadline, "the softened entry outlived its stale window"
        await asyncio.sleep(0.05)


async def test_tags_travel_with_the_entry(backend: CacheBackend) -> None:
    assert await backend.set("GET /r", entry("a", "b", "a"), ttl=600)
    found = await backend.get("GET /r")
    assert found is not None and found.tags == ("a", "b")


# Plain ids: an id holding the tag's repr (backslashes, non-ASCII) cannot be
# given back to pytest to run that one test, which mutmut does.
@pytest.mark.parametrize(
    "tag",
    ODD_TAGS,
    ids=["path", "query", "glob-and-hash", "non-ascii", "whitespace", "empty", "long"],
)
async def test_any_text_is_a_tag(backend: CacheBackend, tag: str) -> None:
    assert await backend.set("GET /odd", entry(tag, "plain"), ttl=600)
    assert await backend.set("GET /other", entry(tag + "x", "plain"), ttl=600)
    found = await backend.get("GET /odd")
    assert found is not None and found.tags == (tag, "plain")
    assert await backend.invalidate_tags([tag], soft=True) == 1
    assert reuse(await backend.get("GET /odd")) == "stale_while_revalidate"
    assert await backend.invalidate_tags([tag]) == 1
    assert await backend.get("GET /odd") is None
    assert await backend.get("GET /other") is not None


async def test_a_tag_without_utf8_form_is_escaped_the_same_way_everywhere(
    backend: CacheBackend,
) -> None:
    # A path decoded with surrogateescape holds lone surrogates.
    tag = "path:/caf\udcc3\udca9"
    assert normalized_tags([tag]) == ("path:/caf\\xed\\xb3\\x83\\xed\\xb2\\xa9",)
    assert await backend.set("GET /esc", entry(tag), ttl=600)
    assert await backend.invalidate_tags([tag]) == 1


async def test_vary_variants_are_all_covered_by_a_tag_of_one(backend: CacheBackend) -> None:
    vary = ("accept-language",)
    en = entry("lang:en", "page", vary=vary, secondary="accept-language=en", body=b"en")
    de = entry("lang:de", "page", vary=vary, secondary="accept-language=de", body=b"de")
    assert await backend.set("GET /v", en, ttl=600)
    assert await backend.set("GET /v", de, ttl=600)
    asked = [(b"accept-language", b"en")]
    found = await backend.get("GET /v", headers=asked)
    assert found is not None and found.body == b"en"
    assert await backend.invalidate_tags(["lang:de"], soft=True) == 2
    assert reuse(await backend.get("GET /v", headers=asked)) == "stale_while_revalidate"
    assert await backend.invalidate_tags(["page"]) == 2
    assert await backend.get("GET /v", headers=asked) is None
    assert await backend.get("GET /v", headers=[(b"accept-language", b"de")]) is None


async def test_a_key_stored_again_without_the_tag_is_not_softened(
    backend: CacheBackend,
) -> None:
    assert await backend.set("GET /again", entry("old"), ttl=600)
    assert await backend.set("GET /again", entry("new"), ttl=600)
    assert await backend.invalidate_tags(["old"], soft=True) == 0
    assert reuse(await backend.get("GET /again")) == "fresh"


async def _stored(backend: CacheBackend, key: str) -> bool:
    if isinstance(backend, TieredBackend):
        # Without filling L1 from Redis (a fill keeps an entry for its
        # freshness lifetime, not for the rest of its Redis ttl).
        return backend.l1.get_nowait(key) is not None or await backend.l2.get(key) is not None
    return await backend.get(key) is not None


async def test_expired_entries_are_not_counted(backend: CacheBackend) -> None:
    assert await backend.set("GET /short", entry("t"), ttl=0.05)
    assert await backend.set("GET /long", entry("t"), ttl=600)
    deadline = time.monotonic() + DEADLINE
    while await _stored(backend, "GET /short"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    assert await backend.invalidate_tags(["t"]) == 1


async def test_tags_must_be_a_sequence_of_str(backend: CacheBackend) -> None:
    with pytest.raises(TypeError, match=r"^tags must be a sequence of str, not a single str$"):
        await backend.invalidate_tags("items")
    with pytest.raises(TypeError, match=r"^tags must be str, not bytes$"):
        await backend.invalidate_tags([b"items"])  # type: ignore[list-item]


# --- backend-specific details -------------------------------------------------------


async def test_the_native_index_follows_entries_out_of_the_store() -> None:
    backend = MemoryBackend(max_entries=4, shards=1)
    for i in range(10):
        assert backend.set_nowait(f"GET /{i}", entry("all", f"item:{i}"))
    stats = backend.stats()
    assert stats["entries"] == 4 and stats["tag_links"] == 8
    assert await backend.delete("GET /9") == 1
    assert backend.stats()["tag_links"] == 6
    assert await backend.invalidate_tags(["all"]) == 3
    assert backend.stats()["tag_links"] == backend.stats()["tag_buckets"] == 0


async def test_native_variants_carry_the_tags_of_the_variants_kept() -> None:
    backend = MemoryBackend(max_variants=2)
    vary = ("accept-language",)
    for language in ("en", "de", "fr"):  # en is dropped by max_variants
        value = entry(f"lang:{language}", vary=vary, secondary=f"accept-language={language}")
        assert backend.set_nowait("GET /v", value, ttl=600)
    assert backend.stats()["tag_links"] == 2
    assert await backend.invalidate_tags(["lang:en"]) == 0
    assert await backend.invalidate_tags(["lang:fr"], soft=True) == 2
    assert await backend.invalidate_tags(["lang:de"]) == 2


def test_the_native_store_softens_at_a_given_time_and_keeps_for_keep_seconds() -> None:
    store = _core.Store(1 << 20)
    ns = store.namespace_id("")
    timing = (1000.0, 0.0, 60.0, False, False, False, False, 30.0, 0.0)
    assert store.put_response(ns, "k", 200, (), b"b", None, "", 0, -1, timing, 1, 0.0, ("t",))
    assert store.invalidate_tags(ns, ["t"], soft=True, now=1010.0, keep=5.0) == 1
    found = store.get_entry(ns, "k", count=False)
    assert found is not None
    assert found[7] == (1000.0, 0.0, 10.0, False, False, False, False, 30.0, 0.0)
    assert found[8] == ("t",)
    assert _core.stale_timing(found[7], 1020.0) is None  # stale already
    assert _core.stale_timing(timing, 1010.0) == found[7]
    assert store.stats()["softened"] == 1
    with pytest.raises(ValueError, match="1024"):
        store.put_response(ns, "k", 200, (), b"b", None, "", 0, -1, timing, 1, 0.0, ["t"] * 1025)
    assert store.invalidate_tags(ns, [str(i) for i in range(2000)]) == 0  # any number


async def test_native_tags_count_toward_max_bytes() -> None:
    backend = MemoryBackend(max_bytes=64 * 1024, shards=1)
    plain = MemoryBackend(max_bytes=64 * 1024, shards=1)
    backend.set_nowait("GET /t", entry("t" * 10_000))
    plain.set_nowait("GET /t", entry())
    assert backend.stats()["bytes"] > plain.stats()["bytes"] + 2 * 10_000
    assert not backend.set_nowait("GET /huge", entry("t" * 100_000))  # the tag alone is too big


async def test_redis_reaps_expired_members_and_expires_the_index(redis_url: str) -> None:
    backend = RedisBackend.from_url(redis_url)
    tag_key = backend.tag_key("t")
    assert await backend.set("GET /short", entry("t"), ttl=0.05)
    assert await backend.set("GET /forever", entry("u"))
    assert 0 < await backend.client.pttl(tag_key) <= 1100  # expires with its last member
    assert await backend.client.pttl(backend.tag_key("u")) == -1  # a member without expiry
    deadline = time.monotonic() + DEADLINE
    while await backend.client.exists(backend.redis_key("GET /short")):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    assert await backend.set("GET /long", entry("t"), ttl=600)
    assert await backend.client.zrange(tag_key, 0, -1) == [b"GET /long"]  # reaped on add
    assert await backend.invalidate_tags(["t"]) == 1
    assert await backend.client.zcard(tag_key) == 0  # members leave with their entries
    await backend.close()


async def test_redis_tag_keys_are_escaped_bounded_and_their_own_slot(redis_url: str) -> None:
    backend = RedisBackend.from_url(redis_url, namespace="n:s")
    assert backend.tag_key("a/b:{c}") == "fcr:n%3As:tag:{a%2Fb%3A%7Bc%7D}"
    long_key = backend.tag_key("t" * 10_000)
    assert len(long_key) < 120 and long_key.startswith("fcr:n%3As:tag:{#")
    assert backend.tag_key("t" * 10_000) != backend.tag_key("t" * 9_999)
    # Tag indexes are not entries: a namespace clear removes them, uncounted.
    assert await backend.set("GET /c", entry("a/b:{c}"), ttl=600)
    assert await backend.clear() == 1
    assert await backend.client.exists(backend.tag_key("a/b:{c}")) == 0
    await backend.close()


async def test_redis_entries_whose_tags_could_not_be_indexed_are_not_kept(
    redis_url: str,
) -> None:
    backend = RedisBackend.from_url(redis_url)
    real = backend._tag_add

    async def failing(*args: Any, **kwargs: Any) -> Any:
        raise RedisConnectionError("the tag's node is down")

    backend._tag_add = failing  # type: ignore[assignment]
    with pytest.raises(RedisConnectionError):
        await backend.set("GET /lost", entry("t"), ttl=600)
    assert await backend.get("GET /lost") is None  # it would have escaped invalidation
    backend._tag_add = real
    await backend.close()


async def test_redis_soft_invalidation_never_extends_an_entry_or_overwrites_a_newer_one(
    redis_url: str,
) -> None:
    backend = RedisBackend.from_url(redis_url)
    assert await backend.set("GET /n", entry("t", swr=3600), ttl=5)
    assert await backend.invalidate_tags(["t"], soft=True) == 1
    assert 0 < await backend.client.pttl(backend.redis_key("GET /n")) <= 5000
    # The rewrite applies only over the value it read.
    assert await backend.set("GET /m", entry("t", body=b"old"), ttl=600)
    real_get = backend.client.get

    async def get_then_store_newer(name: Any) -> Any:
        value = await real_get(name)
        if name == backend.redis_key("GET /m"):
            await backend.set("GET /m", entry("t", body=b"newer"), ttl=600)
        return value

    backend.client.get = get_then_store_newer  # type: ignore[method-assign]
    await backend.invalidate_tags(["t"], soft=True)
    backend.client.get = real_get  # type: ignore[method-assign]
    found = await backend.get("GET /m")
    assert found is not None and found.body == b"newer" and reuse(found) == "fresh"
    await backend.close()


async def test_aiocache_keeps_the_index_beside_the_entries() -> None:
    cache = SimpleMemoryCache()
    backend = AiocacheBackend(cache)
    assert await backend.set("GET /a", entry("t"), ttl=600)
    index = await cache.get("fcr:tag:t")
    assert isinstance(index, dict) and list(index["keys"]) == ["GET /a"]
    assert (await cache.get("GET /a"))["tags"] == ["t"]  # 0.6.0's format plus our keys
    assert await backend.invalidate_tags(["t"]) == 1
    assert await cache.get("fcr:tag:t") is None


# --- two workers on one Redis (tiered) ------------------------------------------------


async def _eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


@pytest.fixture
async def workers(redis_url: str) -> AsyncIterator[tuple[TieredBackend, TieredBackend]]:
    first = TieredBackend(RedisBackend.from_url(redis_url))
    second = TieredBackend(RedisBackend.from_url(redis_url))
    await first.get("warm-up")  # starts the listeners
    await second.get("warm-up")
    assert await _eventually(lambda: first.listening and second.listening)
    yield first, second
    await first.close()
    await second.close()


def _l1_reuse(backend: TieredBackend, key: str) -> str | None:
    found = backend.l1.get_nowait(key)
    return None if found is None else reuse(found)


async def test_tag_invalidations_reach_every_workers_l1(
    workers: tuple[TieredBackend, TieredBackend],
) -> None:
    first, second = workers
    assert await first.set("GET /h", entry("hard"), ttl=600)
    assert await first.set("GET /s", entry("soft"), ttl=600)
    for key in ("GET /h", "GET /s"):
        assert await second.get(key) is not None
        assert second.l1.get_nowait(key) is not None  # in the second worker's L1
    assert await first.invalidate_tags(["soft"], soft=True) == 1
    assert await _eventually(lambda: _l1_reuse(second, "GET /s") == "stale_while_revalidate")
    assert reuse(await first.l2.get("GET /s")) == "stale_while_revalidate"  # and in Redis
    assert await first.invalidate_tags(["hard"]) == 1
    assert await _eventually(lambda: second.l1.get_nowait("GET /h") is None)
    assert await second.get("GET /h") is None
    assert second.stats()["invalidations_received"] == 2


async def test_a_tag_invalidated_during_a_redis_read_keeps_its_entry_out_of_l1(
    workers: tuple[TieredBackend, TieredBackend],
) -> None:
    first, second = workers
    assert await first.set("GET /p", entry("t", "u"), ttl=600)
    assert await first.set("GET /q", entry("other"), ttl=600)
    real_get = second.l2.get
    answered, release = asyncio.Event(), asyncio.Event()

    async def paused_get(key: str, namespace: str | None = None, **kwargs: Any) -> Any:
        found = await real_get(key, namespace, **kwargs)
        answered.set()
        await release.wait()
        return found

    second.l2.get = paused_get  # type: ignore[method-assign]
    reads = [asyncio.ensure_future(second.get(key)) for key in ("GET /p", "GET /q")]
    await asyncio.wait_for(answered.wait(), DEADLINE)
    received = second.stats()["invalidations_received"]
    assert await first.invalidate_tags(["u"]) == 1
    assert await _eventually(lambda: second.stats()["invalidations_received"] > received)
    release.set()
    found = await asyncio.gather(*reads)
    assert all(f is not None for f in found)  # those reads began before the invalidation
    assert second.l1.get_nowait("GET /p") is None  # ... so L1 does not keep what it read
    assert second.l1.get_nowait("GET /q") is not None  # an entry without the tag fills L1
    second.l2.get = real_get  # type: ignore[method-assign]


async def test_a_tag_invalidation_redis_did_not_take_is_applied_here_and_sent_later(
    workers: tuple[TieredBackend, TieredBackend],
) -> None:
    first, second = workers
    first._retry_delay = 0.05
    assert await first.set("GET /o", entry("t"), ttl=600)
    assert await second.get("GET /o") is not None
    client: Any = first.l2.client
    real_publish = client.publish
    down = True

    async def publish(*args: Any) -> Any:
        if down:
            raise RedisConnectionError("Redis is down")
        return await real_publish(*args)

    client.publish = publish
    assert await first.invalidate_tags(["t"], soft=True) == 1  # no exception
    assert _l1_reuse(first, "GET /o") == "stale_while_revalidate"
    assert first.stats()["invalidations_pending"] == 1
    first.l1.clear_all()
    assert await first.get("GET /o") is None  # what Redis holds carries a pending tag
    down = False
    assert await _eventually(lambda: _l1_reuse(second, "GET /o") == "stale_while_revalidate")
    assert await _eventually(lambda: first.stats()["invalidations_pending"] == 0)


async def test_a_worker_on_an_unreachable_redis_still_invalidates_its_l1() -> None:
    down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    backend = TieredBackend(RedisBackend(down))
    backend._suspect_ttl = 60.0
    assert await backend.set("GET /l", entry("t"))
    assert await backend.invalidate_tags(["t"]) == 1
    assert backend.get_nowait("GET /l") is None
    assert backend.stats()["invalidations_pending"] == 1
    await backend.close()


async def test_keep_stale_reaches_both_tiers(redis_url: str) -> None:
    backend = TieredBackend(RedisBackend.from_url(redis_url))
    backend.keep_stale = 12.0
    assert (backend.keep_stale, backend.l1.keep_stale, backend.l2.keep_stale) == (12.0,) * 3
    await backend.close()


async def test_a_softened_entry_keeps_everything_but_its_freshness(backend: CacheBackend) -> None:
    stored = entry("t", body=b"en", vary=("accept-language",), secondary="accept-language=en")
    assert await backend.set("GET /soft", stored, ttl=600)
    asked = [(b"accept-language", b"en")]

    def kept(found: StoredResponse | None) -> tuple[object, ...]:
        assert found is not None
        return (
            found.status_code,
            found.raw_headers,
            found.body,
            found.media_type,
            found.vary,
            found.secondary,
            found.tags,
        )

    before = kept(await backend.get("GET /soft", headers=asked))
    assert before[2:4] == (b"en", "text/plain")
    assert await backend.invalidate_tags(["t"], soft=True) == 1
    found = await backend.get("GET /soft", headers=asked)
    assert reuse(found) == "stale_while_revalidate"
    if isinstance(backend, TieredBackend):
        # Answered from Redis before and from L1 now: MemoryBackend hands back
        # a variant without its Vary names and secondary key.
        assert kept(found)[:4] + kept(found)[6:] == before[:4] + before[6:]
    else:
        assert kept(found) == before
