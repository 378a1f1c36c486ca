"""RedisBackend details on a real redis-server: from_url's settings, tag key
names, variants, soft invalidation in namespaces and of Vary'd keys, batches."""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from fastapi_caching_route import RedisBackend, StoredResponse, _core

pytestmark = pytest.mark.anyio

VARY = ("accept-language",)


def entry(
    *tags: str,
    body: bytes = b"x",
    swr: float = 30.0,
    secondary: str = "",
    heuristic: bool = False,
) -> StoredResponse:
    return StoredResponse(
        200,
        ((b"content-type", b"text/plain"),),
        body,
        "text/plain",
        stored_at=time.time(),
        lifetime=60.0,
        stale_while_revalidate=swr,
        heuristic=heuristic,
        vary=VARY if secondary else (),
        secondary=secondary,
        tags=tags,
    )


def language(code: str) -> list[tuple[bytes, bytes]]:
    return [(b"accept-language", code.encode())]


def reuse(found: StoredResponse | None) -> str:
    assert found is not None
    return _core.decide_reuse(found.timing, time.time(), True)[0]


# --- from_url -------------------------------------------------------------------------


async def test_from_url_times_out_connects_and_commands_after_a_quarter_second(
    redis_url: str,
) -> None:
    backend = RedisBackend.from_url(redis_url)
    try:
        kwargs = backend.client.connection_pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (0.25, 0.25)
    finally:
        await backend.close()


async def test_from_url_applies_the_given_timeout_and_client_options(redis_url: str) -> None:
    backend = RedisBackend.from_url(redis_url, timeout=3.5, client_name="details")
    try:
        kwargs = backend.client.connection_pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (3.5, 3.5)
        assert await backend.client.client_getname() == "details"
    finally:
        await backend.close()


async def test_from_url_passes_max_variants_on(redis_url: str) -> None:
    backend = RedisBackend.from_url(redis_url, max_variants=1)
    try:
        assert await backend.set("GET /v", entry(secondary="accept-language=en"), ttl=600)
        assert await backend.set("GET /v", entry(secondary="accept-language=de"), ttl=600)
        assert await backend.get("GET /v", headers=language("en")) is None  # dropped
        assert await backend.get("GET /v", headers=language("de")) is not None
        assert backend.stats()["variants_dropped"] == 1
    finally:
        await backend.close()


# --- tag keys --------------------------------------------------------------------------


async def test_a_tag_of_exactly_the_limit_stays_readable_in_its_key(redis_url: str) -> None:
    backend = RedisBackend.from_url(redis_url)
    try:
        assert backend.tag_key("t" * 128) == "fcr::tag:{" + "t" * 128 + "}"
        assert backend.tag_key("t" * 129).startswith("fcr::tag:{#")
    finally:
        await backend.close()


async def test_tag_key_escapes_a_lone_surrogate_by_its_utf8_bytes(redis_url: str) -> None:
    # tag_key is public: a tag straight from a surrogateescape'd path must not raise.
    backend = RedisBackend.from_url(redis_url)
    try:
        assert backend.tag_key("caf\udce9") == "fcr::tag:{caf%ED%B3%A9}"
    finally:
        await backend.close()


# --- entries and variants --------------------------------------------------------------


async def test_the_heuristic_flag_travels_with_the_entry(redis_url: str) -> None:
    backend = RedisBackend.from_url(redis_url)
    try:
        assert await backend.set("GET /h", entry(heuristic=True), ttl=600)
        found = await backend.get("GET /h")
        assert found is not None and found.heuristic is True
    finally:
        await backend.close()


async def test_a_variant_never_stored_is_a_miss(redis_url: str) -> None:
    backend = RedisBackend.from_url(redis_url)
    try:
        assert await backend.set("GET /v", entry(secondary="accept-language=en"), ttl=600)
        assert await backend.get("GET /v", headers=language("fr")) is None
    finally:
        await backend.close()


async def test_another_variants_value_under_a_variant_key_is_a_miss(redis_url: str) -> None:
    # What a collision of two secondary keys' digests would look like.
    backend = RedisBackend.from_url(redis_url)
    try:
        assert await backend.set("GET /v", entry(secondary="accept-language=en"), ttl=600)
        assert await backend.set("GET /v", entry(secondary="accept-language=de"), ttl=600)
        base = backend.redis_key("GET /v")
        en_key = f"{base}:{_core.key_digest('accept-language=en')}"
        de_key = f"{base}:{_core.key_digest('accept-language=de')}"
        await backend.client.set(de_key, await backend.client.get(en_key))
        assert await backend.get("GET /v", headers=language("de")) is None
        assert backend.stats()["rejected_values"] == 1
        assert await backend.client.exists(de_key) == 0
    finally:
        await backend.close()


def variant_key(
    backend: RedisBackend, key: str, secondary: str, namespace: str | None = None
) -> str:
    return f"{backend.redis_key(key, namespace)}:{_core.key_digest(secondary)}"


# --- soft invalidation ----------------------------------------------------------------


async def test_a_soft_invalidation_in_a_namespace_softens_that_namespace_only(
    redis_url: str,
) -> None:
    backend = RedisBackend.from_url(redis_url)
    try:
        assert await backend.set("GET /n", entry("t"), namespace="ns", ttl=600)
        assert await backend.set("GET /n", entry("t"), ttl=600)
        assert await backend.invalidate_tags(["t"], namespace="ns", soft=True) == 1
        assert reuse(await backend.get("GET /n", namespace="ns")) == "stale_while_revalidate"
        assert reuse(await backend.get("GET /n")) == "fresh"
    finally:
        await backend.close()


async def test_a_soft_invalidation_softens_every_variant(redis_url: str) -> None:
    backend = RedisBackend.from_url(redis_url)
    codes = ("en", "de", "fr")
    try:
        for code in codes:
            value = entry("t", secondary=f"accept-language={code}")
            assert await backend.set("GET /v", value, ttl=600)
        assert await backend.invalidate_tags(["t"], soft=True) == 3
        for code in codes:
            found = await backend.get("GET /v", headers=language(code))
            assert reuse(found) == "stale_while_revalidate", code
    finally:
        await backend.close()


async def test_a_soft_invalidation_skips_a_variant_gone_from_redis(redis_url: str) -> None:
    backend = RedisBackend.from_url(redis_url)
    try:
        for code in ("en", "de"):
            value = entry("t", secondary=f"accept-language={code}")
            assert await backend.set("GET /v", value, ttl=600)
        # As if it had expired: the order set still lists it.
        await backend.client.delete(variant_key(backend, "GET /v", "accept-language=de"))
        assert await backend.invalidate_tags(["t"], soft=True) == 1
        found = await backend.get("GET /v", headers=language("en"))
        assert reuse(found) == "stale_while_revalidate"
    finally:
        await backend.close()


async def test_a_varied_key_stored_again_without_the_tag_is_not_softened(
    redis_url: str,
) -> None:
    backend = RedisBackend.from_url(redis_url)
    try:
        assert await backend.set("GET /v", entry("old", secondary="accept-language=en"), ttl=600)
        assert await backend.set("GET /v", entry("new", secondary="accept-language=en"), ttl=600)
        assert await backend.invalidate_tags(["old"], soft=True) == 0
        assert reuse(await backend.get("GET /v", headers=language("en"))) == "fresh"
    finally:
        await backend.close()


async def test_a_softened_entry_without_expiry_is_kept_for_its_stale_window(
    redis_url: str,
) -> None:
    backend = RedisBackend.from_url(redis_url)
    try:
        assert await backend.set("GET /w", entry("t", swr=1_000_000))  # no Redis expiry
        assert await backend.client.pttl(backend.redis_key("GET /w")) == -1
        assert await backend.invalidate_tags(["t"], soft=True) == 1
        # Now it expires after its stale window, in ms (time only lowers it).
        assert 0 < await backend.client.pttl(backend.redis_key("GET /w")) <= 1_000_000_000
    finally:
        await backend.close()


# --- batches and foreign data -----------------------------------------------------------


async def test_invalidation_runs_at_most_32_commands_at_a_time(redis_url: str) -> None:
    # A pool of 32 connections raises MaxConnectionsError on a 33rd concurrent command.
    backend = RedisBackend.from_url(redis_url, max_connections=32)
    try:
        for i in range(33):
            assert await backend.set(f"GET /{i}", entry("t"), ttl=600)
        assert await backend.invalidate_tags(["t"], soft=True) == 33
        assert await backend.invalidate_tags(["t"]) == 33
        assert await backend.client.dbsize() == 0
    finally:
        await backend.close()


async def test_clear_removes_tag_indexes_beyond_one_scan_batch(redis_url: str) -> None:
    backend = RedisBackend.from_url(redis_url)
    try:
        tags = [f"t{i}" for i in range(500)]  # 500 indexes: one full batch of them
        assert await backend.set("GET /many", entry(*tags), ttl=600)
        assert await backend.client.dbsize() == 501
        assert await backend.clear() == 1
        assert await backend.client.dbsize() == 0
    finally:
        await backend.close()


async def test_a_member_that_is_not_utf8_does_not_stop_an_invalidation(
    redis_url: str,
) -> None:
    # Written by something else: it names no entry of ours, and leaves the set.
    backend = RedisBackend.from_url(redis_url)
    try:
        assert await backend.set("GET /t", entry("t"), ttl=600)
        await backend.client.zadd(backend.tag_key("t"), {b"GET /\xff": "+inf"})
        assert await backend.invalidate_tags(["t"]) == 1
        assert await backend.get("GET /t") is None
        assert await backend.client.exists(backend.tag_key("t")) == 0
    finally:
        await backend.close()


async def test_a_client_that_decodes_responses_is_refused(redis_url: str) -> None:
    # Entries are binary: such a client would fail every read and leave the
    # route uncached without a word, so it is a configuration error.
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            RedisBackend(client)
        with pytest.raises(ValueError, match="decode_responses"):
            RedisBackend.from_url(redis_url, decode_responses=True)
    finally:
        await client.aclose()


async def test_a_failed_cleanup_after_a_failed_tag_index_raises_the_index_error(
    redis_url: str,
) -> None:
    # A real ACL: the tag script's ZADD is refused, and so is the cleanup script's GET.
    admin = RedisBackend.from_url(redis_url)
    await admin.client.acl_setuser(
        "no-index",
        enabled=True,
        passwords=["+secret"],
        categories=["+@all"],
        commands=["-zadd", "-get"],
        keys=["*"],
        channels=["*"],
    )
    backend = RedisBackend.from_url(redis_url, username="no-index", password="secret")
    try:
        with pytest.raises(ResponseError, match="can't run this command"):
            await backend.set("GET /i", entry("t"), ttl=600)
    finally:
        await backend.close()
        await admin.client.acl_deluser("no-index")
        await admin.close()
