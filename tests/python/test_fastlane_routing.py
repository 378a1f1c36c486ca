"""The fast lane answers only requests that routing would have sent to the route.

SPEC section 5: "Serve only what routing would have chosen: the fast lane
never answers a request that routing would send elsewhere (Host routes,
mounts, custom matching)."
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Calls, caching_router, open_client
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from starlette.routing import Host, Match, Mount, Route
from starlette.types import Scope

from fastapi_caching_route import CachingRoute, FastAPICache
from fastapi_caching_route._fastlane import FastLane

pytestmark = pytest.mark.anyio


def _public_router(cache: FastAPICache, calls: Calls) -> Any:
    router = caching_router()

    @cache()
    @router.get("/data")
    def data() -> str:
        calls()
        return "public data"

    return router


def _admin_app() -> FastAPI:
    admin = FastAPI()

    @admin.get("/data")
    def admin_data() -> str:
        return "admin data"

    return admin


@pytest.mark.parametrize("fast_lane", [True, False])
async def test_host_routes_are_respected(fast_lane: bool) -> None:
    cache = FastAPICache(fast_lane=fast_lane)
    calls = Calls()
    app = FastAPI()
    app.router.routes.append(Host("admin.example.com", app=_admin_app()))
    app.include_router(_public_router(cache, calls))
    async with open_client(app) as client:
        public = [await client.get("/data") for _ in range(3)]
        admin = await client.get("/data", headers={"host": "admin.example.com"})
        public_again = await client.get("/data")
    assert [r.json() for r in public] == ["public data"] * 3
    assert admin.json() == "admin data"  # 0.7.0's lane served the public body here
    assert "x-cache" not in admin.headers
    assert public_again.headers["x-cache"] == "HIT"
    assert not isinstance(app.router.middleware_stack, FastLane)


async def test_a_host_route_added_later_stops_the_lane() -> None:
    cache = FastAPICache()
    calls = Calls()
    app = FastAPI()
    app.include_router(_public_router(cache, calls))
    async with open_client(app) as client:
        for _ in range(3):
            await client.get("/data")
        assert isinstance(app.router.middleware_stack, FastLane)
        app.router.routes.insert(0, Host("admin.example.com", app=_admin_app()))
        await client.get("/data")  # relearns: the routes changed
        admin = await client.get("/data", headers={"host": "admin.example.com"})
    assert admin.json() == "admin data"


class _HeaderRoute(Route):
    """Matches only requests carrying X-Beta: a route with its own matching."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (b"x-beta", b"1") not in scope.get("headers", []):
            return Match.NONE, {}
        return super().matches(scope)


async def test_a_route_with_its_own_matching_is_respected() -> None:
    cache = FastAPICache()
    calls = Calls()
    app = FastAPI()

    async def beta(request: Any) -> PlainTextResponse:
        return PlainTextResponse("beta")

    app.router.routes.append(_HeaderRoute("/data", beta))
    app.include_router(_public_router(cache, calls))
    async with open_client(app) as client:
        for _ in range(3):
            await client.get("/data")
        beta_answer = await client.get("/data", headers={"x-beta": "1"})
    assert beta_answer.text == "beta"


class _CustomCachingRoute(CachingRoute):
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (b"x-skip", b"1") in scope.get("headers", []):
            return Match.NONE, {}
        return super().matches(scope)


async def test_a_caching_route_subclass_with_its_own_matching_is_respected() -> None:
    cache = FastAPICache()
    app = FastAPI()
    router = caching_router()
    router.route_class = _CustomCachingRoute

    @cache()
    @router.get("/data")
    def data() -> str:
        return "cached"

    app.include_router(router)

    @app.get("/data")
    def fallback() -> str:
        return "fallback"

    async with open_client(app) as client:
        for _ in range(3):
            await client.get("/data")
        skipped = await client.get("/data", headers={"x-skip": "1"})
    assert skipped.json() == "fallback"


async def test_a_mounted_app_with_host_routes_keeps_its_routing() -> None:
    cache = FastAPICache()
    calls = Calls()
    inner = FastAPI()
    inner.router.routes.append(Host("admin.example.com", app=_admin_app()))
    inner.include_router(_public_router(cache, calls))
    app = FastAPI()
    app.router.routes.append(Mount("/sub", app=inner))
    async with open_client(app) as client:
        public = [await client.get("/sub/data") for _ in range(3)]
        admin = await client.get("/sub/data", headers={"host": "admin.example.com"})
    assert [r.headers.get("x-cache") for r in public] == ["MISS", "HIT", "HIT"]
    assert admin.json() == "admin data"
    assert calls.count == 1


async def test_a_mount_in_front_takes_its_paths() -> None:
    cache = FastAPICache()
    calls = Calls()
    app = FastAPI()
    other = FastAPI()

    @other.get("/x")
    def other_x() -> str:
        return "mounted"

    app.include_router(_public_router(cache, calls))
    app.router.routes.append(Mount("/data", app=other))
    async with open_client(app) as client:
        for _ in range(3):
            assert (await client.get("/data")).json() == "public data"
        mounted = await client.get("/data/x")
    assert mounted.json() == "mounted"
    assert isinstance(app.router.middleware_stack, FastLane)  # path-only routing: lane on
