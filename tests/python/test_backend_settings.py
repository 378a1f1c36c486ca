"""The backends' documented defaults and layouts, and errors that name what to change."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from fastapi_caching_route import (
    CircuitBreaker,
    MemoryBackend,
    RedisBackend,
    StoredResponse,
    TieredBackend,
)
from fastapi_caching_route._core import key_digest

pytestmark = pytest.mark.anyio

ENTRY = StoredResponse(200, ((b"etag", b'"e"'), (b"x-a", b"1")), b"body", None)


def test_memory_defaults_bound_bytes_only() -> None:
    backend = MemoryBackend()
    stats = backend.stats()
    assert (stats["max_bytes"], stats["max_entries"]) == (256 * 1024 * 1024, 0)
    assert backend.policy == "s3fifo"
    for i in range(2000):  # no count limit by default
        assert backend.set_nowait(f"GET /{i}", ENTRY)
    assert backend.stats()["entries"] == 2000
    # 16 shards: a single 12 MiB entry fits a shard's share of 256 MiB.
    assert backend.set_nowait("GET /big", StoredResponse(200, (), b"x" * (12 << 20), None))


def test_memory_hands_back_what_was_stored() -> None:
    backend = MemoryBackend(namespace="root")
    entry = StoredResponse(
        203,
        ((b"x-a", b"1"), (b"etag", b'"v"'), (b"x-b", b"2")),
        b"b",
        "text/plain",
        stored_at=12.5,
        last_modified=7,
        lifetime=30.0,
        revalidate=True,
    )
    assert backend.set_nowait("GET /k", entry)
    found = backend.get_nowait("GET /k")
    assert found is not None
    assert (found.status_code, found.raw_headers, found.body, found.media_type) == (
        203,
        entry.raw_headers,
        b"b",
        "text/plain",
    )
    assert (found.stored_at, found.last_modified, found.lifetime, found.revalidate) == (
        12.5,
        7,
        30.0,
        True,
    )
    assert backend.get_nowait("GET /k", "root") is not None  # None is the root namespace
    assert backend.get_nowait("GET /k", "") is None


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        ({"max_bytes": 0}, ValueError, "max_bytes must be >= 1, got 0"),
        ({"max_bytes": 1.5}, TypeError, "max_bytes must be an int, not float"),
        ({"max_bytes": True}, TypeError, "max_bytes must be an int, not bool"),
        ({"max_entries": -1}, ValueError, "max_entries must be >= 0, got -1"),
        ({"shards": 0}, ValueError, "shards must be >= 1, got 0"),
        ({"namespace": 3}, TypeError, "namespace must be a str or None"),
        ({"policy": "fifo"}, ValueError, "policy must be one of s3fifo, lru, sieve, got 'fifo'"),
    ],
)
def test_memory_errors_name_the_parameter(
    kwargs: dict[str, object], error: type[Exception], names: str
) -> None:
    with pytest.raises(error) as raised:
        MemoryBackend(**kwargs)
    assert str(raised.value) == names


def test_memory_accepts_one_shard() -> None:
    assert MemoryBackend(shards=1).set_nowait("GET /one", ENTRY)


def test_redis_keys_are_prefix_namespace_digest() -> None:
    backend = RedisBackend(aioredis.Redis(), namespace="root/ns")
    digest = key_digest("GET /k")
    # The digest is a hash tag ({...}): a key's variants share a Cluster slot.
    assert backend.redis_key("GET /k") == f"fcr:root%2Fns:{{{digest}}}"
    assert backend.redis_key("GET /k", "a/b c") == f"fcr:a%2Fb%20c:{{{digest}}}"
    assert RedisBackend(aioredis.Redis()).redis_key("GET /k") == f"fcr::{{{digest}}}"


async def test_redis_counts_every_skip_and_every_rejected_value(redis_url: str) -> None:
    backend = RedisBackend.from_url(redis_url)
    try:
        for path in ("/a", "/b"):
            await backend.client.set(backend.redis_key(f"GET {path}"), b"not an entry")
            assert await backend.get(f"GET {path}") is None
        assert backend.stats()["rejected_values"] == 2
    finally:
        await backend.close()
    breaker = CircuitBreaker(threshold=1, cooldown=60)
    breaker.failed()
    closed = RedisBackend(aioredis.Redis(), breaker=breaker)
    for _ in range(2):
        assert await closed.get("GET /x") is None
        assert await closed.set("GET /x", ENTRY) is False
    stats = closed.stats()
    assert (stats["rejected_values"], stats["skipped_breaker_open"]) == (0, 4)


def test_tiered_defaults_and_namespace() -> None:
    l2 = RedisBackend(aioredis.Redis(), namespace="root")
    backend = TieredBackend(l2)
    assert backend.l1_ttl == 60.0
    assert backend.channel == "fcr:invalidations"  # workers of every version share it
    assert backend.l1.stats()["max_bytes"] == 64 * 1024 * 1024
    assert backend.namespace == backend.l1.namespace == "root"
    own = MemoryBackend(max_bytes=1024 * 1024)
    assert TieredBackend(l2, l1=own, l1_ttl=0.5).l1 is own


def test_tiered_errors_name_the_parameter() -> None:
    with pytest.raises(TypeError, match=r"^l2 must be a RedisBackend$"):
        TieredBackend(MemoryBackend())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^l1_ttl must be positive, got 0$"):
        TieredBackend(RedisBackend(aioredis.Redis()), l1_ttl=0)
