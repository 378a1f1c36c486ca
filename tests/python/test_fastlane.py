"""The fast lane answers hits before routing with the same results as the route."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Calls, caching_router, make_app, open_client
from fastapi import APIRouter, Depends, FastAPI, Request, WebSocket
from fastapi.testclient import TestClient
from starlette.middleware.base import BaseHTTPMiddleware

from fastapi_caching_route import FastAPICache
from fastapi_caching_route._fastlane import FastLane

pytestmark = pytest.mark.anyio


def _app(cache: FastAPICache, calls: Calls) -> FastAPI:
    router = caching_router()

    @cache()
    @router.get("/items")
    def items(q: str = "x") -> dict[str, Any]:
        calls()
        return {"q": q, "calls": calls.count}

    return make_app(router)


async def test_lane_installs_and_answers_hits_identically() -> None:
    calls = Calls()
    app = _app(FastAPICache(), calls)
    async with open_client(app) as client:
        first = await client.get("/items?q=a")
        routed_hit = await client.get("/items?q=a")  # installs and teaches the lane
        lane_hit = await client.get("/items?q=a")
    assert isinstance(app.router.middleware_stack, FastLane)
    assert calls.count == 1
    assert first.headers["x-cache"] == "MISS"
    for hit in (routed_hit, lane_hit):
        assert hit.headers["x-cache"] == "HIT"
        assert hit.content == first.content
        assert hit.headers["etag"] == first.headers["etag"]


async def test_lane_off_routes_every_request() -> None:
    calls = Calls()
    app = _app(FastAPICache(fast_lane=False), calls)
    async with open_client(app) as client:
        for _ in range(3):
            await client.get("/items")
    assert not isinstance(app.router.middleware_stack, FastLane)
    assert calls.count == 1


async def test_app_middleware_still_wraps_lane_hits() -> None:
    calls = Calls()
    app = _app(FastAPICache(), calls)
    seen_routes: list[Any] = []

    async def mark(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["x-wrapped"] = "yes"
        seen_routes.append(request.scope.get("route"))
        return response

    app.add_middleware(BaseHTTPMiddleware, dispatch=mark)
    async with open_client(app) as client:
        responses = [await client.get("/items") for _ in range(4)]
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT", "HIT", "HIT"]
    assert all(r.headers["x-wrapped"] == "yes" for r in responses)
    # What routing sets (the route) is there on lane hits too, for instrumentation.
    assert all(route is not None and route.path == "/items" for route in seen_routes)


async def test_a_lane_miss_is_looked_up_once() -> None:
    cache = FastAPICache()
    app = _app(cache, Calls())
    async with open_client(app) as client:
        await client.get("/items?q=a")
        await client.get("/items?q=a")  # lane learns /items
        misses_before = cache.stats()["misses"]
        await client.get("/items?q=b")  # a lane miss, then the route stores it
    assert cache.stats()["misses"] == misses_before + 1


async def test_early_dependencies_still_reject_lane_hits() -> None:
    cache = FastAPICache()
    router = caching_router()
    allowed = {"ok": True}

    def guard() -> None:
        if not allowed["ok"]:
            from fastapi import HTTPException

            raise HTTPException(status_code=403)

    @cache(dependencies=[Depends(guard)])
    @router.get("/guarded")
    def guarded() -> str:
        return "secret"

    app = make_app(router)
    async with open_client(app) as client:
        assert (await client.get("/guarded")).status_code == 200
        assert (await client.get("/guarded")).headers["x-cache"] == "HIT"
        allowed["ok"] = False
        assert (await client.get("/guarded")).status_code == 403


async def test_mounted_sub_app_middleware_is_not_skipped() -> None:
    calls = Calls()
    sub = _app(FastAPICache(), calls)

    async def tag(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["x-sub"] = "1"
        return response

    sub.add_middleware(BaseHTTPMiddleware, dispatch=tag)
    outer = FastAPI()
    outer.mount("/sub", sub)
    async with open_client(outer) as client:
        responses = [await client.get("/sub/items") for _ in range(3)]
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "HIT", "HIT"]
    assert all(r.headers["x-sub"] == "1" for r in responses)
    assert calls.count == 1


async def test_routes_added_later_reset_what_the_lane_learned() -> None:
    calls = Calls()
    cache = FastAPICache()
    app = _app(cache, calls)
    async with open_client(app) as client:
        await client.get("/items")
        await client.get("/items")
        await client.get("/items")
        lane = app.router.middleware_stack
        assert isinstance(lane, FastLane)
        # A route added in front now takes /items: the lane must not answer for it.
        override = APIRouter()

        @override.get("/items")
        def replaced() -> str:
            return "new"

        app.router.routes.insert(0, override.routes[0])
        response = await client.get("/items")
    assert response.json() == "new"
    assert "x-cache" not in response.headers


async def test_early_dependencies_run_once_per_request_through_the_lane() -> None:
    cache = FastAPICache()
    router = caching_router()
    checks: list[int] = []
    cleanups: list[int] = []
    calls = Calls()

    async def check(item_id: int) -> Any:  # reads a path parameter, and has a cleanup
        checks.append(item_id)
        yield
        cleanups.append(item_id)

    @cache(dependencies=[Depends(check)])
    @router.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        calls()
        return {"item": item_id}

    app = make_app(router)
    async with open_client(app) as client:
        statuses = [(await client.get("/items/7")).headers["x-cache"] for _ in range(4)]
        other = await client.get("/items/8")  # a lane-unknown path: routed
    assert isinstance(app.router.middleware_stack, FastLane)
    assert statuses == ["MISS", "HIT", "HIT", "HIT"]
    assert other.json() == {"item": 8}
    assert checks == [7, 7, 7, 7, 8]  # once per request, lane or route
    assert cleanups == checks
    assert calls.count == 2


async def test_lane_dependency_errors_use_the_app_exception_handlers() -> None:
    from fastapi import HTTPException
    from fastapi.responses import JSONResponse

    cache = FastAPICache()
    router = caching_router()
    allowed = {"ok": True}

    def guard() -> None:
        if not allowed["ok"]:
            raise HTTPException(status_code=401)

    @cache(dependencies=[Depends(guard)])
    @router.get("/guarded")
    def guarded() -> str:
        return "secret"

    app = make_app(router)

    @app.exception_handler(HTTPException)
    async def branded(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"brand": exc.status_code}, status_code=exc.status_code)

    async with open_client(app) as client:
        for _ in range(3):
            assert (await client.get("/guarded")).headers["x-cache"] in {"MISS", "HIT"}
        allowed["ok"] = False
        rejected = await client.get("/guarded")
    assert (rejected.status_code, rejected.json()) == (401, {"brand": 401})


async def test_lane_dependency_validation_errors_go_to_the_route() -> None:
    from fastapi import Header

    cache = FastAPICache()
    router = caching_router()

    def needs_token(x_token: str = Header()) -> None:
        return None

    @cache(dependencies=[Depends(needs_token)])
    @router.get("/token", dependencies=[Depends(needs_token)])
    def token() -> str:
        return "ok"

    app = make_app(router)
    async with open_client(app) as client:
        assert (await client.get("/token", headers={"x-token": "a"})).status_code == 200
        assert (await client.get("/token", headers={"x-token": "a"})).status_code == 200
        missing = await client.get("/token")
    assert missing.status_code == 422
    assert "x-cache" not in missing.headers


def test_websockets_pass_the_lane_untouched() -> None:
    # Only HTTP requests are looked up; a websocket goes on to routing as it came.
    calls = Calls()
    app = _app(FastAPICache(), calls)

    @app.websocket("/ws/{name}")
    async def echo(websocket: WebSocket, name: str) -> None:
        await websocket.accept()
        await websocket.send_text(f"{name}:{await websocket.receive_text()}")
        await websocket.close()

    with TestClient(app) as client:
        for _ in range(3):  # installs and teaches the lane
            assert client.get("/items?q=a").status_code == 200
        assert isinstance(app.router.middleware_stack, FastLane)
        with client.websocket_connect("/ws/lane") as websocket:
            websocket.send_text("hello")
            assert websocket.receive_text() == "lane:hello"
    assert calls.count == 1
