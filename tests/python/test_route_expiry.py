"""An entry is served only within its lifetime, up to the boundary and not at it,
on the stores outside the engine (the route checks the lifetime of what they
return; the native store's own expiry is pinned in tests/cpp/store_test.cpp,
StoreTest.TtlExpiresAtTheBoundary).

The route's clock (``time`` inside ``_plan``) is replaced, so the boundary is
exact; Redis and aiocache keep the entry for their own (real-time) ttl meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiocache import SimpleMemoryCache
from conftest import Calls, Clock, caching_router, make_app, open_client

from fastapi_caching_route import FastAPICache, RedisBackend

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["aiocache", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[FastAPICache]:
    if request.param == "aiocache":
        yield FastAPICache(SimpleMemoryCache())
        return
    backend = RedisBackend.from_url(request.getfixturevalue("redis_url"))
    yield FastAPICache(backend)
    await backend.close()


@pytest.mark.parametrize("ttl", [60, 0.9])  # 0.9: a lifetime under a second
async def test_an_entry_is_served_until_its_lifetime_ends_and_not_at_the_end(
    cache: FastAPICache, clock: Clock, ttl: float
) -> None:
    router = caching_router()
    calls = Calls()

    @cache(ttl=ttl)
    @router.get("/e")
    def endpoint() -> int:
        calls()
        return calls.count

    async with open_client(make_app(router)) as client:
        stored_at = clock.now
        assert (await client.get("/e")).headers["x-cache"] == "MISS"
        clock.now = stored_at + ttl - 0.001
        just_before = await client.get("/e")
        clock.now = stored_at + ttl
        at_the_end = await client.get("/e")
    assert (just_before.headers["x-cache"], just_before.json()) == ("HIT", 1)
    assert (at_the_end.headers["x-cache"], at_the_end.json()) == ("MISS", 2)
