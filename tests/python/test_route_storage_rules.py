"""What a route stores, pinned where users see it: a route ``ttl`` never
overrides ``no-store``, only accepted statuses are stored, and a ``no-cache``
entry is never replayed -- not even to requests coalesced behind a leader.

Each rule here once survived a planted one-line mistake with every other test
green (issue 12); each test runs on every backend.
"""

from __future__ import annotations

import asyncio

import pytest
from conftest import Calls, MakeCache, caching_router, make_app, open_client
from fastapi import Response
from fastapi.responses import PlainTextResponse

pytestmark = pytest.mark.anyio

BODY = "storage rules"


# --- a route ttl does not override the response's no-store -------------------------------


@pytest.mark.parametrize("value", ["no-store", "public, max-age=600, no-store", "private"])
async def test_a_route_ttl_never_overrides_no_store_or_private(
    make_cache: MakeCache, value: str
) -> None:
    # RFC 9111 section 3: a cache "MUST NOT store a response ... unless ... the
    # no-store cache directive is not present in the response". The route's ttl
    # sets the lifetime of what may be stored; it is not an opt-in to storing.
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache(ttl=60)
    @router.get("/secret")
    def secret() -> Response:
        calls()
        return PlainTextResponse(BODY, headers={"cache-control": value})

    async with open_client(make_app(router)) as client:
        responses = [await client.get("/secret") for _ in range(3)]
    assert calls.count == 3
    for response in responses:
        assert (response.status_code, response.text) == (200, BODY)
        assert "x-cache" not in response.headers
        assert response.headers["cache-control"] == value
    verdict = "private" if value == "private" else "no_store"
    assert cache.stats()["route"][f"not_stored_{verdict}"] == 3


async def test_a_route_ttl_never_turns_off_no_cache_revalidation(make_cache: MakeCache) -> None:
    # RFC 9111 section 5.2.2.4: a no-cache response "MUST NOT be used to satisfy
    # any other request without forwarding it for validation".
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache(ttl=60)
    @router.get("/validated")
    def validated() -> Response:
        calls()
        return PlainTextResponse(BODY, headers={"cache-control": "no-cache"})

    async with open_client(make_app(router)) as client:
        responses = [await client.get("/validated") for _ in range(3)]
    assert calls.count == 3
    assert all(r.headers.get("x-cache") != "HIT" for r in responses)


# --- only accepted statuses are stored ---------------------------------------------------


@pytest.mark.parametrize("status", [201, 203, 204, 206, 299])
async def test_default_configuration_stores_no_2xx_but_200(
    make_cache: MakeCache, status: int
) -> None:
    # accepted_status_codes defaults to {200}: another 2xx is not "any success".
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache(ttl=60)
    @router.get("/status")
    def answer() -> Response:
        calls()
        return Response(b"" if status == 204 else b"partial", status_code=status)

    async with open_client(make_app(router)) as client:
        responses = [await client.get("/status") for _ in range(3)]
    assert calls.count == 3
    for response in responses:
        assert response.status_code == status
        assert "x-cache" not in response.headers
        assert "etag" not in response.headers  # validators are added only to stored responses


async def test_accepted_status_codes_are_exactly_the_configured_set(
    make_cache: MakeCache,
) -> None:
    cache = make_cache(accepted_status_codes={203})
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/status/{status}")
    def answer(status: int) -> Response:
        calls()
        return PlainTextResponse(BODY, status_code=status)

    async with open_client(make_app(router)) as client:
        ok = [await client.get("/status/200") for _ in range(2)]
        non_authoritative = [await client.get("/status/203") for _ in range(2)]
    assert [r.headers.get("x-cache") for r in ok] == [None, None]
    assert [r.headers.get("x-cache") for r in non_authoritative] == ["MISS", "HIT"]
    assert calls.count == 3


# --- no-cache entries are never replayed, coalesced followers included ------------------


async def test_coalesced_followers_are_not_served_a_no_cache_entry(make_cache: MakeCache) -> None:
    # RFC 9111 section 5.2.2.4: no-cache means the response "MUST NOT be used to
    # satisfy any other request without forwarding it for validation". The
    # leader stores it (marked for revalidation); its followers must run the
    # endpoint themselves rather than replay it.
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/slow")
    async def slow() -> Response:
        calls()
        await asyncio.sleep(0.3)  # long enough for all four to be waiting on the leader
        return PlainTextResponse(BODY, headers={"cache-control": "no-cache"})

    async with open_client(make_app(router)) as client:
        responses = await asyncio.gather(*(client.get("/slow") for _ in range(4)))
        later = await client.get("/slow")
    assert calls.count == 5
    for response in (*responses, later):
        assert (response.status_code, response.text) == (200, BODY)
        assert response.headers.get("x-cache") != "HIT"
    route = cache.stats()["route"]
    assert route["coalesced"] == 3  # they did wait for the leader ...
    assert route["coalesce_fell_through"] == 3  # ... and then ran the endpoint
