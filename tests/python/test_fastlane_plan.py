"""What the lanes (the fast lane before routing, the edge lane before the
middleware) answer is what the route would: the same methods, keys, counters,
conditions and early-dependency headers, on every backend."""

from __future__ import annotations

import pytest
from conftest import Calls, MakeCache, caching_router, make_app, open_client
from fastapi import Request
from test_fastlane_lane_hits import _spy_on_routing
from test_route_freshness import NOW, Clock, Origin, clock  # noqa: F401

pytestmark = pytest.mark.anyio


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
