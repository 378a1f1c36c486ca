"""RedisBackend on a real redis-server: the codec, namespaces, corrupt values, outages."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from conftest import Calls, caching_router, make_app, open_client

from fastapi_caching_route import CircuitBreaker, FastAPICache, RedisBackend, StoredResponse

pytestmark = pytest.mark.anyio

ENTRY = StoredResponse(
    200,
    ((b"content-type", b"text/plain"), (b"etag", b'"e"'), (b"x-multi", b"1"), (b"x-multi", b"2")),
    b"hello",
    "text/plain",
    stored_at=1000.5,
    last_modified=999,
    lifetime=60.0,
)


def _same(a: StoredResponse, b: StoredResponse) -> bool:
    fields = ("status_code", "raw_headers", "body", "media_type", "stored_at", "last_modified")
    return all(getattr(a, f) == getattr(b, f) for f in (*fields, "lifetime", "revalidate"))


async def test_round_trip_and_ttl(redis_url: str) -> None:
    backend = RedisBackend.from_url(redis_url)
    assert await backend.set("GET /a", ENTRY, namespace="ns", ttl=30)
    found = await backend.get("GET /a", namespace="ns")
    assert found is not None and _same(found, ENTRY)
    assert await backend.get("GET /a", namespace="other") is None
    ttl_ms = await backend.client.pttl(backend.redis_key("GET /a", "ns"))
    assert 0 < ttl_ms <= 30_000
    raw = await backend.client.get(backend.redis_key("GET /a", "ns"))
    assert raw.startswith(b"FCRE")  # the engine's format, never pickle
    await backend.close()


async def test_delete_and_clear_count_and_keep_namespaces_apart(redis_url: str) -> None:
    backend = RedisBackend.from_url(redis_url)
    for key in ("GET /1", "GET /2", "GET /3"):
        await backend.set(key, ENTRY, namespace="a")
    await backend.set("GET /1", ENTRY, namespace="a:b")  # a prefix-alike namespace
    await backend.set("GET /1", ENTRY, namespace="a*")  # glob characters are escaped
    assert await backend.delete("GET /1", namespace="a") == 1
    assert await backend.delete("GET /1", namespace="a") == 0
    assert await backend.clear("a") == 2
    assert await backend.get("GET /1", namespace="a:b") is not None
    assert await backend.get("GET /1", namespace="a*") is not None
    await backend.close()


@pytest.mark.parametrize(
    "stored",
    [b"garbage", b"FCRE", b"\x80\x04\x95pickle", b""],
)
async def test_corrupt_or_foreign_values_are_misses_and_deleted(
    redis_url: str, stored: bytes
) -> None:
    backend = RedisBackend.from_url(redis_url)
    redis_key = backend.redis_key("GET /c")
    await backend.client.set(redis_key, stored)
    assert await backend.get("GET /c") is None
    assert await backend.client.exists(redis_key) == 0
    assert backend.stats()["rejected_values"] == 1
    await backend.close()


async def test_another_keys_value_under_our_key_is_a_miss(redis_url: str) -> None:
    # What a digest collision would look like: a valid entry of another URL.
    backend = RedisBackend.from_url(redis_url)
    await backend.set("GET /other", ENTRY)
    value = await backend.client.get(backend.redis_key("GET /other"))
    await backend.client.set(backend.redis_key("GET /mine"), value)
    assert await backend.get("GET /mine") is None
    await backend.close()


async def test_a_corrupt_value_never_reaches_the_client(redis_url: str) -> None:
    cache = FastAPICache(RedisBackend.from_url(redis_url))
    router = caching_router()
    calls = Calls()

    @cache(key_builder=lambda request: "fixed")
    @router.get("/r")
    def endpoint() -> str:
        calls()
        return "fresh"

    backend = cache.backend
    assert isinstance(backend, RedisBackend)
    try:
        await backend.client.set(backend.redis_key("fixed"), b"\x00\x01corrupt")
        async with open_client(make_app(router)) as client:
            first = await client.get("/r")
            second = await client.get("/r")
    finally:
        await backend.close()  # an open connection left to the GC warns in a later test
    assert (first.status_code, first.json(), first.headers["x-cache"]) == (200, "fresh", "MISS")
    assert second.headers["x-cache"] == "HIT"
    assert calls.count == 1


async def test_an_outage_serves_uncached_and_opens_the_breaker() -> None:
    # Nothing listens on this port: every command fails fast.
    client = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2
    )
    backend = RedisBackend(client, breaker=CircuitBreaker(threshold=2, cooldown=60))
    cache = FastAPICache(backend)
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/down")
    def endpoint() -> str:
        calls()
        return "ok"

    async with open_client(make_app(router)) as client_:
        responses = [await client_.get("/down") for _ in range(5)]
    assert [r.status_code for r in responses] == [200] * 5
    assert all("x-cache" not in r.headers for r in responses)
    assert calls.count == 5
    stats = cache.stats()
    assert stats["route"]["lookup_errors"] >= 1
    assert stats["skipped_breaker_open"] >= 1  # after two failures Redis is not even asked
    await backend.close()


def test_breaker_half_opens_after_the_cooldown(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi_caching_route.backends import redis as redis_backend

    now = [0.0]
    monkeypatch.setattr(redis_backend.time, "monotonic", lambda: now[0])
    breaker = CircuitBreaker(threshold=2, cooldown=5)
    breaker.failed()
    assert breaker.allows()
    breaker.failed()
    assert not breaker.allows()
    now[0] = 5.0
    assert breaker.allows()  # one try
    breaker.failed()
    assert not breaker.allows()  # failed again: open again
    now[0] = 10.0
    assert breaker.allows()
    breaker.succeeded()
    assert breaker.allows()


def test_the_breaker_defaults_are_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    # README and docs/backends.md: CircuitBreaker(threshold=5, cooldown=5.0).
    from fastapi_caching_route.backends import redis as redis_backend

    now = [100.0]
    monkeypatch.setattr(redis_backend.time, "monotonic", lambda: now[0])
    breaker = CircuitBreaker()
    for _ in range(4):
        breaker.failed()
    assert breaker.allows()  # four failures in a row: still closed
    breaker.failed()
    assert not breaker.allows()  # the fifth opens it
    now[0] = 104.9
    assert not breaker.allows()
    now[0] = 105.0
    assert breaker.allows()  # five seconds later: half-open


@pytest.mark.parametrize(
    ("threshold", "cooldown", "message"),
    [
        (0, 1.0, "threshold must be >= 1, got 0"),
        (1, 0.0, "cooldown must be positive, got 0.0"),
        (1, -1.0, "cooldown must be positive, got -1.0"),
    ],
)
def test_bad_breaker_settings_are_rejected(threshold: int, cooldown: float, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        CircuitBreaker(threshold=threshold, cooldown=cooldown)
    assert str(raised.value) == message


def test_a_cooldown_under_a_second_is_accepted() -> None:
    assert CircuitBreaker(threshold=1, cooldown=0.5).cooldown == 0.5
