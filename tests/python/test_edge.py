"""The edge lane: hits of edge=True routes answered before the app's middleware."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Calls, caching_router, open_client
from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import PlainTextResponse
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.routing import Host

from fastapi_caching_route import FastAPICache

pytestmark = pytest.mark.anyio


class Stamp(BaseHTTPMiddleware):
    """Marks every response it sees; counts the requests it saw."""

    seen = 0

    async def dispatch(self, request: Request, call_next: Any) -> Any:
        Stamp.seen += 1
        response = await call_next(request)
        response.headers["x-middleware"] = "seen"
        return response


def _app(cache: FastAPICache, calls: Calls, **options: Any) -> FastAPI:
    router = caching_router()

    @cache(edge=True, **options)
    @router.get("/edge")
    def edge(q: str = "") -> PlainTextResponse:
        calls()
        return PlainTextResponse(f"edge:{q}:{calls.count}")

    @cache()
    @router.get("/inner")
    def inner() -> PlainTextResponse:
        calls()
        return PlainTextResponse("inner")

    app = FastAPI()
    app.add_middleware(Stamp)
    app.include_router(router)
    return app


async def test_edge_hits_skip_the_middleware() -> None:
    Stamp.seen = 0
    cache = FastAPICache()
    calls = Calls()
    app = cache.edge(_app(cache, calls))
    async with open_client(app) as client:  # type: ignore[arg-type]
        miss = await client.get("/edge?q=a")
        hits = [await client.get("/edge?q=a") for _ in range(3)]
        other_key = await client.get("/edge?q=b")
    assert (miss.headers["x-cache"], miss.headers["x-middleware"]) == ("MISS", "seen")
    for hit in hits:
        assert (hit.text, hit.headers["x-cache"]) == ("edge:a:1", "HIT")
        assert "x-middleware" not in hit.headers  # answered before the middleware
    assert other_key.headers["x-cache"] == "MISS"  # a miss goes through the app
    assert Stamp.seen == 2
    assert calls.count == 2


async def test_routes_not_marked_stay_behind_the_middleware() -> None:
    cache = FastAPICache()
    app = cache.edge(_app(cache, Calls()))
    async with open_client(app) as client:  # type: ignore[arg-type]
        responses = [await client.get("/inner") for _ in range(3)]
    assert all(r.headers["x-middleware"] == "seen" for r in responses)
    assert responses[2].headers["x-cache"] == "HIT"


async def test_the_edge_keeps_the_safety_rules() -> None:
    cache = FastAPICache()
    calls = Calls()
    app = cache.edge(_app(cache, calls))
    async with open_client(app) as client:  # type: ignore[arg-type]
        await client.get("/edge")
        with_auth = await client.get("/edge", headers={"authorization": "Bearer x"})
        conditional = await client.get("/edge", headers={"if-none-match": "*"})
    assert "x-cache" not in with_auth.headers  # through the app, bypassing the cache
    assert with_auth.headers["x-middleware"] == "seen"
    assert conditional.status_code == 304


def _guard(x_key: str = Header()) -> None:
    return None


async def test_early_dependencies_are_never_skipped() -> None:
    cache = FastAPICache()
    calls = Calls()
    app = cache.edge(_app(cache, calls, dependencies=[Depends(_guard)]))
    async with open_client(app) as client:  # type: ignore[arg-type]
        for _ in range(3):
            await client.get("/edge", headers={"x-key": "k"})
        missing = await client.get("/edge")
    assert missing.status_code == 422
    assert missing.headers["x-middleware"] == "seen"


async def test_a_rewritten_path_is_not_learned() -> None:
    cache = FastAPICache()
    calls = Calls()
    inner = _app(cache, calls)

    async def rewrite(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/alias":
            scope = {**scope, "path": "/edge"}
        await inner(scope, receive, send)

    app = cache.edge(rewrite)
    async with open_client(app) as client:  # type: ignore[arg-type]
        answers = [(await client.get("/alias")).headers for _ in range(3)]
    assert all(h["x-middleware"] == "seen" for h in answers)  # never answered at the edge


async def test_host_routes_keep_the_edge_off() -> None:
    cache = FastAPICache()
    calls = Calls()
    app_inner = _app(cache, calls)
    admin = FastAPI()

    @admin.get("/edge")
    def admin_edge() -> str:
        return "admin"

    app_inner.router.routes.insert(0, Host("admin.example.com", app=admin))
    app = cache.edge(app_inner)
    async with open_client(app) as client:  # type: ignore[arg-type]
        for _ in range(3):
            await client.get("/edge")
        routed = await client.get("/edge", headers={"host": "admin.example.com"})
    assert routed.json() == "admin"
