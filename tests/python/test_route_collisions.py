"""A digest collision is a miss, never another URL's response (SPEC section 5).

Shared stores address entries by a digest of the canonical key; the stored
entry keeps its full key, and a lookup that finds another key's entry under
its digest must treat it as a miss -- at the route, where a user would
otherwise receive another URL's response. (The native store's own check is
pinned with an injected colliding digest in tests/cpp/store_test.cpp.)
"""

from __future__ import annotations

import pytest
from conftest import Calls, caching_router, make_app, open_client

from fastapi_caching_route import FastAPICache, RedisBackend

pytestmark = pytest.mark.anyio


async def test_another_urls_entry_under_our_redis_key_is_never_served(redis_url: str) -> None:
    backend = RedisBackend.from_url(redis_url)
    cache = FastAPICache(backend)
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/doc/{name}")
    def document(name: str) -> dict[str, str]:
        calls()
        return {"document": name}

    try:
        async with open_client(make_app(router)) as client:
            assert (await client.get("/doc/public")).headers["x-cache"] == "MISS"
            # What a digest collision looks like: /doc/public's entry where /doc/secret's
            # digest points.
            value = await backend.client.get(backend.redis_key("GET /doc/public"))
            assert value is not None
            await backend.client.set(backend.redis_key("GET /doc/secret"), value)
            answers = [await client.get("/doc/secret") for _ in range(2)]
        assert [a.json() for a in answers] == [{"document": "secret"}] * 2
        assert [a.headers["x-cache"] for a in answers] == ["MISS", "HIT"]
        assert calls.count == 2
        assert backend.stats()["rejected_values"] == 1
    finally:
        await backend.close()
