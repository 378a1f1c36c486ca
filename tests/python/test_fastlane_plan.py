"""What the lanes (the fast lane before routing, the edge lane before the
middleware) answer is what the route would: the same methods, keys, counters,
conditions and early-dependency headers, on every backend."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from aiocache import SimpleMemoryCache
from conftest import Calls, Clock, MakeCache, caching_router, make_app, open_client
from fastapi import Depends, Request, Response
from fastapi.responses import PlainTextResponse
from test_edge import _app as edge_app
from test_fastlane_lane_hits import _spy_on_routing
from test_route_dependencies import _stamp, _teapot
from test_route_freshness import NOW, Origin

from fastapi_caching_route import (
    AiocacheBackend,
    FastAPICache,
    MemoryBackend,
    RedisBackend,
    StoredResponse,
    TieredBackend,
)

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


# --- a stored entry that is not fresh: read again to revalidate it ---------------------


@pytest.fixture(params=["memory", "tiered"])
async def native_cache(
    request: pytest.FixtureRequest, anyio_backend: str
) -> AsyncIterator[FastAPICache]:
    """A cache whose hits the native store answers: MemoryBackend, or a
    TieredBackend (its L1) over Redis."""
    if request.param == "memory":
        yield FastAPICache()
        return
    cache = FastAPICache(TieredBackend(RedisBackend.from_url(request.getfixturevalue("redis_url"))))
    try:
        yield cache
    finally:
        await cache.backend.close()


class ByLanguage:
    """GET /r in namespace "ns": one variant per Accept-Language (Vary), stale
    at once (max-age=0), with an ETag of its own; a matching If-None-Match gets
    a 304 that makes the entry fresh for a minute."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str | None]] = []

    def router(self, cache: FastAPICache) -> Any:
        router = caching_router()

        @cache(namespace="ns")
        @router.get("/r")
        def resource(request: Request) -> Response:
            lang = request.headers["accept-language"]
            condition = request.headers.get("if-none-match")
            self.asked.append((lang, condition))
            fields = {"etag": f'"{lang}"', "cache-control": "max-age=0", "vary": "accept-language"}
            if condition == fields["etag"]:
                return Response(status_code=304, headers={**fields, "cache-control": "max-age=60"})
            return PlainTextResponse(f"{lang}|{len(self.asked)}", headers=fields)

        return router

    async def store(self, client: Any, cache: FastAPICache, *langs: str) -> None:
        await client.get("/r", headers={"accept-language": "en"})  # starts the listener
        await _l1_settled(cache)
        for lang in langs:
            await client.get("/r", headers={"accept-language": lang})


async def _l1_settled(cache: FastAPICache) -> None:
    # A TieredBackend keeps entries in L1 only briefly until it listens for
    # invalidations; wait for that, so the lookups below find them in L1.
    backend = cache.backend
    if isinstance(backend, TieredBackend):
        with anyio.fail_after(10):
            while not backend.listening:
                await anyio.sleep(0.01)


async def _ask(client: Any, lang: str) -> tuple[str, str | None]:
    answer = await client.get("/r", headers={"accept-language": lang})
    return answer.text, answer.headers.get("x-cache")


async def test_a_stale_variant_in_a_namespace_is_revalidated_with_its_own_validator(
    native_cache: FastAPICache,
) -> None:
    # The native hit path finds the entry stored but stale; the route reads that
    # very entry (its namespace, the request's variant) to revalidate it.
    origin = ByLanguage()
    async with open_client(make_app(origin.router(native_cache))) as client:
        await origin.store(client, native_cache, "fr", "de")
        revalidated = await _ask(client, "de")
    assert origin.asked[-1] == ("de", '"de"')
    assert revalidated == ("de|3", "HIT")  # the endpoint said 304
    assert native_cache.stats()["route"].get("lookup_errors", 0) == 0


async def test_a_304_freshening_one_variant_leaves_the_others_theirs(
    native_cache: FastAPICache,
) -> None:
    # RFC 9111 section 4.1: a stored response whose Vary names fields the
    # request does not match must not answer it. Freshening the "fr" variant
    # once stored it with no Vary at all, and "de" clients got the French body.
    origin = ByLanguage()
    async with open_client(make_app(origin.router(native_cache))) as client:
        await origin.store(client, native_cache, "fr", "de")
        french = await _ask(client, "fr")  # a 304: fr is fresh now
        german = await _ask(client, "de")
        french_again = await _ask(client, "fr")
    assert (french, german, french_again) == (("fr|2", "HIT"), ("de|3", "HIT"), ("fr|2", "HIT"))
    assert origin.asked[-2:] == [("fr", '"fr"'), ("de", '"de"')]


class FailingPeek(MemoryBackend):
    """The native store, failing only the route's second look at a stale entry."""

    def peek_nowait(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("store down")


async def test_a_stale_entry_that_cannot_be_read_again_is_a_logged_lookup_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = FastAPICache(FailingPeek())
    origin = ByLanguage()
    with caplog.at_level(logging.WARNING, logger="fastapi_caching_route"):
        async with open_client(make_app(origin.router(cache))) as client:
            await origin.store(client, cache, "fr")
            answer = await _ask(client, "fr")
    # Served as a miss: the endpoint asked without the entry's validator.
    assert answer == ("fr|3", "MISS")
    assert origin.asked[-1] == ("fr", None)
    assert cache.stats()["route"]["lookup_errors"] == 1
    messages = [r.getMessage() for r in caplog.records if r.name == "fastapi_caching_route"]
    assert messages == ["cache lookup failed; serving uncached"]


# --- what the awaiting lane asks the store ---------------------------------------------


async def test_a_lane_miss_in_l1_is_not_looked_up_natively_twice(redis_url: str) -> None:
    # The hit path's L1 miss is counted once; the awaited lookup then asks the
    # tiered store (whose get() looks at L1 once more, then Redis) -- not the
    # hit path again.
    cache = FastAPICache(TieredBackend(RedisBackend.from_url(redis_url)))
    router = caching_router()

    @cache()
    @router.get("/items")
    def items(q: str) -> str:
        return q

    app = make_app(router)
    asked = _spy_on_routing(app)
    try:
        async with open_client(app) as client:
            await client.get("/items?q=a")
            await client.get("/items?q=a")  # routed: teaches the lane
            before = cache.backend.stats()["misses"]
            miss = await client.get("/items?q=b")
            after = cache.backend.stats()["misses"]
    finally:
        await cache.backend.close()
    assert (miss.json(), miss.headers["x-cache"]) == ("b", "MISS")
    assert asked == ["/items"] * 3  # the lane looked q=b up, then routing stored it
    assert after - before == 2


async def test_request_directives_on_the_lane_are_the_route_s(make_cache: MakeCache) -> None:
    # no-store only keeps a response from being stored: a hit still answers it,
    # on the lane. no-cache bypasses the lookup: the route counts it.
    cache = make_cache()
    router = caching_router()
    calls = Calls()

    @cache(honor_request_cache_control=True)
    @router.get("/items")
    def items() -> str:
        calls()
        return "items"

    app = make_app(router)
    asked = _spy_on_routing(app)
    async with open_client(app) as client:
        await client.get("/items")
        await client.get("/items")  # routed: teaches the lane
        no_store = await client.get("/items", headers={"cache-control": "no-store"})
        no_cache = await client.get("/items", headers={"cache-control": "no-cache"})
    assert no_store.headers["x-cache"] == "HIT"
    assert no_cache.headers["x-cache"] == "MISS"
    assert asked == ["/items"] * 3  # the no-cache request went on to the route
    assert calls.count == 2
    route = cache.stats()["route"]
    assert route["bypass_request_no_cache"] == 1
    assert "lookup_errors" not in route


async def test_an_edge_miss_never_leads_the_lane_past_credentials_a_middleware_added(
    tiered_workers: tuple[FastAPICache, FastAPICache],
) -> None:
    # The edge lane misses /a's key in L1 (no credentials yet) and leaves it in
    # the scope; a middleware then adds an Authorization header. The fast lane's
    # own look finds credentials and gives no key: the edge's must not send it
    # to Redis, where another worker's entry would answer the request.
    class LogIn:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and (b"x-log-in", b"1") in scope["headers"]:
                scope["headers"] = [*scope["headers"], (b"authorization", b"Bearer t")]
            await self.app(scope, receive, send)

    def app_on(cache: FastAPICache, calls: Calls) -> Any:
        router = caching_router()

        @cache(edge=True)
        @router.get("/a")
        def route_a(q: str = "") -> str:
            calls()
            return f"a:{q}"

        app = make_app(router)
        app.add_middleware(LogIn)
        return cache.edge(app)

    calls = Calls()
    writer, reader = tiered_workers
    async with open_client(app_on(writer, Calls())) as client:
        await client.get("/a?q=other-worker")  # only in Redis, not in reader's L1
    async with open_client(app_on(reader, calls)) as client:
        await client.get("/a?q=1")  # routed: the edge learns /a, the lane is installed
        await client.get("/a?q=2")  # an edge miss, routed: the lane learns /a
        logged_in = await client.get("/a?q=other-worker", headers={"x-log-in": "1"})
    assert logged_in.json() == "a:other-worker"
    assert "x-cache" not in logged_in.headers  # bypassed: it carries credentials
    assert calls.count == 3


async def test_a_key_of_exactly_the_maximum_length_is_answered_on_the_lane(
    make_cache: MakeCache,
) -> None:
    # The limit is inclusive, on the lane as on the route.
    cache = make_cache(max_key_length=80)
    router = caching_router()

    @cache()
    @router.get("/k/{text}")
    def keyed(text: str) -> str:
        return text

    app = make_app(router)
    asked = _spy_on_routing(app)
    async with open_client(app) as client:
        # One character more makes the key one longer: the longest cached text
        # has a key of exactly max_key_length.
        longest = ""
        for size in range(1, 81):
            text = "z" * size
            if "x-cache" not in (await client.get(f"/k/{text}")).headers:
                break
            longest = text
        assert 0 < len(longest) < 80
        asked.clear()
        hits = [await client.get(f"/k/{longest}") for _ in range(2)]
    assert [r.headers["x-cache"] for r in hits] == ["HIT", "HIT"]
    assert asked == []  # learned when it was stored: both answered on the lane


# --- request directives after waiting for a leader --------------------------------------


async def test_a_pragma_no_cache_request_that_waited_for_a_leader_still_asks_the_endpoint(
    make_cache: MakeCache,
) -> None:
    # RFC 9111 section 5.4: Pragma: no-cache (without Cache-Control) is
    # no-cache; the leader's fresh entry must not answer it.
    cache = make_cache()
    router = caching_router()
    calls = Calls()
    entered, release = anyio.Event(), anyio.Event()

    @cache(honor_request_cache_control=True)
    @router.get("/slow")
    async def slow() -> str:
        calls()
        count = calls.count
        if count == 1:
            entered.set()
            await release.wait()
        return f"call {count}"

    answers: dict[str, Any] = {}
    async with open_client(make_app(router)) as client:

        async def get(name: str, headers: dict[str, str]) -> None:
            answers[name] = await client.get("/slow", headers=headers)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(get, "leader", {})
                await entered.wait()
                group.start_soon(get, "no-cache", {"pragma": "no-cache"})
                while cache.stats()["route"].get("coalesced", 0) < 1:
                    await anyio.sleep(0.01)  # it waits for the leader now
                release.set()
    assert answers["leader"].json() == "call 1"
    assert answers["no-cache"].json() == "call 2"
    assert calls.count == 2


class ReadsDown(AiocacheBackend):
    """aiocache's memory store whose reads fail while ``down`` (writes work)."""

    down = False

    async def get(
        self, key: str, namespace: str | None = None, *, headers: Any = None
    ) -> StoredResponse | None:
        if self.down:
            raise ConnectionError("reads down")
        return await super().get(key, namespace, headers=headers)


async def test_a_follower_s_stale_answer_from_the_leader_refreshes_the_leader_s_key() -> None:
    # The store cannot be read: a follower takes the leader's entry, stale at
    # once but within stale-while-revalidate, and starts its refresh -- of
    # that key, so the refreshed response is what the key holds afterwards.
    backend = ReadsDown(SimpleMemoryCache())
    cache = FastAPICache(backend)
    router = caching_router()
    calls = Calls()
    entered, release = anyio.Event(), anyio.Event()

    @cache()
    @router.get("/slow")
    async def slow() -> PlainTextResponse:
        calls()
        count = calls.count
        if count == 1:
            entered.set()
            await release.wait()
        swr = {"cache-control": "max-age=0, stale-while-revalidate=600", "etag": f'"{count}"'}
        return PlainTextResponse(f"call {count}", headers=swr)

    answers: dict[str, Any] = {}
    async with open_client(make_app(router)) as client:

        async def get(name: str) -> None:
            answers[name] = await client.get("/slow")

        backend.down = True
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(get, "leader")
                await entered.wait()
                group.start_soon(get, "follower")
                while cache.stats()["route"].get("coalesced", 0) < 1:
                    await anyio.sleep(0.01)  # it waits for the leader now
                release.set()
            assert await cache.wait_for_refreshes()
        backend.down = False
        endpoint_calls = calls.count  # the leader's and the refresh's
        after = await client.get("/slow")  # stale too: it starts a refresh of its own
        assert await cache.wait_for_refreshes()
    assert answers["follower"].text == "call 1"
    assert cache.stats()["route"]["coalesced_from_leader"] == 1
    assert after.text == "call 2"  # what the refresh stored under the key
    assert endpoint_calls == 2
