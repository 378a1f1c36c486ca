"""What the lanes (the fast lane before routing, the edge lane before the
middleware) answer is what the route would: the same methods, keys, counters,
conditions and early-dependency headers, on every backend."""

from __future__ import annotations

import pytest
import test_route_freshness
from conftest import Calls, MakeCache, caching_router, make_app, open_client
from fastapi import Depends, Request
from fastapi.responses import PlainTextResponse
from test_edge import _app as edge_app
from test_fastlane_lane_hits import _spy_on_routing
from test_route_dependencies import _stamp, _teapot
from test_route_freshness import NOW, Clock, Origin

from fastapi_caching_route import FastAPICache

pytestmark = pytest.mark.anyio

clock = test_route_freshness.clock  # the fixture moving the route's clock by hand


# --- methods and keys ------------------------------------------------------------------


async def test_head_is_cached_as_get_when_only_get_is_cached(make_cache: MakeCache) -> None:
    # cached_methods=("GET",) covers HEAD (a GET without the body), on the
    # route and on the lane; POST passes through uncached.
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache(cached_methods=("GET",))
    @router.api_route("/m", methods=["GET", "POST"])
    def by_method(request: Request) -> str:
        calls()
        return request.method

    app = make_app(router)
    asked = _spy_on_routing(app)
    async with open_client(app) as client:
        gets = [await client.get("/m") for _ in range(3)]
        heads = [await client.head("/m") for _ in range(3)]
        posts = [await client.post("/m") for _ in range(2)]
    assert [r.headers["x-cache"] for r in gets] == ["MISS", "HIT", "HIT"]
    assert [(r.status_code, r.headers["x-cache"], r.content) for r in heads] == [
        (200, "HIT", b"")
    ] * 3
    assert [(r.json(), r.headers.get("x-cache")) for r in posts] == [("POST", None)] * 2
    assert calls.count == 3  # the GET miss and both POSTs
    # Routed: the GET miss, the GET that taught the lane, the first HEAD, both POSTs.
    assert asked == ["/m"] * 5


async def test_the_lane_never_answers_another_method_with_the_get_entry(
    make_cache: MakeCache,
) -> None:
    # Every method is cached, each under its own key: a lane hit for POST is
    # the POST's entry, never the GET's (with invalidate_on_unsafe a POST would
    # drop the path's entries instead).
    cache = make_cache(invalidate_on_unsafe=False)
    router = caching_router()

    @cache()
    @router.api_route("/m", methods=["GET", "POST"])
    def by_method(request: Request) -> str:
        return request.method

    async with open_client(make_app(router)) as client:
        gets = [await client.get("/m") for _ in range(3)]
        posts = [await client.post("/m") for _ in range(3)]
    assert [(r.json(), r.headers["x-cache"]) for r in gets] == [
        ("GET", "MISS"),
        ("GET", "HIT"),
        ("GET", "HIT"),
    ]
    assert [(r.json(), r.headers["x-cache"]) for r in posts] == [
        ("POST", "MISS"),
        ("POST", "HIT"),
        ("POST", "HIT"),
    ]


# --- what early dependencies set, on lane hits -------------------------------------------


async def test_lane_hits_carry_the_headers_and_status_early_dependencies_set() -> None:
    _stamp.count = 0  # type: ignore[attr-defined]
    cache = FastAPICache()
    router = caching_router()

    @cache(dependencies=[Depends(_stamp), Depends(_teapot)])
    @router.get("/stamped")
    def stamped() -> str:
        return "body"

    app = make_app(router)
    asked = _spy_on_routing(app)
    async with open_client(app) as client:
        answers = [await client.get("/stamped") for _ in range(4)]
    assert asked == ["/stamped"] * 2  # the last two are lane hits
    assert [(r.status_code, r.headers["x-cache"]) for r in answers] == [
        (203, "MISS"),
        (203, "HIT"),
        (203, "HIT"),
        (203, "HIT"),
    ]
    assert [r.headers["x-request-stamp"] for r in answers] == ["1", "2", "3", "4"]


# --- the edge lane learns only edge=True routes, also from lane hits -------------------


async def test_a_route_not_marked_for_the_edge_is_never_learned_there_from_lane_hits() -> None:
    cache = FastAPICache()
    app = cache.edge(edge_app(cache, Calls()))
    async with open_client(app) as client:  # type: ignore[arg-type]
        # miss, routed hit (teaches the fast lane), then fast-lane hits
        answers = [await client.get("/inner") for _ in range(4)]
    assert [r.headers["x-cache"] for r in answers] == ["MISS", "HIT", "HIT", "HIT"]
    assert all(r.headers["x-middleware"] == "seen" for r in answers)


async def test_a_fast_lane_hit_teaches_the_edge_lane() -> None:
    # The fast lane knew /edge before the app was wrapped: its hit, not
    # routing, is what tells the edge lane about the path.
    cache = FastAPICache()
    calls = Calls()
    inner = edge_app(cache, calls)
    async with open_client(inner) as client:
        for _ in range(3):
            await client.get("/edge?q=a")
    async with open_client(cache.edge(inner)) as client:  # type: ignore[arg-type]
        answers = [await client.get("/edge?q=a") for _ in range(3)]
    assert [r.headers["x-cache"] for r in answers] == ["HIT"] * 3
    assert [r.headers.get("x-middleware") for r in answers] == ["seen", None, None]
    assert calls.count == 1


# --- counters --------------------------------------------------------------------------


@pytest.mark.parametrize("fast_lane", [True, False])
async def test_every_stale_answer_is_counted(
    make_cache: MakeCache, clock: Clock, fast_lane: bool
) -> None:
    cache = make_cache(fast_lane=fast_lane, cache_status=True)
    origin = Origin({"cache-control": "max-age=10, stale-while-revalidate=100"})
    async with open_client(make_app(origin.router(cache))) as client:
        await client.get("/r")
        await client.get("/r")  # routed: teaches the lane
        stale = []
        for step in (20, 40):  # stale again after each refresh
            clock.now = NOW + step
            stale.append(await client.get("/r"))
            assert await cache.wait_for_refreshes()
    assert [r.headers["x-cache"] for r in stale] == ["STALE", "STALE"]
    assert [r.headers["cache-status"] for r in stale] == ["fastapi-caching-route; fwd=stale"] * 2
    assert cache.stats()["route"]["stale_answers"] == 2


# --- conditions on routed native hits ---------------------------------------------------


async def test_a_routed_native_hit_honours_if_range() -> None:
    # RFC 9110 section 13.1.5: a Range whose If-Range does not match gets the
    # whole representation.
    cache = FastAPICache(fast_lane=False)  # every hit goes through the route
    router = caching_router()

    @cache()
    @router.get("/text")
    def text() -> PlainTextResponse:
        return PlainTextResponse("abcdef")

    async with open_client(make_app(router)) as client:
        etag = (await client.get("/text")).headers["etag"]
        ranged = {"range": "bytes=0-1"}
        matching = await client.get("/text", headers={**ranged, "if-range": etag})
        other = await client.get("/text", headers={**ranged, "if-range": '"other"'})
    assert (matching.status_code, matching.text) == (206, "ab")
    assert (other.status_code, other.text, other.headers["x-cache"]) == (200, "abcdef", "HIT")
