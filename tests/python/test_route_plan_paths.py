"""The request flow's less travelled paths (`_plan.CachePlan`), end to end.

What a request does while another worker holds the key's lock
(RedisBackend(lock=True)); what a request that was still looking up when a
leader finished, or a follower that gave up on its leader, asks and stores;
lookups through backends of one's own (no native hit path, with or without
``headers``, synchronous or not) in a route's namespace; and the reuse
decision's edges that only show in Cache-Status (RFC 9211), in revalidation
(RFC 9111 section 4.3) and in stale-if-error (RFC 5861 section 4).

No test asserts on timing: races are made deterministic with events and
gates, and conditions are awaited with generous deadlines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from conftest import (
    CLOCK_START,
    Clock,
    DictBackend,
    MakeCache,
    caching_router,
    make_app,
    open_client,
)
from fastapi import Request, Response
from fastapi.responses import PlainTextResponse

from fastapi_caching_route import (
    FastAPICache,
    MemoryBackend,
    RedisBackend,
    StoredResponse,
    TieredBackend,
)

pytestmark = pytest.mark.anyio

DEADLINE = 30.0  # seconds a condition may take to come true on a busy machine
NAME = "fastapi-caching-route"  # the default Cache-Status member name
EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


async def _until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds (never a timing assertion: a deadline)."""
    with anyio.fail_after(DEADLINE):
        while not condition():
            await asyncio.sleep(0.005)


async def _set(event: asyncio.Event) -> None:
    with anyio.fail_after(DEADLINE):
        await event.wait()


def _route(cache: FastAPICache) -> dict[str, int]:
    return dict(cache.stats()["route"])


# --- another worker holds the key's lock (RedisBackend(lock=True)) ---------------------------

LOCKED = "GET /locked"  # the route's cache key: method and path
NS = "locks"


class _Worker(RedisBackend):
    """A RedisBackend that says when a request starts waiting for another
    worker's lock."""

    waiting: asyncio.Event

    async def wait_released(self, key: str, namespace: str | None, timeout: float) -> bool:
        self.waiting.set()
        return await super().wait_released(key, namespace, timeout)


def _locked_app(
    backend: RedisBackend, calls: list[str], lock_seen: list[int], **options: Any
) -> tuple[Any, FastAPICache]:
    cache = FastAPICache(backend, **options)
    router = caching_router()

    @cache(ttl=60, namespace=NS)
    @router.get("/locked")
    async def locked() -> Response:
        # Whether another worker's lock on this key is still held while we run.
        lock_seen.append(await backend.client.exists(backend.lock_key(LOCKED, NS)))
        calls.append(f"{id(backend)}")
        return PlainTextResponse(f"call {len(calls)}")

    return make_app(router), cache


async def test_a_request_waits_for_the_lock_in_its_routes_namespace_and_answers_the_holders_entry(
    redis_url: str,
) -> None:
    # Another worker holds the lock of this key in the route's namespace: this
    # worker must not call the endpoint, but wait for the holder and answer
    # what it stored.
    worker = _Worker.from_url(redis_url, timeout=5.0, lock=True)
    worker.waiting = asyncio.Event()
    holder = RedisBackend.from_url(redis_url, timeout=5.0)  # the other worker, by hand
    calls: list[str] = []
    lock_seen: list[int] = []
    holder_calls: list[str] = []
    app, _ = _locked_app(worker, calls, lock_seen, coalesce_timeout=DEADLINE)
    holder_app, _ = _locked_app(holder, holder_calls, [])
    lock = await holder.acquire(LOCKED, NS)
    assert lock is not None
    try:
        async with open_client(app) as client, open_client(holder_app) as other:
            asked = asyncio.ensure_future(client.get("/locked"))
            waiting = asyncio.ensure_future(worker.waiting.wait())
            await asyncio.wait({asked, waiting}, timeout=DEADLINE, return_when="FIRST_COMPLETED")
            waiting.cancel()
            assert worker.waiting.is_set() and not asked.done()  # it waits for the holder
            stored = await other.get("/locked")  # what the holder's endpoint answers
            await lock.release()
            answer = await asyncio.wait_for(asked, DEADLINE)
    finally:
        await lock.release()
        await worker.close()
        await holder.close()
    assert (stored.text, stored.headers["x-cache"]) == ("call 1", "MISS")
    assert (answer.status_code, answer.text, answer.headers["x-cache"]) == (200, "call 1", "HIT")
    assert calls == []  # this worker's endpoint never ran


async def test_a_request_whose_lock_wait_ends_without_an_entry_runs_the_endpoint_after_the_release(
    redis_url: str,
) -> None:
    # The holder released the lock but stored nothing (its response was not
    # cacheable, or it failed): the waiting request runs the endpoint itself,
    # once the lock is gone, and stores its answer.
    worker = _Worker.from_url(redis_url, timeout=5.0, lock=True)
    worker.waiting = asyncio.Event()
    holder = RedisBackend.from_url(redis_url, timeout=5.0)
    calls: list[str] = []
    lock_seen: list[int] = []
    app, cache = _locked_app(worker, calls, lock_seen, coalesce_timeout=DEADLINE)
    lock = await holder.acquire(LOCKED, NS)
    assert lock is not None
    try:
        async with open_client(app) as client:
            asked = asyncio.ensure_future(client.get("/locked"))
            await _set(worker.waiting)
            await lock.release()
            answer = await asyncio.wait_for(asked, DEADLINE)
            again = await client.get("/locked")
    finally:
        await lock.release()
        await worker.close()
        await holder.close()
    assert (answer.text, answer.headers["x-cache"]) == ("call 1", "MISS")
    assert (again.text, again.headers["x-cache"]) == ("call 1", "HIT")
    assert lock_seen == [0]  # the endpoint ran once, after the holder's lock was gone
    assert _route(cache)["lock_fell_through"] == 1


async def test_a_request_that_waited_too_long_for_the_lock_runs_the_endpoint_and_stores_it(
    redis_url: str,
) -> None:
    # A holder that keeps the lock past coalesce_timeout: each request that
    # gave up waiting runs the endpoint, is counted, and its answer is stored
    # for the next request.
    worker = RedisBackend.from_url(redis_url, timeout=5.0, lock=True)
    holder = RedisBackend.from_url(redis_url, timeout=5.0)
    calls: list[str] = []
    lock_seen: list[int] = []
    app, cache = _locked_app(worker, calls, lock_seen, coalesce_timeout=0.05)
    lock = await holder.acquire(LOCKED, NS)
    assert lock is not None
    try:
        async with open_client(app) as client:
            first = [await client.get("/locked") for _ in range(2)]
            fell_through_once = _route(cache)["lock_fell_through"]
            await cache.invalidate_cached(LOCKED, NS)
            second = [await client.get("/locked") for _ in range(2)]
    finally:
        await lock.release()
        await worker.close()
        await holder.close()
    answers = [(r.text, r.headers["x-cache"]) for r in first + second]
    assert answers == [("call 1", "MISS"), ("call 1", "HIT"), ("call 2", "MISS"), ("call 2", "HIT")]
    assert lock_seen == [1, 1]  # it ran while the holder still held the lock
    assert fell_through_once == 1
    assert _route(cache)["lock_fell_through"] == 2


# --- coalescing: a request that looked while a leader finished; followers that give up --------


async def test_without_coalescing_the_answer_is_stored_under_the_requests_key(
    make_cache: MakeCache,
) -> None:
    cache = make_cache(coalesce=False)
    router = caching_router()
    calls: list[int] = []

    @cache(ttl=60)
    @router.get("/plain")
    async def plain() -> Response:
        calls.append(1)
        return PlainTextResponse(f"call {len(calls)}")

    async with open_client(make_app(router)) as client:
        answers = [await client.get("/plain") for _ in range(2)]
    assert [(r.text, r.headers["x-cache"]) for r in answers] == [
        ("call 1", "MISS"),
        ("call 1", "HIT"),
    ]


class _HeldLookup(MemoryBackend):
    """An async backend without a native hit path whose lookup for the request
    marked ``x-held: 1`` reads the store, then waits for ``hold`` before
    answering what it read: a lookup still out while another request leads."""

    hit_path = None  # type: ignore[assignment]  # every lookup is get()
    synchronous = False

    def __init__(self) -> None:
        super().__init__()
        self.hold: asyncio.Event | None = None
        self.holding = asyncio.Event()

    async def get(
        self, key: str, namespace: str | None = None, *, headers: Any = None
    ) -> StoredResponse | None:
        found = self.get_nowait(key, namespace, headers=headers)
        if self.hold is not None and (b"x-held", b"1") in list(headers or ()):
            hold, self.hold = self.hold, None  # once
            self.holding.set()
            await hold.wait()
        return found


class _Validating:
    """GET /v: 'v1' with ETag "v1" and `cache_control`; a 304 to a request
    naming that tag. Records each call's If-None-Match; `gate`, when set,
    holds the call numbered `gated` until it is set."""

    def __init__(self, cache_control: str) -> None:
        self.cache_control = cache_control
        self.asked: list[str | None] = []
        self.gate: asyncio.Event | None = None
        self.gated = 1
        self.entered = asyncio.Event()

    def router(self, cache: FastAPICache, **options: Any) -> Any:
        router = caching_router()

        @cache(**options)
        @router.get("/v")
        async def validating(request: Request) -> Response:
            self.asked.append(request.headers.get("if-none-match"))
            if len(self.asked) == self.gated and self.gate is not None:
                self.entered.set()
                await self.gate.wait()
            if self.asked[-1] == '"v1"':
                return Response(status_code=304, headers={"etag": '"v1"'})
            fields = {"etag": '"v1"', "cache-control": self.cache_control}
            return PlainTextResponse(f"v{len(self.asked)}", headers=fields)

        return router


async def _held_then_led(cache_control: str) -> tuple[Any, Any, _Validating]:
    """A request (held in its lookup) misses; another request leads, stores
    and finishes; then the held lookup answers its miss."""
    backend = _HeldLookup()
    backend.hold = hold = asyncio.Event()
    origin = _Validating(cache_control)
    cache = FastAPICache(backend)
    async with open_client(make_app(origin.router(cache))) as client:
        held = asyncio.ensure_future(client.get("/v", headers={"x-held": "1"}))
        await _set(backend.holding)
        led = await client.get("/v")  # leads, stores and finishes meanwhile
        hold.set()
        late = await asyncio.wait_for(held, DEADLINE)
    return led, late, origin


async def test_a_request_that_looked_while_a_leader_finished_answers_what_it_stored() -> None:
    # Its lookup missed, but a leader stored the answer meanwhile: leading in
    # turn, it looks again and answers the entry (whole: a GET) rather than
    # calling the endpoint a second time.
    led, late, origin = await _held_then_led("max-age=60")
    assert (led.text, led.headers["x-cache"]) == ("v1", "MISS")
    assert (late.status_code, late.text, late.headers["x-cache"]) == (200, "v1", "HIT")
    assert origin.asked == [None]


async def test_a_request_that_looked_while_a_leader_finished_revalidates_what_it_stored() -> None:
    # RFC 9111 section 4.3.1: the entry the leader stored must be validated
    # before reuse (no-cache): the look again finds it, and the endpoint is
    # asked with its ETag, not unconditionally.
    _, late, origin = await _held_then_led("no-cache")
    assert origin.asked == [None, '"v1"']
    assert (late.status_code, late.text) == (200, "v1")  # the 304 freshened the entry


async def test_a_follower_revalidates_the_entry_its_leader_stored(make_cache: MakeCache) -> None:
    # The leader stored a no-cache entry: the follower cannot take it as it
    # is, so it asks the endpoint with the entry's validator (section 4.3.1).
    cache = make_cache()
    origin = _Validating("no-cache")
    origin.gate = gate = asyncio.Event()
    async with open_client(make_app(origin.router(cache))) as client:
        leader = asyncio.ensure_future(client.get("/v"))
        await _set(origin.entered)
        follower = asyncio.ensure_future(client.get("/v"))
        await _until(lambda: _route(cache).get("coalesced", 0) == 1)
        gate.set()
        led, followed = await asyncio.wait_for(asyncio.gather(leader, follower), DEADLINE)
    assert (led.text, followed.status_code, followed.text) == ("v1", 200, "v1")
    assert origin.asked == [None, '"v1"']
    assert _route(cache)["coalesce_fell_through"] == 1


async def test_a_follower_that_gave_up_on_its_leader_stores_its_own_answer(
    make_cache: MakeCache,
) -> None:
    # The leader is slow and its answer not storable (no-store): the follower
    # gave up waiting, asked the endpoint, and its answer is the stored one.
    cache = make_cache(coalesce_timeout=0.05)
    router = caching_router()
    calls: list[int] = []
    gate = asyncio.Event()
    entered = asyncio.Event()

    @cache(ttl=60)
    @router.get("/slow")
    async def slow() -> Response:
        calls.append(1)
        call = len(calls)
        if call == 1:
            entered.set()
            await gate.wait()
            return PlainTextResponse("leader", headers={"cache-control": "no-store"})
        return PlainTextResponse(f"call {call}")

    async with open_client(make_app(router)) as client:
        leader = asyncio.ensure_future(client.get("/slow"))
        await _set(entered)
        followed = await client.get("/slow")  # the leader is still at the gate
        gate.set()
        led = await asyncio.wait_for(leader, DEADLINE)
        after = await client.get("/slow")
    assert (led.text, followed.text, followed.headers["x-cache"]) == ("leader", "call 2", "MISS")
    assert (after.text, after.headers["x-cache"]) == ("call 2", "HIT")
    assert _route(cache)["coalesce_fell_through"] == 1


async def test_a_follower_that_gave_up_on_its_leader_revalidates_the_stale_entry(
    make_cache: MakeCache, clock: Clock
) -> None:
    # Both found the entry stale; the leader's revalidation hangs. The follower
    # that gave up revalidates too (section 4.3.1), not unconditionally.
    cache = make_cache(coalesce_timeout=0.05)
    origin = _Validating("max-age=10")
    origin.gate = gate = asyncio.Event()
    origin.gated = 2  # the leader's revalidation
    async with open_client(make_app(origin.router(cache))) as client:
        clock.now = CLOCK_START
        await client.get("/v")
        clock.now = CLOCK_START + 20
        leader = asyncio.ensure_future(client.get("/v"))
        await _set(origin.entered)
        followed = await client.get("/v")
        gate.set()
        led = await asyncio.wait_for(leader, DEADLINE)
    assert origin.asked == [None, '"v1"', '"v1"']
    assert [(r.status_code, r.text) for r in (led, followed)] == [(200, "v1"), (200, "v1")]


async def test_followers_on_the_native_store_answer_from_the_store() -> None:
    # The leader's offered entry is for a store that cannot answer (an outage);
    # with the in-process store up, followers find the entry there.
    cache = FastAPICache()
    router = caching_router()
    gate = asyncio.Event()
    entered = asyncio.Event()

    @cache(ttl=60)
    @router.get("/n")
    async def native() -> str:
        entered.set()
        await gate.wait()
        return "n"

    async with open_client(make_app(router)) as client:
        leader = asyncio.ensure_future(client.get("/n"))
        await _set(entered)
        followers = [asyncio.ensure_future(client.get("/n")) for _ in range(3)]
        await _until(lambda: _route(cache).get("coalesced", 0) == 3)
        gate.set()
        answers = await asyncio.wait_for(asyncio.gather(leader, *followers), DEADLINE)
    assert [r.headers["x-cache"] for r in answers] == ["MISS", "HIT", "HIT", "HIT"]
    assert _route(cache).get("coalesced_from_leader", 0) == 0
    assert cache.stats()["hits"] == 3


# --- backends of one's own: lookups in the route's namespace ------------------------------------


class _OwnSyncStore(DictBackend):
    """A backend of one's own (conftest's DictBackend) whose lookups never
    wait (``synchronous``: get_nowait)."""

    synchronous = True

    def get_nowait(self, key: str, namespace: str | None = None) -> StoredResponse | None:  # type: ignore[override]
        return self.entries.get((namespace, key))


class _NoHitPath(MemoryBackend):
    """The in-process store without its native hit path: a synchronous
    backend whose get_nowait takes the request's headers."""

    hit_path = None  # type: ignore[assignment]


def _entry(body: bytes, **timing: Any) -> StoredResponse:
    fields = ((b"content-type", b"text/plain; charset=utf-8"),)
    return StoredResponse(200, fields, body, "text/plain", **timing)


@pytest.mark.parametrize("backend_class", [DictBackend, _OwnSyncStore])
async def test_a_backend_of_ones_own_answers_in_the_routes_namespace(
    backend_class: type[DictBackend],
) -> None:
    backend = backend_class()
    # Another namespace's response under the same key is not this route's.
    backend.entries[(None, "GET /own")] = _entry(b"root namespace", stored_at=0.0)
    cache = FastAPICache(backend)
    router = caching_router()
    calls: list[int] = []

    @cache(ttl=60, namespace="mine")
    @router.get("/own")
    def own() -> Response:
        calls.append(1)
        return PlainTextResponse(f"call {len(calls)}")

    async with open_client(make_app(router)) as client:
        answers = [await client.get("/own") for _ in range(3)]
    assert [(r.text, r.headers["x-cache"]) for r in answers] == [
        ("call 1", "MISS"),
        ("call 1", "HIT"),
        ("call 1", "HIT"),
    ]
    assert set(backend.entries) == {(None, "GET /own"), ("mine", "GET /own")}


async def test_a_synchronous_backend_with_headers_answers_each_variant_in_its_namespace() -> None:
    # RFC 9111 section 4.1: the request's Vary fields select the stored
    # response; another namespace's entry under the key is not this route's.
    backend = _NoHitPath()
    await backend.set("GET /lang", _entry(b"root namespace"))
    cache = FastAPICache(backend)
    router = caching_router()
    calls: list[int] = []

    @cache(ttl=60, namespace="mine")
    @router.get("/lang")
    def lang(request: Request) -> Response:
        calls.append(1)
        language = request.headers.get("accept-language", "")
        return PlainTextResponse(f"{language} {len(calls)}", headers={"vary": "accept-language"})

    async with open_client(make_app(router)) as client:
        answers = [
            await client.get("/lang", headers={"accept-language": language})
            for language in ("en", "de", "en", "de")
        ]
    assert [(r.text, r.headers["x-cache"]) for r in answers] == [
        ("en 1", "MISS"),
        ("de 2", "MISS"),
        ("en 1", "HIT"),
        ("de 2", "HIT"),
    ]


# --- the reuse decision's edges (RFC 9211 Cache-Status, RFC 9111 4.3, RFC 5861 4) ------------


async def test_a_range_request_over_an_entry_that_cannot_answer_ranges_says_why(
    make_cache: MakeCache,
) -> None:
    # RFC 9111 section 3.4 / RFC 9110 section 14.2: only a complete 200 answers
    # a Range request; RFC 9211 section 2.2: it is forwarded, "detail=range".
    cache = make_cache(cache_status=True, accepted_status_codes=(200, 203))
    router = caching_router()

    @cache(ttl=60)
    @router.get("/partial")
    def partial() -> Response:
        return PlainTextResponse("not from the origin", status_code=203)

    async with open_client(make_app(router)) as client:
        await client.get("/partial")
        ranged = await client.get("/partial", headers={"range": "bytes=0-2"})
    assert ranged.status_code == 203
    assert ranged.headers.get_list("cache-status") == [f"{NAME}; fwd=miss; detail=range; stored"]


async def test_a_head_request_over_a_stale_entry_is_forwarded_as_stale(
    make_cache: MakeCache, clock: Clock
) -> None:
    # RFC 9211 section 2.2: fwd=stale, "the cache had a stale response"; a
    # HEAD has no body to store, so that is the whole member.
    cache = make_cache(cache_status=True)
    origin = _Validating("max-age=10")
    async with open_client(make_app(origin.router(cache))) as client:
        clock.now = CLOCK_START
        await client.get("/v")
        clock.now = CLOCK_START + 20
        head = await client.head("/v")
    assert head.headers.get_list("cache-status") == [f"{NAME}; fwd=stale"]
    assert len(origin.asked) == 2


@pytest.mark.parametrize(
    ("age", "cache_control", "forwarded"),
    [
        (20, "max-age=3600", "fwd=stale"),  # stale anyway: the directive changes nothing
        (8, "max-age=5", "fwd=request"),  # fresh, but older than the client accepts
    ],
)
async def test_a_request_with_directives_is_forwarded_because_of_them_only_when_they_decide(
    make_cache: MakeCache, clock: Clock, age: int, cache_control: str, forwarded: str
) -> None:
    # RFC 9211 section 2.2: fwd=request when forwarded "because of request
    # directives"; RFC 9111 section 5.2.1.1: max-age is the oldest it accepts.
    cache = make_cache(cache_status=True)
    origin = _Validating("max-age=10")
    router = origin.router(cache, honor_request_cache_control=True)
    async with open_client(make_app(router)) as client:
        clock.now = CLOCK_START
        await client.get("/v")
        clock.now = CLOCK_START + age
        answer = await client.get("/v", headers={"cache-control": cache_control})
    assert (answer.status_code, answer.text) == (200, "v1")
    assert answer.headers.get_list("cache-status") == [f"{NAME}; {forwarded}; fwd-status=304"]
    assert origin.asked == [None, '"v1"']


async def test_a_followers_stale_while_revalidate_answer_carries_only_its_own_member(
    make_cache: MakeCache,
) -> None:
    # RFC 9211 section 2: one member per cache. The follower's first lookup
    # missed; the entry its leader stored is stale on arrival (Age) but within
    # stale-while-revalidate (RFC 5861 section 3), and that answer is all it reports.
    cache = make_cache(cache_status=True)
    router = caching_router()
    gate = asyncio.Event()
    entered = asyncio.Event()
    calls: list[int] = []

    @cache()
    @router.get("/swr")
    async def swr() -> Response:
        calls.append(1)
        entered.set()
        await gate.wait()
        fields = {"cache-control": "max-age=10, stale-while-revalidate=600", "age": "20"}
        return PlainTextResponse(f"call {len(calls)}", headers=fields)

    async with open_client(make_app(router)) as client:
        leader = asyncio.ensure_future(client.get("/swr"))
        await _set(entered)
        follower = asyncio.ensure_future(client.get("/swr"))
        await _until(lambda: _route(cache).get("coalesced", 0) == 1)
        gate.set()
        led, followed = await asyncio.wait_for(asyncio.gather(leader, follower), DEADLINE)
        with anyio.fail_after(DEADLINE):
            assert await cache.wait_for_refreshes()
    assert led.headers.get_list("cache-status") == [f"{NAME}; fwd=uri-miss; stored"]
    assert (followed.text, followed.headers["x-cache"]) == ("call 1", "STALE")
    assert followed.headers.get_list("cache-status") == [f"{NAME}; fwd=stale"]


async def test_a_last_modified_at_the_epoch_alone_lets_a_no_cache_entry_be_revalidated(
    make_cache: MakeCache, clock: Clock
) -> None:
    # RFC 9111 section 4.3.1: Last-Modified is a validator, 1970-01-01 (0) too;
    # the no-cache entry (section 5.2.2.4) is revalidated with it, not dropped.
    # An entry without an ETag: written by hand (the route adds one to its own).
    cache = make_cache()
    fields = (
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"cache-control", b"no-cache"),
        (b"last-modified", EPOCH.encode()),
    )
    entry = StoredResponse(
        200, fields, b"stored", "text/plain", stored_at=CLOCK_START, last_modified=0,
        lifetime=60, revalidate=True,
    )  # fmt: skip
    await cache.backend.set("GET /e", entry, ttl=600)
    router = caching_router()
    asked: list[str | None] = []

    @cache()
    @router.get("/e")
    def epoch(request: Request) -> Response:
        asked.append(request.headers.get("if-modified-since"))
        if asked[-1] == EPOCH:
            return Response(status_code=304, headers={"last-modified": EPOCH})
        return PlainTextResponse("from the endpoint")

    async with open_client(make_app(router)) as client:
        answer = await client.get("/e")
    assert asked == [EPOCH]
    assert (answer.status_code, answer.text) == (200, "stored")


async def test_an_entry_without_validators_falls_back_only_inside_stale_if_error(
    make_cache: MakeCache, clock: Clock
) -> None:
    # RFC 5861 section 4: a stale entry "MAY be used" when the endpoint fails,
    # within stale-if-error; it cannot be revalidated (no validators), so past
    # that window it is of no use and the request is an ordinary miss.
    cache = make_cache(cache_status=True)
    entry = _entry(b"stored", stored_at=CLOCK_START, lifetime=10, stale_if_error=60)
    await cache.backend.set("GET /f", entry, ttl=600)
    router = caching_router()
    calls: list[int] = []

    @cache()
    @router.get("/f")
    def failing() -> Response:
        calls.append(1)
        return PlainTextResponse("down", status_code=500)

    async with open_client(make_app(router)) as client:
        clock.now = CLOCK_START + 20  # stale, inside stale-if-error
        inside = await client.get("/f")
        clock.now = CLOCK_START + 100  # past it
        outside = await client.get("/f")
    assert (inside.status_code, inside.text) == (200, "stored")
    assert inside.headers.get_list("cache-status") == [f"{NAME}; fwd=stale; detail=error"]
    assert (outside.status_code, outside.text) == (500, "down")
    # Forwarded because what was stored is stale; its 500 is not stored.
    assert outside.headers.get_list("cache-status") == [f"{NAME}; fwd=stale; detail=status"]
    assert len(calls) == 2


async def test_the_refresh_of_an_entry_only_the_shared_tier_holds_revalidates_it(
    redis_url: str, clock: Clock
) -> None:
    # RFC 5861 section 3: the background refresh revalidates the stale entry.
    # This worker's L1 is too small to keep it: the refresh finds it in Redis,
    # and asks with its ETag rather than as for a miss.
    backend = TieredBackend(
        RedisBackend.from_url(redis_url, timeout=5.0), l1=MemoryBackend(max_bytes=64, shards=1)
    )
    cache = FastAPICache(backend)
    origin = _Validating("max-age=10, stale-while-revalidate=600")
    try:
        async with open_client(make_app(origin.router(cache))) as client:
            clock.now = CLOCK_START
            await client.get("/v")
            clock.now = CLOCK_START + 20
            stale = await client.get("/v")
            with anyio.fail_after(DEADLINE):
                assert await cache.wait_for_refreshes()
    finally:
        await backend.close()
    assert backend.stats()["rejections"] > 0  # L1 never held it
    assert (stale.text, stale.headers["x-cache"]) == ("v1", "STALE")
    assert origin.asked == [None, '"v1"']
    assert _route(cache)["refreshes_succeeded"] == 1
