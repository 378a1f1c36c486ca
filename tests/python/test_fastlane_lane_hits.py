"""The fast lane answers learned hits before routing, with what routing would set;
it runs early dependencies once per request, also when it misses and hands over to
the route."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import Calls, MakeCache, caching_router, make_app, open_client
from fastapi import APIRouter, Depends, Request
from starlette.types import Scope

from fastapi_caching_route import FastAPICache

pytestmark = pytest.mark.anyio


def _spy_on_routing(app: Any) -> list[str]:
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
    return asked


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


async def test_learned_hits_are_answered_without_routing(make_cache: MakeCache) -> None:
    # On every backend: the native store in one engine call; Redis and aiocache
    # are asked with await, and the lane awaits them too.
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache()
    @router.get("/items")
    def items(q: str = "x") -> dict[str, Any]:
        calls()
        return {"q": q}

    app = make_app(router)
    asked = _spy_on_routing(app)
    async with open_client(app) as client:
        answers = [await client.get("/items?q=a") for _ in range(4)]
        head = await client.head("/items?q=a")
        conditional = await client.get(
            "/items?q=a", headers={"If-None-Match": answers[0].headers["etag"]}
        )
    assert [a.headers["x-cache"] for a in answers] == ["MISS", "HIT", "HIT", "HIT"]
    assert all(a.content == answers[0].content for a in answers)
    assert (head.status_code, head.headers["x-cache"], head.content) == (200, "HIT", b"")
    assert (conditional.status_code, conditional.headers["x-cache"]) == (304, "HIT")
    # Routed: the miss, the hit that taught the lane, the first HEAD (another method).
    assert asked == ["/items", "/items", "/items"]
    assert calls.count == 1


async def test_an_awaited_lane_miss_is_not_looked_up_again_by_the_route(
    make_cache: MakeCache, backend_kind: str
) -> None:
    if backend_kind == "memory":
        pytest.skip("the native store's lane misses: test_fastlane.py")
    cache = make_cache(cache_status=True)
    router = caching_router()

    @cache()
    @router.get("/items")
    def items(q: str = "x") -> str:
        return q

    backend = cache.backend
    lookups: list[str] = []
    get = backend.get

    async def counted(key: str, *args: Any, **kwargs: Any) -> Any:
        lookups.append(key)
        return await get(key, *args, **kwargs)

    backend.get = counted  # type: ignore[method-assign]
    async with open_client(make_app(router)) as client:
        await client.get("/items?q=a")  # routed miss
        await client.get("/items?q=a")  # routed hit: the lane learns /items
        lookups.clear()
        miss = await client.get("/items?q=b")  # the lane's lookup misses; the route stores
        cache_status = miss.headers["cache-status"]
    assert (miss.text, miss.headers["x-cache"]) == ('"b"', "MISS")
    assert len(lookups) == 1
    assert "fwd=uri-miss" in cache_status


async def test_early_dependencies_run_once_per_request_on_an_awaiting_lane(
    make_cache: MakeCache,
) -> None:
    cache = make_cache()
    router = caching_router()
    checks: list[str] = []

    async def check(request: Request) -> Any:
        checks.append(request.url.query)
        yield

    @cache(dependencies=[Depends(check)])
    @router.get("/guarded")
    def guarded(q: str = "x") -> str:
        return q

    app = make_app(router)
    asked = _spy_on_routing(app)
    async with open_client(app) as client:
        states = [(await client.get("/guarded?q=a")).headers["x-cache"] for _ in range(3)]
        miss = await client.get("/guarded?q=b")
    assert states == ["MISS", "HIT", "HIT"]
    assert miss.headers["x-cache"] == "MISS"
    assert checks == ["q=a", "q=a", "q=a", "q=b"]
    # Routed: the miss, the hit that taught the lane, and the lane's miss (q=b).
    assert asked == ["/guarded", "/guarded", "/guarded"]


async def test_a_tiered_store_with_an_empty_l1_answers_from_redis_on_the_lane(
    tiered_workers: tuple[FastAPICache, FastAPICache],
) -> None:
    # Another worker stored the entries: this worker's L1 holds none of q=b,
    # so the lane awaits Redis for it.
    def app_on(cache: FastAPICache, calls: Calls) -> Any:
        router = caching_router()

        @cache()
        @router.get("/items")
        def items(q: str) -> str:
            calls()
            return q

        return make_app(router)

    calls = Calls()
    writer, reader = tiered_workers
    reader_app = app_on(reader, calls)
    asked = _spy_on_routing(reader_app)
    async with open_client(app_on(writer, calls)) as client:
        await client.get("/items?q=a")
        await client.get("/items?q=b")
    async with open_client(reader_app) as client:
        # Routed: the first hit puts the lane in place, the second teaches it.
        await client.get("/items?q=a")
        await client.get("/items?q=a")
        from_redis = await client.get("/items?q=b")
    assert (from_redis.text, from_redis.headers["x-cache"]) == ('"b"', "HIT")
    assert asked == ["/items", "/items"]
    assert calls.count == 2


async def test_the_lane_keeps_every_path_it_learned_and_relearns_after_new_routes() -> None:
    cache = FastAPICache()
    router = caching_router()

    @cache()
    @router.get("/{name}")
    def named(name: str) -> dict[str, str]:
        return {"name": name}

    app = make_app(router)
    asked = _spy_on_routing(app)
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
    asked = _spy_on_routing(app)
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
    asked = _spy_on_routing(app)
    async with open_client(app) as client:
        for path in ("/x", "/x", "/y", "/y"):
            await client.get(path)
        asked.clear()
        answers = [(await client.get(path)).text for path in ("/x", "/y", "/x", "/y")]
    assert answers == ['"x"', '"y"', '"x"', '"y"']
    assert asked == []  # all answered by the lane


async def test_a_miss_left_by_another_route_never_leads_to_a_lookup(
    tiered_workers: tuple[FastAPICache, FastAPICache],
) -> None:
    # The edge lane misses on /a (its key stays in the scope), then a middleware
    # rewrites the path to /b, whose route bypasses the cache for a request with
    # credentials (/a says its responses are shared). The fast lane must not
    # look /a's key up in Redis on /b's behalf: that would answer /b's caller
    # with /a's response and skip /b's bypass.
    class RewriteToB:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and (b"x-rewrite", b"b") in scope["headers"]:
                scope = {**scope, "path": "/b", "raw_path": b"/b"}
            await self.app(scope, receive, send)

    def app_on(cache: FastAPICache, calls: Calls) -> Any:
        router = caching_router()

        @cache(edge=True, shared=True)
        @router.get("/a")
        def route_a(q: str = "") -> str:
            return f"a:{q}"

        @cache()
        @router.get("/b")
        def route_b() -> str:
            calls()
            return "b"

        app = make_app(router)
        app.add_middleware(RewriteToB)
        return cache.edge(app)

    calls = Calls()
    writer, reader = tiered_workers
    async with open_client(app_on(writer, Calls())) as client:
        await client.get("/a?q=other-worker")  # only in Redis, not in reader's L1
    async with open_client(app_on(reader, calls)) as client:
        for _ in range(2):  # routed: /a is learned at the edge, /b in the fast lane
            await client.get("/a?q=here")
            await client.get("/b")
        assert calls.count == 1
        rewritten = await client.get(
            "/a?q=other-worker", headers={"x-rewrite": "b", "authorization": "Bearer t"}
        )
    assert rewritten.json() == "b"  # route /b's own endpoint answered
    assert "x-cache" not in rewritten.headers  # bypassed, as /b's rules say
    assert calls.count == 2
