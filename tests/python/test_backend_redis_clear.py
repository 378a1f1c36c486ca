"""RedisBackend.clear: every key of one namespace, in batches, and only those,
whatever characters the prefix holds."""

from __future__ import annotations

import pytest

from fastapi_caching_route import RedisBackend, StoredResponse

pytestmark = pytest.mark.anyio

ENTRY = StoredResponse(200, (), b"r", None)


async def test_clear_counts_every_key_across_scan_batches(redis_url: str) -> None:
    backend = RedisBackend.from_url(redis_url)
    try:
        async with backend.client.pipeline(transaction=False) as pipe:
            for i in range(1203):
                pipe.set(backend.redis_key(f"GET /{i}", "many"), b"x")
            await pipe.execute()
        await backend.set("GET /kept", ENTRY, namespace="few")
        assert await backend.clear("many") == 1203
        assert await backend.get("GET /kept", "few") is not None
    finally:
        await backend.close()


@pytest.mark.parametrize("prefix", ["c*:", "c?:", "c[x]:", "c\\:"])
async def test_clear_treats_glob_characters_of_the_prefix_literally(
    redis_url: str, prefix: str
) -> None:
    globbed = RedisBackend.from_url(redis_url, prefix=prefix)
    neighbour = RedisBackend.from_url(redis_url, prefix="cx:")
    try:
        await globbed.set("GET /a", ENTRY)
        await neighbour.set("GET /a", ENTRY)
        assert await globbed.clear() == 1
        assert await neighbour.get("GET /a") is not None
    finally:
        await globbed.close()
        await neighbour.close()
