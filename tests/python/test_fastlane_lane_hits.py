"""The fast lane answers learned hits before routing, with what routing would set;
it runs early dependencies once per request, also when it misses and hands over to
the route."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import Calls, caching_router, make_app, open_client
from fastapi import APIRouter, Depends, Request
from starlette.types import Scope

from fastapi_caching_route import FastAPICache

pytestmark = pytest.mark.anyio


async def test_learned_hits_are_answered_without_routing() -> None:
    cache = FastAPICache()
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/items")
    def items(q: str = "x") -> dict[str, Any]:
        calls()
        return {"q": q}

    app = make_app(router)
    # Routing asks the first route (FastAPI's /openapi.json) about every request;
    # its own matches() is wrapped, so the route class (which the lane checks) is
    # unchanged.
    first = app.router.routes[0]
    asked: list[str] = []
    matches = first.matches

    def spy(scope: Scope) -> Any:
        asked.append(scope["path"])
        return matches(scope)

    first.matches = spy  # type: ignore[method-assign]
    async with open_client(app) as client:
        answers = [await client.get("/items?q=a") for _ in range(4)]
    assert [a.headers["x-cache"] for a in answers] == ["MISS", "HIT", "HIT", "HIT"]
    assert all(a.json() == {"q": "a"} for a in answers)
    # The miss and the first hit were routed (that hit taught the lane); the rest were not.
    assert asked == ["/items", "/items"]
    assert calls.count == 1


async def test_early_dependencies_run_once_when_the_lane_misses() -> None:
    cache = FastAPICache()
    router = caching_router()
    seen: list[str] = []

    def guard(request: Request) -> None:
        seen.append(request.url.query)

    @cache(dependencies=[Depends(guard)])
    @router.get("/guarded")
    def guarded(q: str = "x") -> str:
        return q

    async with open_client(make_app(router)) as client:
        await client.get("/guarded?q=a")  # routed miss
        await client.get("/guarded?q=a")  # routed hit: the lane learns /guarded
        lane_hit = await client.get("/guarded?q=a")
        lane_miss = await client.get("/guarded?q=b")  # the lane runs the guard, then misses
    assert lane_hit.headers["x-cache"] == "HIT"
    assert (lane_miss.json(), lane_miss.headers["x-cache"]) == ("b", "MISS")
    assert seen == ["q=a", "q=a", "q=a", "q=b"]  # once per request


async def test_early_dependencies_on_the_lane_can_read_the_request() -> None:
    cache = FastAPICache()
    router = caching_router()
    bodies: list[bytes] = []

    async def reads_body(request: Request) -> None:
        bodies.append(await request.body())

    @cache(dependencies=[Depends(reads_body)])
    @router.get("/read")
    def read() -> str:
        return "read"

    async with open_client(make_app(router)) as client:
        answers = [await client.get("/read") for _ in range(3)]
    assert [a.headers["x-cache"] for a in answers] == ["MISS", "HIT", "HIT"]
    assert bodies == [b"", b"", b""]


async def test_lane_hits_carry_the_path_parameters_routing_would_set() -> None:
    cache = FastAPICache()
    router = caching_router()
    seen: list[dict[str, Any]] = []

    @cache()
    @router.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    app = make_app(router)

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        seen.append(dict(request.scope.get("path_params", {})))
        return response

    async with open_client(app) as client:
        answers = [await client.get("/items/7") for _ in range(4)]
    assert [a.headers["x-cache"] for a in answers] == ["MISS", "HIT", "HIT", "HIT"]
    assert seen == [{"item_id": "7"}] * 4


async def test_requests_the_lane_does_not_answer_reach_the_app_intact() -> None:
    cache = FastAPICache()
    router = caching_router()

    @cache()
    @router.get("/items")
    def items() -> str:
        return "items"

    @router.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        return {"body": (await request.body()).decode(), "path": request.url.path}

    async with open_client(make_app(router)) as client:
        for _ in range(3):
            await client.get("/items")  # the lane is in place and has learned /items
        posted = await client.post("/echo", content=b"payload")
        missing = await client.get("/nowhere")
    assert posted.json() == {"body": "payload", "path": "/echo"}
    assert missing.status_code == 404


async def test_what_the_lane_learned_under_one_root_path_is_not_served_under_another() -> None:
    # Routes match on the path below root_path: /a/items is /items behind a proxy
    # that mounts the app at /a, and no route at all without it.
    cache = FastAPICache()
    router = caching_router()

    @cache()
    @router.get("/items")
    def items() -> str:
        return "items"

    app = make_app(router)
    proxied = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, root_path="/a"), base_url="http://testserver"
    )
    async with proxied, open_client(app) as direct:
        learned = [await proxied.get("/a/items") for _ in range(3)]
        unrouted = await direct.get("/a/items")
    assert [r.headers["x-cache"] for r in learned] == ["MISS", "HIT", "HIT"]
    assert unrouted.status_code == 404


def _routing_spy(app: Any) -> list[str]:
    """The paths routing was asked about (see test_learned_hits_are_answered_without_routing)."""
    first = app.router.routes[0]
    asked: list[str] = []
    matches = first.matches

    def spy(scope: Scope) -> Any:
        asked.append(scope["path"])
        return matches(scope)

    first.matches = spy
    return asked


async def test_the_lane_keeps_every_path_it_learned_and_relearns_after_new_routes() -> None:
    cache = FastAPICache()
    router = caching_router()

    @cache()
    @router.get("/{name}")
    def named(name: str) -> dict[str, str]:
        return {"name": name}

    app = make_app(router)
    asked = _routing_spy(app)
    async with open_client(app) as client:
        for path in ("/a", "/a", "/b"):
            await client.get(path)
        # The lane was installed during the first request; from then on each
        # routed request teaches it its path.
        assert asked == ["/a", "/a", "/b"]
        for path in ("/a", "/b", "/a"):  # both learned: no routing
            assert (await client.get(path)).headers["x-cache"] == "HIT"
        assert asked == ["/a", "/a", "/b"]
        # A route added at the end leaves what routing chooses for /a unchanged;
        # the lane forgets what it learned, relearns /a, and answers it again.
        extra = APIRouter()

        @extra.get("/other/thing")
        def other() -> str:
            return "other"

        app.router.routes.append(extra.routes[0])
        asked.clear()
        answers = [await client.get("/a") for _ in range(3)]
    assert [a.json() for a in answers] == [{"name": "a"}] * 3
    assert asked == ["/a"]  # routed once to relearn it, then answered by the lane


async def test_lane_hits_with_early_dependencies_skip_routing() -> None:
    cache = FastAPICache()
    router = caching_router()
    seen: list[str] = []

    def guard(request: Request) -> None:
        seen.append(request.url.path)

    @cache(dependencies=[Depends(guard)])
    @router.get("/guarded")
    def guarded() -> str:
        return "ok"

    app = make_app(router)
    asked = _routing_spy(app)
    async with open_client(app) as client:
        statuses = [(await client.get("/guarded")).headers["x-cache"] for _ in range(4)]
    assert statuses == ["MISS", "HIT", "HIT", "HIT"]
    assert asked == ["/guarded", "/guarded"]  # the lane answered the last two
    assert seen == ["/guarded"] * 4


async def test_each_lane_hit_gets_path_parameters_of_its_own() -> None:
    # A dependency that writes into request.path_params on one lane hit must not
    # change what the lane hands the next one.
    cache = FastAPICache()
    router = caching_router()
    seen: list[dict[str, Any]] = []

    def scribble(request: Request) -> None:
        seen.append(dict(request.path_params))
        request.path_params[f"scribbled-{len(seen)}"] = "yes"

    @cache(dependencies=[Depends(scribble)])
    @router.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    app = make_app(router)
    async with open_client(app) as client:
        statuses = [(await client.get("/items/7")).headers["x-cache"] for _ in range(5)]
    assert statuses == ["MISS", "HIT", "HIT", "HIT", "HIT"]
    lane_hits = seen[2:]  # the second request was routed and taught the lane
    assert all(params == lane_hits[0] for params in lane_hits), lane_hits
    assert lane_hits[0]["item_id"] == "7"


async def test_every_cached_route_teaches_the_one_lane() -> None:
    # The first route installs the lane; the others find it in place and teach it too.
    cache = FastAPICache()
    router = caching_router()

    @cache()
    @router.get("/x")
    def x() -> str:
        return "x"

    @cache()
    @router.get("/y")
    def y() -> str:
        return "y"

    app = make_app(router)
    asked = _routing_spy(app)
    async with open_client(app) as client:
        for path in ("/x", "/x", "/y", "/y"):
            await client.get(path)
        asked.clear()
        answers = [(await client.get(path)).text for path in ("/x", "/y", "/x", "/y")]
    assert answers == ['"x"', '"y"', '"x"', '"y"']
    assert asked == []  # all answered by the lane
