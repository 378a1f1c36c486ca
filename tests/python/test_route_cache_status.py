"""Cache-Status (RFC 9211) and CDN-Cache-Control (RFC 9213), both opt-in."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Calls, MakeCache, caching_router, make_app, open_client
from fastapi import Request, Response
from fastapi.responses import PlainTextResponse

from fastapi_caching_route import FastAPICache

pytestmark = pytest.mark.anyio


def _router(cache: FastAPICache, calls: Calls, headers: dict[str, str], **options: Any) -> Any:
    router = caching_router()

    @cache(**options)
    @router.get("/r")
    def resource(request: Request) -> Response:
        calls()
        return PlainTextResponse(f"r{calls.count}", headers=headers)

    return router


async def test_cache_status_on_misses_hits_and_bypasses(make_cache: MakeCache) -> None:
    # RFC 9211 section 2: "hit", "fwd" with its reason, "stored", "ttl".
    cache = make_cache(cache_status=True, cache_status_name="edge")
    router = _router(cache, Calls(), {"cache-control": "max-age=60"})
    async with open_client(make_app(router)) as client:
        miss = await client.get("/r")
        hit = await client.get("/r")
        bypass = await client.get("/r", headers={"authorization": "Bearer x"})
    assert miss.headers["cache-status"] == "edge; fwd=uri-miss; stored"
    assert hit.headers["cache-status"].startswith("edge; hit; ttl=")
    assert int(hit.headers["cache-status"].rsplit("=", 1)[1]) in range(58, 61)
    assert bypass.headers["cache-status"] == "edge; fwd=bypass; detail=credentials"
    assert miss.headers["x-cache"] == "MISS"  # X-Cache stays as it is


async def test_cache_status_off_by_default(make_cache: MakeCache) -> None:
    router = _router(make_cache(), Calls(), {})
    async with open_client(make_app(router)) as client:
        responses = [await client.get("/r") for _ in range(2)]
    assert all("cache-status" not in r.headers for r in responses)


async def test_cache_status_of_a_response_not_stored(make_cache: MakeCache) -> None:
    cache = make_cache(cache_status=True)
    router = _router(cache, Calls(), {"cache-control": "no-store"})
    async with open_client(make_app(router)) as client:
        response = await client.get("/r")
    assert response.headers["cache-status"] == "fastapi-caching-route; fwd=uri-miss"


async def test_cache_status_of_a_revalidated_entry_is_one_member(make_cache: MakeCache) -> None:
    # RFC 9211 section 2: each cache adds one member; a stored response sent
    # after asking the endpoint is "fwd=stale" with its "fwd-status", not a hit.
    calls = Calls()
    cache = make_cache(cache_status=True)
    router = caching_router()

    @cache()
    @router.get("/r")
    def resource(request: Request) -> Response:
        calls()
        if request.headers.get("if-none-match") == '"v1"':
            return Response(status_code=304, headers={"etag": '"v1"'})
        return PlainTextResponse("r", headers={"cache-control": "no-cache", "etag": '"v1"'})

    async with open_client(make_app(router)) as client:
        await client.get("/r")
        revalidated = await client.get("/r")
    assert revalidated.status_code == 200
    assert revalidated.headers.get_list("cache-status") == [
        "fastapi-caching-route; fwd=stale; fwd-status=304"
    ]
    assert calls.count == 2


async def test_cache_status_says_why_the_cache_stayed_out(make_cache: MakeCache) -> None:
    # RFC 9211 section 2.2: fwd says why the request went on to the endpoint;
    # detail (section 2.8) says more: a method the route does not cache, a key
    # that could not be built, a key over max_key_length.
    cache = make_cache(cache_status=True, max_key_length=16)
    router = caching_router()

    @cache(cached_methods=("GET",))
    @router.api_route("/m", methods=["GET", "POST"])
    def either() -> str:
        return "either"

    def failing_key(request: Request) -> str:
        raise ValueError("no key")

    @cache(key_builder=failing_key)
    @router.get("/k")
    def unkeyed() -> str:
        return "unkeyed"

    @cache()
    @router.get("/long/{name}")
    def named(name: str) -> str:
        return name

    async with open_client(make_app(router)) as client:
        posted = await client.post("/m")
        unkeyed_answer = await client.get("/k")
        too_long = await client.get("/long/" + "z" * 32)
    name = "fastapi-caching-route"
    assert posted.headers.get_list("cache-status") == [f"{name}; fwd=method"]
    assert unkeyed_answer.headers.get_list("cache-status") == [f"{name}; fwd=bypass; detail=key"]
    assert too_long.headers.get_list("cache-status") == [f"{name}; fwd=bypass; detail=key-too-long"]
    assert [r.status_code for r in (posted, unkeyed_answer, too_long)] == [200, 200, 200]


def test_cache_status_name_must_be_a_token() -> None:
    with pytest.raises(ValueError, match="cache_status_name"):
        FastAPICache(cache_status=True, cache_status_name="two words")


async def test_cdn_cache_control_decides_for_the_cache(make_cache: MakeCache) -> None:
    # RFC 9213 section 2.1: the cache uses CDN-Cache-Control and ignores
    # Cache-Control, which stays for browsers.
    calls = Calls()
    cache = make_cache(cdn_cache_control=True)
    headers = {"cache-control": "no-store", "cdn-cache-control": "max-age=60"}
    router = _router(cache, calls, headers)
    async with open_client(make_app(router)) as client:
        responses = [await client.get("/r") for _ in range(2)]
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT"]
    assert responses[1].headers["cache-control"] == "no-store"
    assert responses[1].headers["cdn-cache-control"] == "max-age=60"
    assert calls.count == 1


async def test_cdn_cache_control_may_forbid_storing(make_cache: MakeCache) -> None:
    calls = Calls()
    cache = make_cache(cdn_cache_control=True)
    router = _router(cache, calls, {"cache-control": "max-age=60", "cdn-cache-control": "no-store"})
    async with open_client(make_app(router)) as client:
        for _ in range(2):
            await client.get("/r")
    assert calls.count == 2


async def test_cdn_cache_control_ignored_unless_on_and_stripped_when_asked(
    make_cache: MakeCache,
) -> None:
    calls = Calls()
    headers = {"cache-control": "max-age=60", "cdn-cache-control": "no-store"}
    plain = _router(make_cache(), calls, headers)
    async with open_client(make_app(plain)) as client:
        ignored = [await client.get("/r") for _ in range(2)]
    assert ignored[1].headers["x-cache"] == "HIT"
    stripping = _router(make_cache(cdn_cache_control=True, strip_cdn_cache_control=True), calls,
                        {"cdn-cache-control": "max-age=60"}, namespace="stripping")  # fmt: skip
    async with open_client(make_app(stripping)) as client:
        stripped = [await client.get("/r") for _ in range(2)]
    assert all("cdn-cache-control" not in r.headers for r in stripped)
    assert stripped[1].headers["x-cache"] == "HIT"
