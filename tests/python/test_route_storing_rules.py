"""How a miss is stored and how a 304 freshens a stored entry, pinned where
users see it: the entry's Last-Modified, tags and freshness after a 304
(RFC 9111 section 4.3.4), the cache-wide stale windows, a route's tags on
every stored coding, and the checks on what a tags function returns.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import CLOCK_START, Calls, Clock, MakeCache, caching_router, make_app, open_client
from fastapi import Request, Response
from fastapi.responses import PlainTextResponse

pytestmark = pytest.mark.anyio

NOW = CLOCK_START  # the clock fixture starts here
MINUS_DAY = "Mon, 13 Nov 2023 22:13:20 GMT"
MINUS_HOUR = "Tue, 14 Nov 2023 21:13:20 GMT"
MINUS_MINUTE = "Tue, 14 Nov 2023 22:12:20 GMT"


class Revalidated:
    """GET /r: a 200 with ETag "e1" and ``fields``; a 304 with ``not_modified``
    when asked If-None-Match "e1". Counts the 200s and the 304s."""

    def __init__(self, fields: dict[str, str], not_modified: dict[str, str]) -> None:
        self.fields = fields
        self.not_modified = not_modified
        self.calls = Calls()

    def router(self, cache: Any, **options: Any) -> Any:
        router = caching_router()

        @cache(**options)
        @router.get("/r")
        def resource(request: Request) -> Response:
            self.calls()
            if request.headers.get("if-none-match") == '"e1"':
                return Response(status_code=304, headers={"etag": '"e1"', **self.not_modified})
            return PlainTextResponse("body", headers={"etag": '"e1"', **self.fields})

        return router


# --- a 304 freshens the entry from its own fields (RFC 9111 section 4.3.4) ---------------


async def test_a_304_s_last_modified_becomes_the_entry_s(
    make_cache: MakeCache, clock: Clock
) -> None:
    # Section 4.3.4: the cache updates the stored response with the 304's fields,
    # Last-Modified included; If-Modified-Since on later hits (RFC 9110 section
    # 13.1.3) compares against the new date, not the one first stored.
    origin = Revalidated(
        {"cache-control": "max-age=10", "last-modified": MINUS_DAY},
        {"cache-control": "max-age=10", "last-modified": MINUS_MINUTE},
    )
    async with open_client(make_app(origin.router(make_cache()))) as client:
        await client.get("/r")
        clock.now = NOW + 20
        await client.get("/r")  # stale: revalidated, freshened by the 304
        clock.now = NOW + 25
        hit = await client.get("/r", headers={"if-modified-since": MINUS_HOUR})
    assert origin.calls.count == 2
    assert hit.headers["last-modified"] == MINUS_MINUTE
    # Modified after MINUS_HOUR: the full response, not a 304.
    assert (hit.status_code, hit.text, hit.headers["x-cache"]) == (200, "body", "HIT")


async def test_a_304_s_cache_control_sets_the_new_lifetime(
    make_cache: MakeCache, clock: Clock
) -> None:
    # Section 4.3.4: freshness is computed anew from the updated fields.
    origin = Revalidated({"cache-control": "max-age=10"}, {"cache-control": "max-age=100"})
    async with open_client(make_app(origin.router(make_cache()))) as client:
        await client.get("/r")
        clock.now = NOW + 20
        await client.get("/r")
        clock.now = NOW + 80  # 60 s after the 304: stale by the old lifetime, fresh by the new
        hit = await client.get("/r")
    assert hit.headers["x-cache"] == "HIT"
    assert origin.calls.count == 2


async def test_a_304_s_cdn_cache_control_sets_the_new_lifetime(
    make_cache: MakeCache, clock: Clock
) -> None:
    # RFC 9213 section 2.1: with CDN-Cache-Control on, a cache that finds one
    # "MUST ignore ... Cache-Control" -- after a 304 as on the first store.
    fields = {"cdn-cache-control": "max-age=10", "cache-control": "max-age=1000"}
    origin = Revalidated(fields, fields)
    async with open_client(make_app(origin.router(make_cache(cdn_cache_control=True)))) as client:
        await client.get("/r")
        clock.now = NOW + 20
        await client.get("/r")
        clock.now = NOW + 35  # 15 s after the 304: stale by CDN-Cache-Control
        later = await client.get("/r")
    assert later.headers["age"] == "0"  # revalidated again, not a 15 s old hit
    assert origin.calls.count == 3


async def test_a_freshened_entry_keeps_its_tags(make_cache: MakeCache, clock: Clock) -> None:
    cache = make_cache()
    origin = Revalidated({"cache-control": "max-age=10"}, {"cache-control": "max-age=100"})
    async with open_client(make_app(origin.router(cache, tags=["things"]))) as client:
        await client.get("/r")
        clock.now = NOW + 20
        await client.get("/r")  # freshened by a 304
        await cache.invalidate_tags("things")
        clock.now = NOW + 25
        after = await client.get("/r")
    assert after.headers["x-cache"] == "MISS"
    assert origin.calls.count == 3


# --- the cache-wide stale windows apply to routes that set none --------------------------


async def test_the_cache_wide_stale_if_error_window_applies(
    make_cache: MakeCache, clock: Clock
) -> None:
    # RFC 5861 section 4, set once on FastAPICache for every route.
    cache = make_cache(stale_if_error=60)
    router = caching_router()
    failing = {"now": False}

    @cache(ttl=10)
    @router.get("/s")
    def endpoint() -> Response:
        return PlainTextResponse("v", status_code=500 if failing["now"] else 200)

    async with open_client(make_app(router)) as client:
        await client.get("/s")
        clock.now = NOW + 30
        failing["now"] = True
        answer = await client.get("/s")
    assert (answer.status_code, answer.text, answer.headers["x-cache"]) == (200, "v", "STALE")


async def test_the_cache_wide_stale_while_revalidate_window_applies(
    make_cache: MakeCache, clock: Clock
) -> None:
    # RFC 5861 section 3, set once on FastAPICache for every route.
    cache = make_cache(stale_while_revalidate=60)
    router = caching_router()
    calls = Calls()

    @cache(ttl=10)
    @router.get("/s")
    def endpoint() -> Response:
        calls()
        return PlainTextResponse(f"v{calls.count}")

    async with open_client(make_app(router)) as client:
        await client.get("/s")
        clock.now = NOW + 30
        answer = await client.get("/s")
        await cache.wait_for_refreshes()
    assert (answer.text, answer.headers["x-cache"]) == ("v1", "STALE")


# --- a route's tags reach every stored coding ---------------------------------------------


@pytest.mark.parametrize("accept_encoding", ["identity", "gzip", "br"])
async def test_invalidating_a_tag_removes_every_coding(
    make_cache: MakeCache, accept_encoding: str
) -> None:
    # The body is stored once per coding; each of those entries carries the tags.
    cache = make_cache(invalidate_on_unsafe=False)
    router = caching_router()
    calls = Calls()

    @cache(ttl=60, tags=["docs"], compress=True)
    @router.get("/doc")
    def doc() -> Response:
        calls()
        return PlainTextResponse("compressible text " * 200)

    headers = {"accept-encoding": accept_encoding}
    async with open_client(make_app(router)) as client:
        first = await client.get("/doc", headers=headers)
        await cache.invalidate_tags("docs")
        after = await client.get("/doc", headers=headers)
    assert first.headers["x-cache"] == "MISS"
    assert after.headers["x-cache"] == "MISS"
    assert calls.count == 2


# --- what a tags function returns is checked --------------------------------------------


@pytest.mark.parametrize("bad", [[""], [5], ["ok", ""]])
async def test_a_tags_function_returning_a_non_str_or_empty_tag_stores_nothing(
    make_cache: MakeCache, bad: list[Any]
) -> None:
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache(ttl=60, tags=lambda request: bad)
    @router.get("/t")
    def tagged() -> Response:
        calls()
        return PlainTextResponse("served")

    async with open_client(make_app(router)) as client:
        answers = [await client.get("/t") for _ in range(2)]
    assert [(a.status_code, a.text) for a in answers] == [(200, "served")] * 2
    assert all("x-cache" not in a.headers for a in answers)
    assert calls.count == 2
    assert cache.stats()["route"]["tag_errors"] == 2


async def test_a_freshened_entry_keeps_its_media_type(make_cache: MakeCache, clock: Clock) -> None:
    # get_cached() hands out what the route stored; a 304 changes fields, not the media type.
    cache = make_cache()
    origin = Revalidated({"cache-control": "max-age=10"}, {"cache-control": "max-age=100"})
    app = make_app(origin.router(cache, key_builder=lambda request: "the-key"))
    async with open_client(app) as client:
        await client.get("/r")
        clock.now = NOW + 20
        await client.get("/r")  # freshened by a 304
    assert origin.calls.count == 2
    stored = await cache.get_cached("the-key")
    assert stored is not None
    assert stored["media_type"] == "text/plain"


# --- the stored Last-Modified is parsed as of the response's time ---------------------------


@pytest.mark.parametrize(
    ("since", "status"), [(MINUS_MINUTE, 304), (MINUS_HOUR, 200)], ids=["same", "earlier"]
)
async def test_an_rfc_850_last_modified_is_read_in_the_right_century(
    make_cache: MakeCache, clock: Clock, since: str, status: int
) -> None:
    # RFC 9110 section 5.6.7: a two-digit year "that appears to be more than 50
    # years in the future" is in the past century -- judged from now (2023),
    # "23" is 2023, and If-Modified-Since on hits compares against that date.
    cache = make_cache()
    router = caching_router()

    @cache(ttl=60)
    @router.get("/old")
    def old() -> Response:
        return PlainTextResponse(
            "body", headers={"last-modified": "Tuesday, 14-Nov-23 22:12:20 GMT"}
        )

    async with open_client(make_app(router)) as client:
        await client.get("/old")
        hit = await client.get("/old", headers={"if-modified-since": since})
    assert (hit.status_code, hit.headers["x-cache"]) == (status, "HIT")
