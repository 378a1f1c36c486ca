"""RedisBackend details on a real redis-server: from_url's settings, tag key
names, variants, soft invalidation in namespaces and of Vary'd keys, batches."""

from __future__ import annotations

import time

import pytest

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
